/* hwspec's GCC offload validation: SAXPY in an OpenMP target region, with the inputs of
 * hwspec-core/src/kernels.rs (multiples of 1/4, so every result and the checksum are exact).
 * The region counts the iterations that ran on the host (omp_is_initial_device), because
 * libgomp may fall back to the host silently, even under OMP_TARGET_OFFLOAD=MANDATORY when no
 * device is found at all (GCC 12). The host compares each element with its own reference.
 * HWSPEC_N is given with -D. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

static float quarter(long i) { return (float)i * 0.25f; }

int main(void) {
    const long n = HWSPEC_N;
    const float a = 2.5f;
    float *x = malloc(n * sizeof *x);
    float *y = malloc(n * sizeof *y);
    if (x == NULL || y == NULL) {
        fputs("hwspec: out of host memory\n", stderr);
        return 2;
    }
    for (long i = 0; i < n; i++) {
        x[i] = quarter(i % 251);
        y[i] = quarter((i * 7) % 127) - 8.0f;
    }
    int devices = omp_get_num_devices();
    long host_iterations = 0;
    double start = omp_get_wtime();
#pragma omp target teams distribute parallel for map(to: x[0:n]) map(tofrom: y[0:n]) \
    reduction(+: host_iterations)
    for (long i = 0; i < n; i++) {
        host_iterations += omp_is_initial_device();
        y[i] = a * x[i] + y[i];
    }
    double elapsed_ms = (omp_get_wtime() - start) * 1e3;
    double checksum = 0.0, max_abs_error = 0.0;
    for (long i = 0; i < n; i++) {
        double want = (double)a * quarter(i % 251) + (quarter((i * 7) % 127) - 8.0f);
        double error = want > y[i] ? want - y[i] : y[i] - want;
        if (error != error) /* NaN */
            error = 1.0 / 0.0;
        if (error > max_abs_error)
            max_abs_error = error;
        checksum += y[i];
    }
    printf("hwspec-gcc-offload devices=%d host_iterations=%ld elements=%ld checksum=%.3f "
           "max_abs_error=%.9g elapsed_ms=%.6f\n",
           devices, host_iterations, n, checksum, max_abs_error, elapsed_ms);
    free(x);
    free(y);
    return 0;
}
