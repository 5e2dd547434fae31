/* The NVDEC/NVENC floor: what hwspec's nvcodec worker must do to reach its answer on a machine
 * without NVIDIA's video libraries. Open libnvcuvid and libnvidia-encode: neither is "absent,
 * library-not-found". Where one opens, both need a CUDA context, so libcuda is opened and
 * cuInit asked as the CUDA floor does; no device is "absent, no-device". A machine with an
 * NVIDIA device is not covered (floor_uncovered). */
#include "floor.h"

#define CUDA_ERROR_NO_DEVICE 100

int main(int argc, char **argv)
{
    floor_level(argc, argv, "nvcodec");
    static const char *const decoder[] = {"libnvcuvid.so.1", NULL};
    static const char *const encoder[] = {"libnvidia-encode.so.1", NULL};
    char decoder_why[2048], encoder_why[2048];
    void *dec = floor_open(decoder, decoder_why, sizeof decoder_why);
    void *enc = floor_open(encoder, encoder_why, sizeof encoder_why);
    if (!dec && !enc)
        floor_answer("nvcodec", "absent", "library-not-found: %s; %s", decoder_why, encoder_why);
    static const char *const cuda[] = {"libcuda.so.1", "/usr/lib/wsl/lib/libcuda.so.1", NULL};
    void *library = floor_load("nvcodec", cuda);
    int (*init)(unsigned) = (int (*)(unsigned))floor_symbol(library, "cuInit", "nvcodec");
    int (*device_count)(int *) = (int (*)(int *))floor_symbol(library, "cuDeviceGetCount", "nvcodec");
    int initialised = init(0), count = 0;
    if (initialised == CUDA_ERROR_NO_DEVICE)
        floor_answer("nvcodec", "absent", "no-device: cuInit returned %d", initialised);
    if (initialised != 0)
        floor_answer("nvcodec", "unusable", "cuInit returned %d", initialised);
    if (device_count(&count) != 0 || count <= 0)
        floor_answer("nvcodec", "absent", "no-device: no CUDA device");
    floor_uncovered("nvcodec", count);
}
