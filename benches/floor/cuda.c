/* The CUDA floor: what hwspec's CUDA worker must do. Open libcuda (the soname, then WSL's copy),
 * cuInit, count the devices and, at standard, on each: a context, the committed saxpy.ptx loaded
 * (the driver JIT-compiles it and keeps it in CUDA_CACHE_PATH), SAXPY over 2^20 elements in
 * blocks of 256, read back, every element checked. Without libcuda or a device it stops where
 * hwspec stops: absent. */
#include "floor.h"

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

/* hwspec-core/src/backends/cuda/saxpy.ptx, built into this program by assets.S, NUL-terminated. */
extern const char floor_saxpy_ptx[];

#define CUDA_ERROR_NO_DEVICE 100
#define BLOCK 256u

static struct {
    CUresult (*init)(unsigned);
    CUresult (*device_count)(int *);
    CUresult (*device_get)(CUdevice *, int);
    CUresult (*device_name)(char *, int, CUdevice);
    CUresult (*context_create)(void **, unsigned, CUdevice);
    CUresult (*module_load)(void **, const void *, unsigned, int *, void **);
    CUresult (*function)(void **, void *, const char *);
    CUresult (*alloc)(CUdeviceptr *, size_t);
    CUresult (*to_device)(CUdeviceptr, const void *, size_t);
    CUresult (*launch)(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                       unsigned, void *, void **, void **);
    CUresult (*synchronize)(void);
    CUresult (*to_host)(void *, CUdeviceptr, size_t);
} cu;

#define CHECK(call)                                                                             \
    do {                                                                                        \
        CUresult result_ = (call);                                                              \
        if (result_ != 0)                                                                       \
            floor_answer("cuda", "failed", "%s returned %d", #call, result_);                   \
    } while (0)

static void validate(CUdevice device, float *x, float *y)
{
    void *context, *module, *function;
    CHECK(cu.context_create(&context, 0, device));
    CHECK(cu.module_load(&module, floor_saxpy_ptx, 0, NULL, NULL));
    CHECK(cu.function(&function, module, "saxpy"));
    CUdeviceptr dx, dy;
    CHECK(cu.alloc(&dx, SAXPY_N * sizeof(float)));
    CHECK(cu.alloc(&dy, SAXPY_N * sizeof(float)));
    saxpy_fill(x, y, SAXPY_N);
    CHECK(cu.to_device(dx, x, SAXPY_N * sizeof(float)));
    CHECK(cu.to_device(dy, y, SAXPY_N * sizeof(float)));
    float a = SAXPY_A;
    unsigned n = (unsigned)SAXPY_N;
    void *params[] = {&a, &dx, &dy, &n};
    CHECK(cu.launch(function, (n + BLOCK - 1) / BLOCK, 1, 1, BLOCK, 1, 1, 0, NULL, params, NULL));
    CHECK(cu.synchronize());
    CHECK(cu.to_host(y, dy, SAXPY_N * sizeof(float)));
    size_t wrong = saxpy_wrong(y, SAXPY_N);
    if (wrong)
        floor_answer("cuda", "failed", "wrong-result: %zu of %zu elements differ", wrong, SAXPY_N);
}

int main(int argc, char **argv)
{
    enum level level = floor_level(argc, argv, "cuda");
    static const char *const names[] = {"libcuda.so.1", "/usr/lib/wsl/lib/libcuda.so.1", NULL};
    void *library = floor_load("cuda", names);
#define CU_FN(field, name) cu.field = (__typeof__(cu.field))floor_symbol(library, name, "cuda")
    CU_FN(init, "cuInit");
    CU_FN(device_count, "cuDeviceGetCount");
    CU_FN(device_get, "cuDeviceGet");
    CU_FN(device_name, "cuDeviceGetName");
    CU_FN(context_create, "cuCtxCreate_v2");
    CU_FN(module_load, "cuModuleLoadDataEx");
    CU_FN(function, "cuModuleGetFunction");
    CU_FN(alloc, "cuMemAlloc_v2");
    CU_FN(to_device, "cuMemcpyHtoD_v2");
    CU_FN(launch, "cuLaunchKernel");
    CU_FN(synchronize, "cuCtxSynchronize");
    CU_FN(to_host, "cuMemcpyDtoH_v2");
    CUresult init = cu.init(0);
    if (init == CUDA_ERROR_NO_DEVICE)
        floor_answer("cuda", "absent", "no-device: cuInit returned %d", init);
    if (init != 0)
        floor_answer("cuda", "unusable", "cuInit returned %d", init);
    int count = 0;
    CHECK(cu.device_count(&count));
    if (count <= 0)
        floor_answer("cuda", "absent", "no-device: cuDeviceGetCount reports %d", count);

    float *x = NULL, *y = NULL;
    if (level == LEVEL_STANDARD) {
        x = malloc(SAXPY_N * sizeof *x);
        y = malloc(SAXPY_N * sizeof *y);
        if (!x || !y)
            floor_answer("cuda", "failed", "out of memory");
    }
    char summary[4096] = "";
    for (int d = 0; d < count; d++) {
        CUdevice device;
        char name[256] = "";
        CHECK(cu.device_get(&device, d));
        CHECK(cu.device_name(name, sizeof name, device));
        if (level == LEVEL_STANDARD)
            validate(device, x, y);
        size_t used = strlen(summary);
        snprintf(summary + used, sizeof summary - used, "%s%s", used ? "; " : "", name);
    }
    if (level == LEVEL_QUICK)
        floor_answer("cuda", "enumerated", "%d device(s): %s", count, summary);
    floor_answer("cuda", "validated", "%d device(s): %s: saxpy exact", count, summary);
}
