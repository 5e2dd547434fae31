// SAXPY validation kernel for the CUDA backend. Compiled to saxpy.ptx without the CUDA SDK:
//   clang-15 --cuda-device-only -S -nocudainc -nocudalib --cuda-gpu-arch=sm_50 -O2 \
//       -o saxpy.ptx saxpy.cu
// sm_50 PTX is JIT-compiled by the driver for any newer GPU. -nocudainc leaves out the CUDA
// headers, so the one qualifier and the thread-index registers are spelled out here.

#define __global__ __attribute__((global))

extern "C" __global__ void saxpy(float a, const float *x, float *y, unsigned n)
{
    unsigned i = __nvvm_read_ptx_sreg_ctaid_x() * __nvvm_read_ptx_sreg_ntid_x()
               + __nvvm_read_ptx_sreg_tid_x();
    if (i < n)
        y[i] = a * x[i] + y[i];
}
