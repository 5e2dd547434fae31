// y = a * x + y over n elements. The bounds check lets the host round the global size up to
// whole work groups and is what makes the launch in validate.rs memory-safe.
// Compiled to saxpy.spv with:
//   clang-15 -cl-std=CL1.2 -target spir64 -O2 -c -emit-llvm -o saxpy.bc saxpy.cl
//   llvm-spirv-15 saxpy.bc -o saxpy.spv
__kernel void saxpy(float a, __global const float *x, __global float *y, uint n)
{
    size_t i = get_global_id(0);
    if (i < n) {
        y[i] = a * x[i] + y[i];
    }
}
