// y = a * x + y over n elements. The bounds check lets the driver round the global size up
// and is what makes launching this kernel memory-safe on the host side (see validate.rs).
__kernel void saxpy(const float a, __global const float *x, __global float *y, const uint n)
{
    size_t i = get_global_id(0);
    if (i < n) {
        y[i] = a * x[i] + y[i];
    }
}
