/* A stand-in libamdhip64.so.5 for tests: the runtime's entry points, answering with the error
 * numbers chosen at compile time (-DINIT_RESULT=..., -DCOUNT_RESULT=...), so the probe's
 * handling of a broken or empty runtime can be tested without ROCm's own behaviour.
 * -DONLY_HIPINIT builds a library that lacks every other entry point. */
#include <stddef.h>

#ifndef INIT_RESULT
#define INIT_RESULT 0
#endif
#ifndef COUNT_RESULT
#define COUNT_RESULT 0
#endif

int hipInit(unsigned flags) { (void)flags; return INIT_RESULT; }

#ifndef ONLY_HIPINIT
int hipGetDeviceCount(int *count) { *count = 0; return COUNT_RESULT; }
int hipRuntimeGetVersion(int *v) { *v = 50221153; return 0; }
int hipDriverGetVersion(int *v) { *v = 50221153; return 0; }
const char *hipGetErrorName(int e)
{
    switch (e) {
    case 1: return "hipErrorInvalidValue";
    case 100: return "hipErrorNoDevice";
    case 101: return "hipErrorInvalidDevice";
    default: return "hipErrorUnknown";
    }
}
/* Never reached with zero devices; present so that symbol resolution succeeds. */
int hipDeviceGetName(char *n, int len, int d) { (void)n; (void)len; (void)d; return 999; }
int hipDeviceTotalMem(size_t *b, int d) { (void)b; (void)d; return 999; }
int hipGetDeviceProperties(void *p, int d) { (void)p; (void)d; return 999; }
int hipSetDevice(int d) { (void)d; return 999; }
int hipModuleLoadData(void **m, const void *i) { (void)m; (void)i; return 999; }
int hipModuleGetFunction(void **f, void *m, const char *n) { (void)f; (void)m; (void)n; return 999; }
int hipModuleUnload(void *m) { (void)m; return 999; }
int hipMalloc(void **p, size_t s) { (void)p; (void)s; return 999; }
int hipFree(void *p) { (void)p; return 999; }
int hipMemcpyHtoD(void *d, const void *s, size_t n) { (void)d; (void)s; (void)n; return 999; }
int hipMemcpyDtoH(void *d, void *s, size_t n) { (void)d; (void)s; (void)n; return 999; }
int hipModuleLaunchKernel(void) { return 999; }
int hipDeviceSynchronize(void) { return 999; }
#endif
