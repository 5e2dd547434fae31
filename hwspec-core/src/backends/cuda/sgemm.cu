// SGEMM validation kernel for the CUDA backend: C = A x B for square row-major n x n matrices,
// one thread per element of C in 16 x 16 blocks, staged through shared-memory tiles.
// Compiled to sgemm.ptx without the CUDA SDK:
//   clang-15 --cuda-device-only -S -nocudainc -nocudalib --cuda-gpu-arch=sm_50 -O2 \
//       -o sgemm.ptx sgemm.cu
// -nocudainc leaves out the CUDA headers, so the qualifiers, the thread-index registers and
// the barrier are spelled out here.

#define __global__ __attribute__((global))
#define __shared__ __attribute__((shared))

#define __syncthreads() __nvvm_bar_sync(0)

#define TILE 16

extern "C" __global__ void sgemm(const float *a, const float *b, float *c, unsigned n)
{
    __shared__ float a_tile[TILE][TILE];
    __shared__ float b_tile[TILE][TILE];
    unsigned tx = __nvvm_read_ptx_sreg_tid_x();
    unsigned ty = __nvvm_read_ptx_sreg_tid_y();
    unsigned col = __nvvm_read_ptx_sreg_ctaid_x() * TILE + tx;
    unsigned row = __nvvm_read_ptx_sreg_ctaid_y() * TILE + ty;
    float sum = 0.0f;
    for (unsigned t = 0; t < n; t += TILE) {
        a_tile[ty][tx] = (row < n && t + tx < n) ? a[row * n + t + tx] : 0.0f;
        b_tile[ty][tx] = (t + ty < n && col < n) ? b[(t + ty) * n + col] : 0.0f;
        __syncthreads();
        for (unsigned k = 0; k < TILE; ++k)
            sum += a_tile[ty][k] * b_tile[k][tx];
        __syncthreads();
    }
    if (row < n && col < n)
        c[row * n + col] = sum;
}
