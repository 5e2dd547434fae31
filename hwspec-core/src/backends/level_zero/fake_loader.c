/* A stand-in for libze_loader.so.1, built by the tests with `cc` and put first on
 * LD_LIBRARY_PATH of a child test process. It exports the entry points hwspec resolves and
 * plays one driver with one GPU, so that enumeration, the structure layouts and every kernel
 * outcome can be checked on machines without Level Zero hardware. Structures are declared
 * with the field types of ze_api.h 1.8, so a C compiler lays them out as the real ones.
 *
 * Behaviour is chosen at compile time:
 *   INIT_RESULT=<n>        what zeInit returns (default 0, success)
 *   DRIVER_COUNT=<n>       drivers listed (default 1); driver i implements API 1.(3+i) and
 *                          only driver 0 has a device
 *   OMIT_KERNEL_CREATE     leave out zeKernelCreate
 *   NO_COMPUTE_GROUP       the device has a copy queue group only
 *   MODULE_BUILD_FAILS     zeModuleCreate fails with a build log
 *   WRONG_RESULT           the "device" adds one to every element
 *   SYNC_RESULT=<n>        what zeCommandQueueSynchronize returns (default 0)
 *
 * The "device" runs a launch on the host when its command list is executed, item by item as
 * the kernels' OpenCL C does, over exactly the groups the launch asked for.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef INIT_RESULT
#define INIT_RESULT 0
#endif
#ifndef DRIVER_COUNT
#define DRIVER_COUNT 1
#endif
#ifndef SYNC_RESULT
#define SYNC_RESULT 0
#endif

typedef uint32_t ze_result_t;
typedef void *handle;

#define OK 0u
#define ERROR_MODULE_BUILD_FAILURE 0x70000004u
#define ERROR_INVALID_ARGUMENT 0x78000004u
#define ERROR_INVALID_NATIVE_BINARY 0x7800000fu
#define ERROR_INVALID_KERNEL_NAME 0x78000011u

typedef struct { uint32_t stype; void *pNext; uint8_t uuid[16]; uint32_t driverVersion; } driver_props;
typedef struct {
    uint32_t stype; void *pNext; uint32_t type, vendorId, deviceId, flags, subdeviceId,
    coreClockRate; uint64_t maxMemAllocSize; uint32_t maxHardwareContexts,
    maxCommandQueuePriority, numThreadsPerEU, physicalEUSimdWidth, numEUsPerSubslice,
    numSubslicesPerSlice, numSlices; uint64_t timerResolution; uint32_t timestampValidBits,
    kernelTimestampValidBits; uint8_t uuid[16]; char name[256];
} device_props;
typedef struct {
    uint32_t stype; void *pNext; uint32_t flags, maxClockRate, maxBusWidth; uint64_t totalSize;
    char name[256];
} memory_props;
typedef struct { uint32_t stype; void *pNext; uint32_t flags; size_t maxMemoryFillPatternSize; uint32_t numQueues; } queue_group_props;
typedef struct {
    uint32_t stype; const void *pNext; uint32_t format; size_t inputSize;
    const uint8_t *pInputModule; const char *pBuildFlags; const void *pConstants;
} module_desc;
typedef struct { uint32_t stype; const void *pNext; uint32_t flags; const char *pKernelName; } kernel_desc;
typedef struct { uint32_t x, y, z; } group_count;

static int driver_token[DRIVER_COUNT > 0 ? DRIVER_COUNT : 1];
static int device_token, context_token, queue_token, log_token;
#ifndef MODULE_BUILD_FAILS
static int module_token;
#endif

/* The one kernel object, and the launch recorded in the one command list. */
static struct {
    int is_sgemm;
    uint64_t args[4];
    uint32_t group[3];
} kernel;
static struct {
    int recorded;
    uint64_t args[4];
    int is_sgemm;
    uint32_t items[3];
} launch;

ze_result_t zeInit(uint32_t flags) { (void)flags; return INIT_RESULT; }

ze_result_t zeDriverGet(uint32_t *count, handle *drivers) {
    if (drivers == NULL || *count > DRIVER_COUNT) *count = DRIVER_COUNT;
    for (uint32_t i = 0; drivers != NULL && i < *count; ++i) drivers[i] = &driver_token[i];
    return OK;
}

static int driver_index(handle driver) { return (int)((int *)driver - driver_token); }

ze_result_t zeDriverGetApiVersion(handle driver, uint32_t *version) {
    *version = (1u << 16) | (uint32_t)(3 + driver_index(driver));
    return OK;
}

ze_result_t zeDriverGetProperties(handle driver, driver_props *p) {
    (void)driver;
    if (p->stype != 0x1) return ERROR_INVALID_ARGUMENT;
    for (int i = 0; i < 16; ++i) p->uuid[i] = (uint8_t)(0xa0 + i);
    p->driverVersion = 16909060; /* 0x01020304 */
    return OK;
}

ze_result_t zeDeviceGet(handle driver, uint32_t *count, handle *devices) {
    uint32_t available = driver_index(driver) == 0 ? 1 : 0;
    if (devices == NULL || *count > available) *count = available;
    if (devices != NULL && *count > 0) devices[0] = &device_token;
    return OK;
}

ze_result_t zeDeviceGetProperties(handle device, device_props *p) {
    (void)device;
    if (p->stype != 0x3) return ERROR_INVALID_ARGUMENT;
    p->type = 1; /* GPU */
    p->vendorId = 0x8086;
    p->deviceId = 0x56a0;
    p->flags = 0;
    p->coreClockRate = 2400;
    p->maxMemAllocSize = 4294959104u;
    p->numThreadsPerEU = 8;
    p->physicalEUSimdWidth = 8;
    p->numEUsPerSubslice = 16;
    p->numSubslicesPerSlice = 32;
    p->numSlices = 1;
    p->timerResolution = 1000000000u;
    for (int i = 0; i < 16; ++i) p->uuid[i] = (uint8_t)i;
    strcpy(p->name, "hwspec fake GPU");
    return OK;
}

ze_result_t zeDeviceGetMemoryProperties(handle device, uint32_t *count, memory_props *p) {
    (void)device;
    if (p == NULL || *count > 2) *count = 2;
    for (uint32_t i = 0; p != NULL && i < *count; ++i) {
        if (p[i].stype != 0x7) return ERROR_INVALID_ARGUMENT;
        p[i].totalSize = (uint64_t)(i + 1) << 30;
        strcpy(p[i].name, i == 0 ? "HBM" : "HBM2");
    }
    return OK;
}

ze_result_t zeDeviceGetCommandQueueGroupProperties(handle device, uint32_t *count,
                                                   queue_group_props *p) {
    (void)device;
    if (p == NULL || *count > 2) *count = 2;
    for (uint32_t i = 0; p != NULL && i < *count; ++i) {
        if (p[i].stype != 0x6) return ERROR_INVALID_ARGUMENT;
        /* Group 0 copies only; group 1 computes, unless NO_COMPUTE_GROUP. */
#ifdef NO_COMPUTE_GROUP
        p[i].flags = 2;
#else
        p[i].flags = i == 1 ? 3 : 2;
#endif
        p[i].numQueues = 1;
    }
    return OK;
}

ze_result_t zeContextCreate(handle driver, const void *desc, handle *context) {
    (void)driver; (void)desc;
    *context = &context_token;
    return OK;
}
ze_result_t zeContextDestroy(handle context) { (void)context; return OK; }

ze_result_t zeCommandQueueCreate(handle context, handle device, const uint32_t *desc,
                                 handle *queue) {
    (void)context; (void)device;
    /* desc: stype, pad, pNext, ordinal, index, flags, mode. Only the compute group 1 runs
     * kernels, and only an asynchronous queue is accepted. */
    const uint32_t *fields = (const uint32_t *)((const char *)desc + 16);
    if (desc[0] != 0xe || fields[0] != 1 || fields[3] != 2) return ERROR_INVALID_ARGUMENT;
    *queue = &queue_token;
    return OK;
}
ze_result_t zeCommandQueueDestroy(handle queue) { (void)queue; return OK; }

static void run_launch(void) {
    float *x, *y, *a, *b, *c;
    float alpha;
    uint32_t n = (uint32_t)launch.args[3];
    if (!launch.is_sgemm) {
        memcpy(&alpha, &launch.args[0], sizeof alpha);
        memcpy(&x, &launch.args[1], sizeof x);
        memcpy(&y, &launch.args[2], sizeof y);
        for (size_t i = 0; i < launch.items[0]; ++i) {
            if (i < n) {
                y[i] = alpha * x[i] + y[i];
#ifdef WRONG_RESULT
                y[i] += 1.0f;
#endif
            }
        }
        return;
    }
    memcpy(&a, &launch.args[0], sizeof a);
    memcpy(&b, &launch.args[1], sizeof b);
    memcpy(&c, &launch.args[2], sizeof c);
    for (size_t row = 0; row < launch.items[1]; ++row) {
        for (size_t col = 0; col < launch.items[0]; ++col) {
            if (row < n && col < n) {
                float sum = 0.0f;
                for (uint32_t k = 0; k < n; ++k) sum += a[row * n + k] * b[k * n + col];
                c[row * n + col] = sum;
            }
        }
    }
}

ze_result_t zeCommandQueueExecuteCommandLists(handle queue, uint32_t count, handle *lists,
                                              handle fence) {
    (void)queue; (void)lists; (void)fence;
    if (count != 1 || !launch.recorded) return ERROR_INVALID_ARGUMENT;
    run_launch();
    return OK;
}

ze_result_t zeCommandQueueSynchronize(handle queue, uint64_t timeout) {
    (void)queue;
    /* hwspec must bound its wait: an infinite timeout is refused. */
    return timeout == UINT64_MAX ? ERROR_INVALID_ARGUMENT : SYNC_RESULT;
}

ze_result_t zeCommandListCreate(handle context, handle device, const void *desc, handle *list) {
    (void)context; (void)device; (void)desc;
    launch.recorded = 0;
    *list = &launch;
    return OK;
}
ze_result_t zeCommandListDestroy(handle list) { (void)list; return OK; }
ze_result_t zeCommandListClose(handle list) { (void)list; return OK; }

ze_result_t zeCommandListAppendLaunchKernel(handle list, handle k, const group_count *groups,
                                            handle signal, uint32_t waits, handle *wait) {
    (void)list; (void)k; (void)signal; (void)waits; (void)wait;
    memcpy(launch.args, kernel.args, sizeof launch.args);
    launch.is_sgemm = kernel.is_sgemm;
    launch.items[0] = groups->x * kernel.group[0];
    launch.items[1] = groups->y * kernel.group[1];
    launch.items[2] = groups->z * kernel.group[2];
    launch.recorded = 1;
    return OK;
}

ze_result_t zeModuleCreate(handle context, handle device, const module_desc *desc,
                           handle *module, handle *log) {
    (void)context; (void)device;
    if (log != NULL) *log = &log_token;
    if (desc->stype != 0x1b || desc->format != 0) return ERROR_INVALID_ARGUMENT;
    uint32_t magic = 0;
    if (desc->inputSize >= 4) memcpy(&magic, desc->pInputModule, 4);
    if (magic != 0x07230203u) return ERROR_INVALID_NATIVE_BINARY;
#ifdef MODULE_BUILD_FAILS
    return ERROR_MODULE_BUILD_FAILURE;
#else
    *module = &module_token;
    return OK;
#endif
}
ze_result_t zeModuleDestroy(handle module) { (void)module; return OK; }

static const char build_log[] = "fake: no compiler for this device\nsecond line\n";

ze_result_t zeModuleBuildLogGetString(handle log, size_t *size, char *text) {
    (void)log;
    if (text == NULL) {
        *size = sizeof build_log;
        return OK;
    }
    if (*size < sizeof build_log) return ERROR_INVALID_ARGUMENT;
    memcpy(text, build_log, sizeof build_log);
    return OK;
}
ze_result_t zeModuleBuildLogDestroy(handle log) { (void)log; return OK; }

#ifndef OMIT_KERNEL_CREATE
ze_result_t zeKernelCreate(handle module, const kernel_desc *desc, handle *k) {
    (void)module;
    if (strcmp(desc->pKernelName, "saxpy") == 0) kernel.is_sgemm = 0;
    else if (strcmp(desc->pKernelName, "sgemm") == 0) kernel.is_sgemm = 1;
    else return ERROR_INVALID_KERNEL_NAME;
    *k = &kernel;
    return OK;
}
#endif
ze_result_t zeKernelDestroy(handle k) { (void)k; return OK; }

ze_result_t zeKernelSuggestGroupSize(handle k, uint32_t gx, uint32_t gy, uint32_t gz,
                                     uint32_t *x, uint32_t *y, uint32_t *z) {
    (void)k; (void)gz;
    /* Sizes that do not divide the problem, so that rounding up is exercised. */
    *x = gx > 48 ? 48 : 1;
    *y = gy > 1 ? 5 : 1;
    *z = 1;
    return OK;
}

ze_result_t zeKernelSetGroupSize(handle k, uint32_t x, uint32_t y, uint32_t z) {
    (void)k;
    kernel.group[0] = x; kernel.group[1] = y; kernel.group[2] = z;
    return OK;
}

ze_result_t zeKernelSetArgumentValue(handle k, uint32_t index, size_t size, const void *value) {
    (void)k;
    /* saxpy: float, pointer, pointer, uint; sgemm: pointer x3, uint. */
    size_t want = index == 3 ? 4 : (index == 0 && !kernel.is_sgemm ? 4 : sizeof(void *));
    if (index > 3 || size != want) return ERROR_INVALID_ARGUMENT;
    kernel.args[index] = 0;
    memcpy(&kernel.args[index], value, size);
    return OK;
}

ze_result_t zeMemAllocShared(handle context, const void *device_desc, const void *host_desc,
                             size_t size, size_t alignment, handle device, void **ptr) {
    (void)context; (void)device_desc; (void)host_desc; (void)device;
    *ptr = aligned_alloc(alignment < 64 ? 64 : alignment, (size + 63) / 64 * 64);
    return *ptr != NULL ? OK : 0x70000002u;
}

ze_result_t zeMemFree(handle context, void *ptr) {
    (void)context;
    free(ptr);
    return OK;
}
