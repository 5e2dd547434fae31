/* The CPU floor: what hwspec's CPU worker must do. Read /proc/cpuinfo and /proc/meminfo (model,
 * logical processors, memory, the x86-64 psABI level from the first processor's flags) and, at
 * standard, run the SAXPY fused on the host and check every element. */
#include <math.h>

#include "floor.h"

static char cpuinfo[1 << 20];

/* The value of the first `key:` line, trimmed, copied into `out`. */
static int field(const char *text, const char *key, char *out, size_t room)
{
    size_t key_length = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, key_length) != 0)
            continue;
        const char *p = line + key_length;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != ':')
            continue;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t length = strcspn(p, "\n");
        if (length >= room)
            length = room - 1;
        memcpy(out, p, length);
        out[length] = '\0';
        return 0;
    }
    return -1;
}

static int has_flag(const char *flags, const char *flag)
{
    size_t length = strlen(flag);
    for (const char *p = flags; (p = strstr(p, flag)) != NULL; p += length) {
        int starts = p == flags || p[-1] == ' ';
        int ends = p[length] == '\0' || p[length] == ' ';
        if (starts && ends)
            return 1;
    }
    return 0;
}

/* The x86-64 psABI levels, cumulative, as hwspec's CPU backend lists their flags. */
static const char *psabi_level(const char *flags)
{
    static const char *const levels[][10] = {
        {"x86-64", "cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2", NULL},
        {"x86-64-v2", "cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3", NULL},
        {"x86-64-v3", "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"},
        {"x86-64-v4", "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", NULL},
    };
    const char *met = "none";
    for (size_t level = 0; level < sizeof levels / sizeof levels[0]; level++) {
        for (size_t f = 1; f < 10 && levels[level][f]; f++)
            if (!has_flag(flags, levels[level][f]))
                return met;
        met = levels[level][0];
    }
    return met;
}

int main(int argc, char **argv)
{
    enum level level = floor_level(argc, argv, "cpu");
    FILE *file = fopen("/proc/cpuinfo", "re");
    size_t length = file ? fread(cpuinfo, 1, sizeof cpuinfo - 1, file) : 0;
    if (file)
        fclose(file);
    cpuinfo[length] = '\0';
    int processors = 0;
    for (const char *p = cpuinfo; (p = strstr(p, "processor")) != NULL; p++)
        processors += p == cpuinfo || p[-1] == '\n';
    if (processors == 0)
        floor_answer("cpu", "unusable", "/proc/cpuinfo lists no processor");
    static char model[256], flags[8192], meminfo[8192], memtotal[64];
    if (field(cpuinfo, "model name", model, sizeof model) != 0)
        strcpy(model, "unknown processor");
    field(cpuinfo, "flags", flags, sizeof flags);
    file = fopen("/proc/meminfo", "re");
    length = file ? fread(meminfo, 1, sizeof meminfo - 1, file) : 0;
    if (file)
        fclose(file);
    meminfo[length] = '\0';
    if (field(meminfo, "MemTotal", memtotal, sizeof memtotal) != 0)
        strcpy(memtotal, "?");
    const char *psabi = psabi_level(flags);
    if (level == LEVEL_QUICK)
        floor_answer("cpu", "enumerated", "%s, %d logical, %s, %s", model, processors, memtotal, psabi);

    float *x = malloc(SAXPY_N * sizeof *x), *y = malloc(SAXPY_N * sizeof *y);
    if (!x || !y)
        floor_answer("cpu", "failed", "out of memory");
    saxpy_fill(x, y, SAXPY_N);
    for (size_t i = 0; i < SAXPY_N; i++)
        y[i] = fmaf(SAXPY_A, x[i], y[i]);
    size_t wrong = saxpy_wrong(y, SAXPY_N);
    if (wrong)
        floor_answer("cpu", "failed", "wrong-result: %zu of %zu elements differ", wrong, SAXPY_N);
    floor_answer("cpu", "validated", "%s, %d logical, %s, %s: saxpy exact", model, processors, memtotal,
                 psabi);
}
