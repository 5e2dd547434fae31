// C = A x B for square row-major n x n matrices, one thread per element of C in 16 x 16
// blocks. Naive on purpose: it checks arithmetic and 2-D indexing, not speed. The bounds check
// keeps every access inside the n * n buffers when the grid is rounded up (see validate.rs).
extern "C" __global__ void sgemm(const float *a, const float *b, float *c, unsigned int n)
{
    unsigned int row = blockIdx.y * blockDim.y + threadIdx.y;
    unsigned int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (row < n && col < n) {
        float sum = 0.0f;
        for (unsigned int k = 0; k < n; ++k) {
            sum += a[row * n + k] * b[k * n + col];
        }
        c[row * n + col] = sum;
    }
}
