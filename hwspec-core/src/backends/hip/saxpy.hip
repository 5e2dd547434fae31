// y = a * x + y over n elements, one thread per element. The bounds check lets the grid be
// rounded up to whole blocks and is what makes the launch memory-safe (see validate.rs).
extern "C" __global__ void saxpy(float a, const float *x, float *y, unsigned int n)
{
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        y[i] = a * x[i] + y[i];
    }
}
