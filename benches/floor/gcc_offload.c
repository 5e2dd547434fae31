/* The GCC offload floor: what hwspec's gcc_offload worker must do. Find the offload compilers
 * Debian installs (/usr/lib/gcc/<multiarch>/<N>/accel/<target>/mkoffload): none is "absent". At
 * standard, run the offload program compiled once for each target (build.sh compiles hwspec's
 * own saxpy.c as hwspec does, which then caches it) with OMP_TARGET_OFFLOAD=MANDATORY, wait for
 * it, and judge the line it prints: every element exact, and where its target region ran. A
 * region that ran on the host leaves the target "enumerated" with no device, as in hwspec. */
#include <glob.h>
#include <spawn.h>
#include <sys/wait.h>

#include "floor.h"

extern char **environ;

/* Runs `program` with the offload made mandatory and returns what it printed. */
static int run(const char *program, char *output, size_t room)
{
    int out[2];
    if (pipe(out) != 0)
        return -1;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    size_t count = 0;
    while (environ[count])
        count++;
    char **env = calloc(count + 2, sizeof *env);
    if (!env)
        return -1;
    size_t kept = 0;
    for (size_t i = 0; i < count; i++)
        if (strncmp(environ[i], "OMP_TARGET_OFFLOAD=", 19) != 0 &&
            strncmp(environ[i], "OMP_DEFAULT_DEVICE=", 19) != 0)
            env[kept++] = environ[i];
    env[kept++] = "OMP_TARGET_OFFLOAD=MANDATORY";
    char *argv[] = {(char *)program, NULL};
    pid_t child;
    int spawned = posix_spawn(&child, program, &actions, NULL, argv, env);
    posix_spawn_file_actions_destroy(&actions);
    free(env);
    close(out[1]);
    if (spawned != 0) {
        close(out[0]);
        return -1;
    }
    size_t used = 0;
    for (ssize_t got; used + 1 < room && (got = read(out[0], output + used, room - 1 - used)) > 0;)
        used += (size_t)got;
    output[used] = '\0';
    close(out[0]);
    int status;
    while (waitpid(child, &status, 0) < 0)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    enum level level = floor_level(argc, argv, "gcc_offload");
    static const char *const targets[] = {"nvptx-none", "amdgcn-amdhsa"};
    char programs_dir[4096];
    ssize_t self = readlink("/proc/self/exe", programs_dir, sizeof programs_dir - 1);
    if (self <= 0)
        floor_answer("gcc_offload", "failed", "/proc/self/exe is unreadable");
    programs_dir[self] = '\0';
    *strrchr(programs_dir, '/') = '\0';

    char summary[4096] = "";
    int found = 0, validated = 0;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        char pattern[256];
        snprintf(pattern, sizeof pattern, "/usr/lib/gcc/*/*/accel/%s/mkoffload", targets[t]);
        glob_t compilers;
        int present = glob(pattern, 0, NULL, &compilers) == 0;
        globfree(&compilers);
        if (!present)
            continue;
        found++;
        size_t used = strlen(summary);
        if (level == LEVEL_QUICK) {
            snprintf(summary + used, sizeof summary - used, "%s%s", used ? "; " : "", targets[t]);
            continue;
        }
        char program[4200], output[1024];
        snprintf(program, sizeof program, "%s/gcc-offload-%s", programs_dir, targets[t]);
        if (access(program, X_OK) != 0)
            floor_answer("gcc_offload", "failed", "%s was not built (benches/floor/build.sh)",
                         program);
        if (run(program, output, sizeof output) != 0)
            floor_answer("gcc_offload", "failed", "%s failed: %s", program, output);
        int devices;
        long host_iterations, elements;
        double checksum, max_abs_error;
        if (sscanf(output,
                   "hwspec-gcc-offload devices=%d host_iterations=%ld elements=%ld checksum=%lf "
                   "max_abs_error=%lf",
                   &devices, &host_iterations, &elements, &checksum, &max_abs_error) != 5)
            floor_answer("gcc_offload", "failed", "unexpected output: %s", output);
        if (elements != (long)SAXPY_N || max_abs_error != 0.0)
            floor_answer("gcc_offload", "failed", "wrong-result: %ld elements, error %g", elements,
                         max_abs_error);
        validated += host_iterations == 0;
        snprintf(summary + used, sizeof summary - used, "%s%s: saxpy exact, %d device(s), ran %s",
                 used ? "; " : "", targets[t], devices,
                 host_iterations == 0 ? "on the device" : "on the host");
    }
    if (found == 0)
        floor_answer("gcc_offload", "absent", "library-not-found: no GCC offload compiler installed");
    floor_answer("gcc_offload", validated ? "validated" : "enumerated", "%s", summary);
}
