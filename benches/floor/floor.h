/* What every floor program shares: the validation problem of hwspec-core/src/kernels.rs, the
 * level argument, the one-line answer, opening a runtime at run time, and the cache a floor
 * keeps its compiled kernels in.
 *
 * A floor program does only what a backend must to reach hwspec's answer for it, so that
 * hwspec's time can be judged against it (benches/compare.sh). Its answer is one line on
 * stdout, `<backend> <state>: <detail>`, with the state in hwspec's vocabulary (validated,
 * enumerated, absent, unusable, failed). It exits 0 when it reached an answer a probe can
 * reach (validated, enumerated, absent), 1 when the runtime failed it, 2 on a usage error, and
 * 3 when it found a device this floor does not validate (floor_uncovered): a floor measures
 * what this machine has, so the backends that find nothing here stop at "no device". */
#ifndef HWSPEC_FLOOR_H
#define HWSPEC_FLOOR_H

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The SAXPY problem: y = a * x + y over 2^20 elements. Every value is a multiple of 1/4, so a
 * correct device matches the reference bit for bit, fused or not. */
#define SAXPY_N ((size_t)1 << 20)
#define SAXPY_A 2.5f

/* The inputs x[i] = (i % 251) / 4 and y[i] = (7i % 127) / 4 - 8, with the remainders kept as
 * running counters: no division per element. */
static inline void saxpy_fill(float *x, float *y, size_t n)
{
    unsigned rx = 0, ry = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)rx * 0.25f;
        y[i] = (float)ry * 0.25f - 8.0f;
        rx = rx == 250 ? 0 : rx + 1;
        ry = ry + 7 >= 127 ? ry + 7 - 127 : ry + 7;
    }
}

/* Elements of `got` that differ from the reference a * x + y. The reference is computed on the
 * fly from the inputs' formulas, so no reference array (nor a copy of y) is ever made. */
static inline size_t saxpy_wrong(const float *got, size_t n)
{
    size_t wrong = 0;
    unsigned rx = 0, ry = 0;
    for (size_t i = 0; i < n; i++) {
        wrong += got[i] != SAXPY_A * ((float)rx * 0.25f) + ((float)ry * 0.25f - 8.0f);
        rx = rx == 250 ? 0 : rx + 1;
        ry = ry + 7 >= 127 ? ry + 7 - 127 : ry + 7;
    }
    return wrong;
}

enum level { LEVEL_QUICK, LEVEL_STANDARD };

/* `quick` or `standard` (the default), as `hwspec probe --level` takes them. */
static inline enum level floor_level(int argc, char **argv, const char *backend)
{
    if (argc < 2 || strcmp(argv[1], "standard") == 0)
        return LEVEL_STANDARD;
    if (argc == 2 && strcmp(argv[1], "quick") == 0)
        return LEVEL_QUICK;
    fprintf(stderr, "usage: floor-%s [quick|standard]\n", backend);
    exit(2);
}

/* Prints the answer line and leaves: 0 for a state a probe can end in normally, 1 otherwise. */
__attribute__((format(printf, 3, 4), noreturn)) static inline void
floor_answer(const char *backend, const char *state, const char *format, ...)
{
    va_list args;
    printf("%s %s: ", backend, state);
    va_start(args, format);
    vprintf(format, args);
    va_end(args);
    putchar('\n');
    fflush(stdout);
    int normal = strcmp(state, "validated") == 0 || strcmp(state, "enumerated") == 0 ||
                 strcmp(state, "absent") == 0;
    exit(normal ? 0 : 1);
}

/* Leaves with exit status 3: the runtime found a device whose validation this floor does not
 * implement, so it has no time to offer for it. */
__attribute__((noreturn)) static inline void floor_uncovered(const char *backend, int devices)
{
    printf("%s uncovered: %d device(s) found; this floor validates none of this runtime's "
           "devices, so it measures only the no-device path\n",
           backend, devices);
    fflush(stdout);
    exit(3);
}

/* Opens the first of `names` the dynamic loader accepts, for good (never closed, as hwspec's
 * workers never close a runtime). On failure `why` holds every refusal, `; `-separated. */
static inline void *floor_open(const char *const *names, char *why, size_t room)
{
    why[0] = '\0';
    for (; *names; names++) {
        void *library = dlopen(*names, RTLD_NOW | RTLD_LOCAL);
        if (library)
            return library;
        size_t used = strlen(why);
        snprintf(why + used, room - used, "%s%s", used ? "; " : "", dlerror());
    }
    return NULL;
}

/* Opens the first of `names` for good, or ends the program with the runtime absent. */
static inline void *floor_load(const char *backend, const char *const *names)
{
    char why[2048];
    void *library = floor_open(names, why, sizeof why);
    if (!library)
        floor_answer(backend, "absent", "library-not-found: %s", why);
    return library;
}

/* Resolves `name` in `library`, or ends the program with the runtime unusable. */
static inline void *floor_symbol(void *library, const char *name, const char *backend)
{
    void *symbol = dlsym(library, name);
    if (!symbol)
        floor_answer(backend, "unusable", "load-failed: %s is missing", name);
    return symbol;
}

/* The directory a floor keeps compiled kernels in: $HWSPEC_FLOOR_CACHE, else
 * $XDG_CACHE_HOME/hwspec-floor, else ~/.cache/hwspec-floor. run-floor sets the first. */
static inline int floor_cache_dir(char *out, size_t room)
{
    const char *dir = getenv("HWSPEC_FLOOR_CACHE");
    if (dir && dir[0] == '/')
        return snprintf(out, room, "%s", dir) < (int)room ? 0 : -1;
    dir = getenv("XDG_CACHE_HOME");
    if (dir && dir[0] == '/')
        return snprintf(out, room, "%s/hwspec-floor", dir) < (int)room ? 0 : -1;
    dir = getenv("HOME");
    if (dir && dir[0] == '/')
        return snprintf(out, room, "%s/.cache/hwspec-floor", dir) < (int)room ? 0 : -1;
    return -1;
}

/* 64-bit FNV-1a over `parts` (NULL-terminated), each followed by 0xff: hwspec's stable_hash. */
static inline uint64_t floor_hash(const char *const *parts)
{
    uint64_t hash = 0xcbf29ce484222325u;
    for (; *parts; parts++) {
        for (const unsigned char *p = (const unsigned char *)*parts; *p; p++)
            hash = (hash ^ *p) * 0x100000001b3u;
        hash = (hash ^ 0xffu) * 0x100000001b3u;
    }
    return hash;
}

/* Creates `path` and its parents, mode 0700. */
static inline int floor_mkdirs(const char *path)
{
    char partial[4096];
    size_t length = strlen(path);
    if (length == 0 || length >= sizeof partial)
        return -1;
    memcpy(partial, path, length + 1);
    for (char *slash = partial + 1; *slash; slash++) {
        if (*slash != '/')
            continue;
        *slash = '\0';
        if (mkdir(partial, 0700) != 0 && errno != EEXIST)
            return -1;
        *slash = '/';
    }
    return mkdir(partial, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* The whole of the regular file `path`, at most 64 MiB, in `*bytes` (to be freed); -1 on a
 * miss. */
static inline long floor_read_file(const char *path, unsigned char **bytes)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    long got = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        st.st_size <= (64L << 20)) {
        *bytes = malloc((size_t)st.st_size);
        got = *bytes && read(fd, *bytes, (size_t)st.st_size) == st.st_size ? (long)st.st_size : -1;
        if (got < 0)
            free(*bytes);
    }
    close(fd);
    return got;
}

/* Writes `path` through a temporary file and a rename, so a reader never sees half of it. */
static inline void floor_write_file(const char *path, const void *bytes, size_t length)
{
    char temp[4200];
    if (snprintf(temp, sizeof temp, "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof temp)
        return;
    int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    int ok = write(fd, bytes, length) == (ssize_t)length;
    close(fd);
    if (!ok || rename(temp, path) != 0)
        unlink(temp);
}

#endif
