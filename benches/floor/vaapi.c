/* The VA-API floor: what hwspec's VA-API worker must do to reach its answer on a machine without
 * a DRM render node. Open libva and libva-drm (hwspec reports the file it loaded), then look for
 * /dev/dri/renderD*: none is "absent, no-device". A machine with a render node is not covered
 * (floor_uncovered). */
#include <dirent.h>

#include "floor.h"

int main(int argc, char **argv)
{
    floor_level(argc, argv, "vaapi");
    static const char *const va[] = {"libva.so.2", NULL};
    static const char *const va_drm[] = {"libva-drm.so.2", NULL};
    floor_load("vaapi", va);
    floor_load("vaapi", va_drm);
    int nodes = 0;
    DIR *dri = opendir("/dev/dri");
    for (struct dirent *entry; dri && (entry = readdir(dri)) != NULL;)
        nodes += strncmp(entry->d_name, "renderD", 7) == 0;
    if (dri)
        closedir(dri);
    if (nodes == 0)
        floor_answer("vaapi", "absent", "no-device: no DRM render node (/dev/dri/renderD*)");
    floor_uncovered("vaapi", nodes);
}
