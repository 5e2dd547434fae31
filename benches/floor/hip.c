/* The HIP floor: what hwspec's HIP worker must do to reach its answer on a machine without an
 * AMD GPU. Open the runtime (libamdhip64.so.7, .6, .5: hwspec reports the file it loaded, so it
 * has to be loaded), read its versions, look for /dev/kfd, hipInit, and count the devices:
 * none is "absent, no-device". A machine with a device is not covered (floor_uncovered): its
 * floor would compile with hiprtc and launch, which nothing here can run. */
#include "floor.h"

#define HIP_ERROR_NO_DEVICE 100

int main(int argc, char **argv)
{
    enum level level = floor_level(argc, argv, "hip");
    static const char *const names[] = {"libamdhip64.so.7", "libamdhip64.so.6",
                                        "libamdhip64.so.5", NULL};
    void *library = floor_load("hip", names);
    int (*runtime_version)(int *) = (int (*)(int *))floor_symbol(library, "hipRuntimeGetVersion", "hip");
    int (*driver_version)(int *) = (int (*)(int *))floor_symbol(library, "hipDriverGetVersion", "hip");
    int (*init)(unsigned) = (int (*)(unsigned))floor_symbol(library, "hipInit", "hip");
    int (*device_count)(int *) = (int (*)(int *))floor_symbol(library, "hipGetDeviceCount", "hip");
    int runtime = 0, driver = 0, count = 0;
    runtime_version(&runtime);
    driver_version(&driver);
    struct stat kfd;
    int have_kfd = stat("/dev/kfd", &kfd) == 0;
    int initialised = init(0);
    int counted = device_count(&count);
    if (counted == HIP_ERROR_NO_DEVICE || (counted == 0 && count <= 0))
        floor_answer("hip", "absent",
                     "no-device: runtime %d, hipInit returned %d, hipGetDeviceCount %d (%d "
                     "devices), /dev/kfd %s",
                     runtime, initialised, counted, count, have_kfd ? "present" : "missing");
    if (counted != 0 || initialised != 0)
        floor_answer("hip", "unusable", "hipInit returned %d, hipGetDeviceCount %d", initialised,
                     counted);
    if (level == LEVEL_QUICK)
        floor_answer("hip", "enumerated", "%d device(s), runtime %d, driver %d", count, runtime,
                     driver);
    floor_uncovered("hip", count);
}
