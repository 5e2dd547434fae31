/* The Level Zero floor: what hwspec's Level Zero worker must do to reach its answer on a machine
 * without a Level Zero driver. Open the loader, zeInit every driver type, and list the drivers:
 * the loader's ZE_RESULT_ERROR_UNINITIALIZED, or no driver, is "absent, no-device". A machine
 * with a device is not covered (floor_uncovered). */
#include "floor.h"

#define ZE_RESULT_ERROR_UNINITIALIZED 0x78000001
#define MAX_DRIVERS 16

int main(int argc, char **argv)
{
    enum level level = floor_level(argc, argv, "level_zero");
    static const char *const names[] = {"libze_loader.so.1", NULL};
    void *library = floor_load("level_zero", names);
    int (*init)(unsigned) = (int (*)(unsigned))floor_symbol(library, "zeInit", "level_zero");
    int (*driver_get)(uint32_t *, void **) =
        (int (*)(uint32_t *, void **))floor_symbol(library, "zeDriverGet", "level_zero");
    int (*device_get)(void *, uint32_t *, void **) =
        (int (*)(void *, uint32_t *, void **))floor_symbol(library, "zeDeviceGet", "level_zero");
    int initialised = init(0);
    if ((unsigned)initialised == ZE_RESULT_ERROR_UNINITIALIZED)
        floor_answer("level_zero", "absent", "no-device: zeInit returned %#x: no driver initialises",
                     (unsigned)initialised);
    if (initialised != 0)
        floor_answer("level_zero", "unusable", "zeInit returned %#x", (unsigned)initialised);
    void *drivers[MAX_DRIVERS];
    uint32_t driver_count = MAX_DRIVERS;
    if (driver_get(&driver_count, drivers) != 0 || driver_count == 0)
        floor_answer("level_zero", "absent", "no-device: zeDriverGet lists no driver");
    uint32_t devices = 0;
    for (uint32_t d = 0; d < driver_count && d < MAX_DRIVERS; d++) {
        uint32_t count = 0;
        if (device_get(drivers[d], &count, NULL) == 0)
            devices += count;
    }
    if (devices == 0)
        floor_answer("level_zero", "absent", "no-device: %u driver(s) list no device", driver_count);
    if (level == LEVEL_QUICK)
        floor_answer("level_zero", "enumerated", "%u device(s)", devices);
    floor_uncovered("level_zero", (int)devices);
}
