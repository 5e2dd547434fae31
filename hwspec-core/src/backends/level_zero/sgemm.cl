// C = A x B for square row-major n x n matrices, one work item per element of C. Naive on
// purpose: it checks arithmetic and 2-D indexing, not speed. The bounds check keeps every
// access inside the n * n allocations whatever whole number of work groups covers them.
// Compiled to sgemm.spv as saxpy.cl is (see there).
__kernel void sgemm(__global const float *a, __global const float *b, __global float *c, uint n)
{
    size_t row = get_global_id(1);
    size_t col = get_global_id(0);
    if (row < n && col < n) {
        float sum = 0.0f;
        for (uint k = 0; k < n; ++k) {
            sum += a[row * n + k] * b[k * n + col];
        }
        c[row * n + col] = sum;
    }
}
