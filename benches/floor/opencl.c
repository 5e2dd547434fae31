/* The OpenCL floor: what hwspec's OpenCL worker must do. Load the ICD loader, list every device
 * of every platform with the facts the capabilities need (name, type, version, fp64), and at
 * standard, on each device: build hwspec's saxpy.cl from the program binary cached on the first
 * run (clCreateProgramWithBinary, as hwspec caches it), run SAXPY on buffers the host fills and
 * reads in place (mapped, no copies), and check every element. */
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <CL/cl_ext.h>

#include "floor.h"

/* hwspec's kernel source, built into this program by assets.S, NUL-terminated. */
extern const char floor_saxpy_cl[];
extern const char floor_saxpy_cl_end[];

/* Entry points, resolved at run time: the prototypes of CL/cl.h give the types only. */
static struct {
    __typeof__(&clGetPlatformIDs) get_platform_ids;
    __typeof__(&clGetPlatformInfo) get_platform_info;
    __typeof__(&clGetDeviceIDs) get_device_ids;
    __typeof__(&clGetDeviceInfo) get_device_info;
    __typeof__(&clCreateContext) create_context;
    __typeof__(&clCreateCommandQueueWithProperties) create_queue;
    __typeof__(&clCreateProgramWithSource) program_with_source;
    __typeof__(&clCreateProgramWithBinary) program_with_binary;
    __typeof__(&clBuildProgram) build_program;
    __typeof__(&clGetProgramInfo) get_program_info;
    __typeof__(&clCreateKernel) create_kernel;
    __typeof__(&clSetKernelArg) set_kernel_arg;
    __typeof__(&clCreateBuffer) create_buffer;
    __typeof__(&clEnqueueMapBuffer) map_buffer;
    __typeof__(&clEnqueueUnmapMemObject) unmap;
    __typeof__(&clEnqueueNDRangeKernel) launch;
    __typeof__(&clFinish) finish;
} cl;

#define FAIL(what, code) floor_answer("opencl", "failed", "%s returned %d", what, (int)(code))

/* The program for `device`: from the cached binary when there is one the driver accepts, else
 * from source, whose binary is then cached. `*cached` says which. */
static cl_program program_for(cl_context context, cl_device_id device, const char *key_parts[],
                              int *cached)
{
    cl_int error;
    char dir[4096], path[4200];
    int have_dir = floor_cache_dir(dir, sizeof dir) == 0;
    uint64_t key = floor_hash(key_parts);
    if (have_dir)
        snprintf(path, sizeof path, "%s/opencl/program-%016llx.bin", dir, (unsigned long long)key);
    unsigned char *binary = NULL;
    long size = have_dir ? floor_read_file(path, &binary) : -1;
    if (size > 0) {
        size_t length = (size_t)size;
        const unsigned char *binaries[] = {binary};
        cl_int status;
        cl_program program =
            cl.program_with_binary(context, 1, &device, &length, binaries, &status, &error);
        free(binary);
        if (program && error == CL_SUCCESS &&
            cl.build_program(program, 1, &device, "", NULL, NULL) == CL_SUCCESS) {
            *cached = 1;
            return program;
        }
        unlink(path);
    }
    *cached = 0;
    const char *source = floor_saxpy_cl;
    size_t length = (size_t)(floor_saxpy_cl_end - floor_saxpy_cl);
    cl_program program = cl.program_with_source(context, 1, &source, &length, &error);
    if (!program)
        FAIL("clCreateProgramWithSource", error);
    if ((error = cl.build_program(program, 1, &device, "", NULL, NULL)) != CL_SUCCESS)
        FAIL("clBuildProgram", error);
    size_t binary_size = 0;
    if (have_dir &&
        cl.get_program_info(program, CL_PROGRAM_BINARY_SIZES, sizeof binary_size, &binary_size,
                            NULL) == CL_SUCCESS &&
        binary_size > 0 && binary_size <= (64u << 20)) {
        unsigned char *built = malloc(binary_size);
        unsigned char *binaries[] = {built};
        if (built &&
            cl.get_program_info(program, CL_PROGRAM_BINARIES, sizeof binaries, binaries, NULL) ==
                CL_SUCCESS) {
            char parent[4200];
            snprintf(parent, sizeof parent, "%s/opencl", dir);
            if (floor_mkdirs(parent) == 0)
                floor_write_file(path, built, binary_size);
        }
        free(built);
    }
    return program;
}

static float *map(cl_command_queue queue, cl_mem buffer, cl_map_flags flags)
{
    cl_int error;
    float *p = cl.map_buffer(queue, buffer, CL_TRUE, flags, 0, SAXPY_N * sizeof(float), 0, NULL,
                             NULL, &error);
    if (!p)
        FAIL("clEnqueueMapBuffer", error);
    return p;
}

/* Runs SAXPY on `device`; returns whether the program came from the cached binary. */
static int validate(cl_device_id device, const char *key_parts[])
{
    cl_int error;
    cl_context context = cl.create_context(NULL, 1, &device, NULL, NULL, &error);
    if (!context)
        FAIL("clCreateContext", error);
    cl_command_queue queue = cl.create_queue(context, device, NULL, &error);
    if (!queue)
        FAIL("clCreateCommandQueueWithProperties", error);
    int cached;
    cl_program program = program_for(context, device, key_parts, &cached);
    cl_kernel kernel = cl.create_kernel(program, "saxpy", &error);
    if (!kernel)
        FAIL("clCreateKernel", error);
    cl_mem_flags flags = CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR;
    cl_mem x = cl.create_buffer(context, flags, SAXPY_N * sizeof(float), NULL, &error);
    cl_mem y = x ? cl.create_buffer(context, flags, SAXPY_N * sizeof(float), NULL, &error) : NULL;
    if (!x || !y)
        FAIL("clCreateBuffer", error);
    float *hx = map(queue, x, CL_MAP_WRITE_INVALIDATE_REGION);
    float *hy = map(queue, y, CL_MAP_WRITE_INVALIDATE_REGION);
    saxpy_fill(hx, hy, SAXPY_N);
    cl.unmap(queue, x, hx, 0, NULL, NULL);
    cl.unmap(queue, y, hy, 0, NULL, NULL);
    float a = SAXPY_A;
    cl_uint n = (cl_uint)SAXPY_N;
    if (cl.set_kernel_arg(kernel, 0, sizeof a, &a) || cl.set_kernel_arg(kernel, 1, sizeof x, &x) ||
        cl.set_kernel_arg(kernel, 2, sizeof y, &y) || cl.set_kernel_arg(kernel, 3, sizeof n, &n))
        FAIL("clSetKernelArg", -1);
    size_t global = SAXPY_N;
    if ((error = cl.launch(queue, kernel, 1, NULL, &global, NULL, 0, NULL, NULL)) != CL_SUCCESS)
        FAIL("clEnqueueNDRangeKernel", error);
    float *got = map(queue, y, CL_MAP_READ);
    size_t wrong = saxpy_wrong(got, SAXPY_N);
    if (wrong)
        floor_answer("opencl", "failed", "wrong-result: %zu of %zu elements differ", wrong,
                     SAXPY_N);
    cl.unmap(queue, y, got, 0, NULL, NULL);
    cl.finish(queue);
    return cached;
}

int main(int argc, char **argv)
{
    enum level level = floor_level(argc, argv, "opencl");
    static const char *const names[] = {"libOpenCL.so.1", NULL};
    void *library = floor_load("opencl", names);
#define RESOLVE(field, name) cl.field = (__typeof__(cl.field))floor_symbol(library, name, "opencl")
    RESOLVE(get_platform_ids, "clGetPlatformIDs");
    RESOLVE(get_platform_info, "clGetPlatformInfo");
    RESOLVE(get_device_ids, "clGetDeviceIDs");
    RESOLVE(get_device_info, "clGetDeviceInfo");
    RESOLVE(create_context, "clCreateContext");
    RESOLVE(create_queue, "clCreateCommandQueueWithProperties");
    RESOLVE(program_with_source, "clCreateProgramWithSource");
    RESOLVE(program_with_binary, "clCreateProgramWithBinary");
    RESOLVE(build_program, "clBuildProgram");
    RESOLVE(get_program_info, "clGetProgramInfo");
    RESOLVE(create_kernel, "clCreateKernel");
    RESOLVE(set_kernel_arg, "clSetKernelArg");
    RESOLVE(create_buffer, "clCreateBuffer");
    RESOLVE(map_buffer, "clEnqueueMapBuffer");
    RESOLVE(unmap, "clEnqueueUnmapMemObject");
    RESOLVE(launch, "clEnqueueNDRangeKernel");
    RESOLVE(finish, "clFinish");

    cl_platform_id platforms[16];
    cl_uint platform_count = 0;
    cl_int error = cl.get_platform_ids(16, platforms, &platform_count);
    if (error == CL_PLATFORM_NOT_FOUND_KHR || (error == CL_SUCCESS && platform_count == 0))
        floor_answer("opencl", "absent", "no-device: no OpenCL platform");
    if (error != CL_SUCCESS)
        floor_answer("opencl", "unusable", "clGetPlatformIDs returned %d", error);
    if (platform_count > 16)
        platform_count = 16;

    char summary[4096] = "";
    int devices_seen = 0, cached = 0;
    for (cl_uint p = 0; p < platform_count; p++) {
        cl_device_id devices[16];
        cl_uint count = 0;
        if (cl.get_device_ids(platforms[p], CL_DEVICE_TYPE_ALL, 16, devices, &count) != CL_SUCCESS)
            continue;
        char platform[256] = "", platform_version[256] = "";
        cl.get_platform_info(platforms[p], CL_PLATFORM_NAME, sizeof platform, platform, NULL);
        cl.get_platform_info(platforms[p], CL_PLATFORM_VERSION, sizeof platform_version,
                             platform_version, NULL);
        for (cl_uint d = 0; d < count && d < 16; d++) {
            char name[256] = "", vendor[256] = "", version[256] = "", driver[256] = "";
            cl_device_fp_config fp64 = 0;
            cl_device_type type = 0;
            cl.get_device_info(devices[d], CL_DEVICE_NAME, sizeof name, name, NULL);
            cl.get_device_info(devices[d], CL_DEVICE_VENDOR, sizeof vendor, vendor, NULL);
            cl.get_device_info(devices[d], CL_DEVICE_VERSION, sizeof version, version, NULL);
            cl.get_device_info(devices[d], CL_DRIVER_VERSION, sizeof driver, driver, NULL);
            cl.get_device_info(devices[d], CL_DEVICE_TYPE, sizeof type, &type, NULL);
            cl.get_device_info(devices[d], CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp64, &fp64, NULL);
            const char *key[] = {floor_saxpy_cl, platform, platform_version, name, vendor,
                                 version, driver, NULL};
            if (level == LEVEL_STANDARD)
                cached += validate(devices[d], key);
            size_t used = strlen(summary);
            snprintf(summary + used, sizeof summary - used, "%s%s (%s%s%s)", used ? "; " : "",
                     name, version, fp64 ? ", fp64" : "",
                     type & CL_DEVICE_TYPE_GPU ? ", gpu" : "");
            devices_seen++;
        }
    }
    if (devices_seen == 0)
        floor_answer("opencl", "absent", "no-device: %u platform(s) list no device", platform_count);
    if (level == LEVEL_QUICK)
        floor_answer("opencl", "enumerated", "%d device(s): %s", devices_seen, summary);
    floor_answer("opencl", "validated", "%d device(s): %s: saxpy exact, %d from the cached binary",
                 devices_seen, summary, cached);
}
