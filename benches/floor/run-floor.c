/* Starts floor programs as hwspec starts its workers, one process per backend, all at once, and
 * waits for all of them: the floor of a whole probe. Each child gets what hwspec gives a worker
 * that changes what a driver does: driver caches in one directory (PoCL's, Mesa's, CUDA's, and
 * the floor's own program binaries), implicit Vulkan layers disabled, LC_ALL=C.
 *
 *   run-floor [--level quick|standard] [--cache DIR] [BACKEND...]
 *
 * BACKENDs default to all ten, in hwspec's order. The floor programs are found next to this
 * one. Each prints its answer line; the exit status is 0 when every floor reached an answer, 1
 * when one failed, 3 when none failed but one found a device it does not cover, 2 on a usage
 * error. DIR defaults as in floor.h (floor_cache_dir). */
#include <spawn.h>
#include <sys/wait.h>

#include "floor.h"

extern char **environ;

static const char *const all_backends[] = {"cpu", "opencl", "vulkan", "cuda", "hip",
                                           "level_zero", "egl", "vaapi", "nvcodec",
                                           "gcc_offload"};
#define BACKENDS (sizeof all_backends / sizeof all_backends[0])

static __attribute__((noreturn)) void usage(void)
{
    fputs("usage: run-floor [--level quick|standard] [--cache DIR] [BACKEND...]\n", stderr);
    exit(2);
}

static void set(const char *name, const char *dir, const char *below)
{
    char value[4200];
    snprintf(value, sizeof value, "%s%s%s", dir, *below ? "/" : "", below);
    setenv(name, value, 1);
}

int main(int argc, char **argv)
{
    const char *level = "standard";
    char cache[4096] = "";
    const char *chosen[BACKENDS];
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--level") == 0 && i + 1 < argc) {
            level = argv[++i];
            if (strcmp(level, "quick") != 0 && strcmp(level, "standard") != 0)
                usage();
        } else if (strcmp(argv[i], "--cache") == 0 && i + 1 < argc) {
            if (snprintf(cache, sizeof cache, "%s", argv[++i]) >= (int)sizeof cache ||
                cache[0] != '/')
                usage();
        } else {
            size_t known = 0;
            while (known < BACKENDS && strcmp(argv[i], all_backends[known]) != 0)
                known++;
            if (known == BACKENDS || count == BACKENDS)
                usage();
            chosen[count++] = all_backends[known];
        }
    }
    if (count == 0)
        for (; count < BACKENDS; count++)
            chosen[count] = all_backends[count];
    if (!cache[0] && floor_cache_dir(cache, sizeof cache) != 0) {
        fputs("run-floor: no cache directory: set HWSPEC_FLOOR_CACHE or HOME\n", stderr);
        return 2;
    }
    if (floor_mkdirs(cache) != 0) {
        fprintf(stderr, "run-floor: cannot create %s\n", cache);
        return 2;
    }
    set("HWSPEC_FLOOR_CACHE", cache, "");
    set("POCL_CACHE_DIR", cache, "pocl");
    set("MESA_SHADER_CACHE_DIR", cache, "mesa");
    set("MESA_GLSL_CACHE_DIR", cache, "mesa");
    set("CUDA_CACHE_PATH", cache, "cuda");
    set("XDG_CACHE_HOME", cache, "");
    if (!getenv("VK_LOADER_LAYERS_ENABLE") && !getenv("VK_LOADER_LAYERS_DISABLE"))
        setenv("VK_LOADER_LAYERS_DISABLE", "~implicit~", 1);
    setenv("LC_ALL", "C", 1);

    char dir[4096];
    ssize_t self = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (self <= 0) {
        fputs("run-floor: /proc/self/exe is unreadable\n", stderr);
        return 2;
    }
    dir[self] = '\0';
    *strrchr(dir, '/') = '\0';

    pid_t children[BACKENDS];
    for (size_t b = 0; b < count; b++) {
        char program[4200];
        snprintf(program, sizeof program, "%s/floor-%s", dir, chosen[b]);
        char *child_argv[] = {program, (char *)level, NULL};
        if (posix_spawn(&children[b], program, NULL, NULL, child_argv, environ) != 0) {
            fprintf(stderr, "run-floor: cannot start %s\n", program);
            children[b] = -1;
        }
    }
    int failed = 0, uncovered = 0;
    for (size_t b = 0; b < count; b++) {
        int status;
        if (children[b] < 0 || waitpid(children[b], &status, 0) != children[b] ||
            !WIFEXITED(status)) {
            fprintf(stderr, "run-floor: floor-%s did not finish\n", chosen[b]);
            failed = 1;
        } else if (WEXITSTATUS(status) == 3) {
            uncovered = 1;
        } else if (WEXITSTATUS(status) != 0) {
            fprintf(stderr, "run-floor: floor-%s exited with %d\n", chosen[b], WEXITSTATUS(status));
            failed = 1;
        }
    }
    return failed ? 1 : uncovered ? 3 : 0;
}
