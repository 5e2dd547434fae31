/*
 * A stand-in for libcuda, for tests on machines without an NVIDIA driver. It exports the entry
 * points the probe resolves, with behaviour chosen at run time:
 *   HWSPEC_FAKE_CUINIT=N     cuInit returns N (default 0)
 *   HWSPEC_FAKE_JIT_FAIL=1   cuModuleLoadDataEx fails with 218 and a JIT log
 *   HWSPEC_FAKE_WRONG=1      kernels add 1 to their first output element
 * With cuInit succeeding it offers one "device" whose kernels run on the CPU, so the probe's
 * whole path can be exercised; it proves nothing about CUDA itself. Built without cuInit when
 * OMIT_CUINIT is defined.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef uint64_t CUdeviceptr;

static int env_int(const char *name)
{
    const char *value = getenv(name);
    return value ? atoi(value) : 0;
}

#ifndef OMIT_CUINIT
CUresult cuInit(unsigned flags) { (void)flags; return env_int("HWSPEC_FAKE_CUINIT"); }
#endif

CUresult cuDriverGetVersion(int *version) { *version = 12080; return 0; }

CUresult cuGetErrorName(CUresult code, const char **name)
{
    switch (code) {
    case 34: *name = "CUDA_ERROR_STUB_LIBRARY"; return 0;
    case 100: *name = "CUDA_ERROR_NO_DEVICE"; return 0;
    case 218: *name = "CUDA_ERROR_INVALID_PTX"; return 0;
    case 803: *name = "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH"; return 0;
    case 999: *name = "CUDA_ERROR_UNKNOWN"; return 0;
    default: *name = 0; return 1;
    }
}

CUresult cuDeviceGetCount(int *count) { *count = 1; return 0; }
CUresult cuDeviceGet(CUdevice *device, int ordinal) { *device = ordinal; return ordinal == 0 ? 0 : 101; }

CUresult cuDeviceGetName(char *name, int len, CUdevice device)
{
    (void)device;
    strncpy(name, "Fake CUDA Device", (size_t)len);
    name[len - 1] = 0;
    return 0;
}

CUresult cuDeviceGetUuid(unsigned char *uuid, CUdevice device)
{
    (void)device;
    for (int i = 0; i < 16; i++)
        uuid[i] = (unsigned char)(i * 17);
    return 0;
}

CUresult cuDeviceGetAttribute(int *value, int attribute, CUdevice device)
{
    (void)device;
    switch (attribute) {
    case 16: *value = 7; return 0;  /* CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT */
    case 75: *value = 9; return 0;  /* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR */
    case 76: *value = 0; return 0;  /* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR */
    default: return 1;
    }
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice device) { (void)device; *bytes = (size_t)3 << 30; return 0; }

CUresult cuDeviceGetPCIBusId(char *id, int len, CUdevice device)
{
    (void)device;
    strncpy(id, "0000:17:00.0", (size_t)len);
    id[len - 1] = 0;
    return 0;
}

static int contexts;
CUresult cuCtxCreate_v2(void **context, unsigned flags, CUdevice device) { (void)flags; (void)device; contexts++; *context = &contexts; return 0; }
CUresult cuCtxDestroy_v2(void *context) { (void)context; contexts--; return 0; }
CUresult cuCtxSynchronize(void) { return 0; }

static int saxpy_function = 1, sgemm_function = 2;

CUresult cuModuleLoadDataEx(void **module, const void *image, unsigned count, int *options, void **values)
{
    const char *ptx = image;
    if (env_int("HWSPEC_FAKE_JIT_FAIL") || !strstr(ptx, ".target sm_50")) {
        for (unsigned i = 0; i < count; i++)
            if (options[i] == 5) /* CU_JIT_ERROR_LOG_BUFFER */
                strcpy(values[i], "ptxas fatal   : fake JIT failure");
        return 218;
    }
    *module = (void *)ptx;
    return 0;
}

CUresult cuModuleUnload(void *module) { (void)module; return 0; }

CUresult cuModuleGetFunction(void **function, void *module, const char *name)
{
    char entry[64];
    snprintf(entry, sizeof entry, ".entry %s(", name);
    if (!strstr(module, entry))
        return 500; /* CUDA_ERROR_NOT_FOUND */
    *function = strcmp(name, "saxpy") == 0 ? (void *)&saxpy_function : (void *)&sgemm_function;
    return 0;
}

CUresult cuMemAlloc_v2(CUdeviceptr *ptr, size_t bytes) { *ptr = (CUdeviceptr)(uintptr_t)malloc(bytes); return *ptr ? 0 : 2; }
CUresult cuMemFree_v2(CUdeviceptr ptr) { free((void *)(uintptr_t)ptr); return 0; }
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) { memcpy((void *)(uintptr_t)dst, src, bytes); return 0; }
CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes) { memcpy(dst, (void *)(uintptr_t)src, bytes); return 0; }

CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                        unsigned bz, unsigned shared, void *stream, void **params, void **extra)
{
    (void)gz; (void)bz; (void)shared; (void)stream; (void)extra;
    float *out;
    if (function == &saxpy_function) {
        float a = *(float *)params[0];
        float *x = (float *)(uintptr_t)*(CUdeviceptr *)params[1];
        float *y = (float *)(uintptr_t)*(CUdeviceptr *)params[2];
        unsigned n = *(unsigned *)params[3];
        for (unsigned i = 0; i < n && i < gx * bx; i++)
            y[i] = a * x[i] + y[i];
        out = y;
    } else {
        float *a = (float *)(uintptr_t)*(CUdeviceptr *)params[0];
        float *b = (float *)(uintptr_t)*(CUdeviceptr *)params[1];
        float *c = (float *)(uintptr_t)*(CUdeviceptr *)params[2];
        unsigned n = *(unsigned *)params[3];
        for (unsigned row = 0; row < n && row < gy * by; row++)
            for (unsigned col = 0; col < n && col < gx * bx; col++) {
                float sum = 0;
                for (unsigned k = 0; k < n; k++)
                    sum += a[row * n + k] * b[k * n + col];
                c[row * n + col] = sum;
            }
        out = c;
    }
    if (env_int("HWSPEC_FAKE_WRONG"))
        out[0] += 1.0f;
    return 0;
}
