/* Check helpers shared by the C tests of libhwspec (run by run-c-tests.sh).
 *
 * Each check prints one line, "ok: ..." or "FAIL: ...", so a failing run says which check
 * failed without a debugger; main() returns check_summary(), non-zero when any check failed.
 * Header-only (static inline) so every test stays a single `cc` command, and the counters are
 * atomic because threads.c checks from many threads at once. */
#ifndef HWSPEC_TEST_CHECK_H
#define HWSPEC_TEST_CHECK_H

#include <hwspec.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int check_passed;
static atomic_int check_failed;

/* Formats the whole line first and writes it with one call so that lines from different
 * threads never interleave. */
static inline int check_line(int ok, int line, const char *fmt, ...) {
  char text[1024];
  va_list args;
  va_start(args, fmt);
  vsnprintf(text, sizeof text, fmt, args);
  va_end(args);
  char out[1200];
  snprintf(out, sizeof out, "%s: %s (line %d)\n", ok ? "ok" : "FAIL", text, line);
  fputs(out, stdout);
  fflush(stdout);
  atomic_fetch_add(ok ? &check_passed : &check_failed, 1);
  return ok;
}

#define CHECK(cond, ...) check_line((cond) ? 1 : 0, __LINE__, __VA_ARGS__)

static inline const char *result_name(hwspec_result r) {
  switch (r) {
  case HWSPEC_OK: return "HWSPEC_OK";
  case HWSPEC_ERR_NULL: return "HWSPEC_ERR_NULL";
  case HWSPEC_ERR_INVALID: return "HWSPEC_ERR_INVALID";
  case HWSPEC_ERR_PARSE: return "HWSPEC_ERR_PARSE";
  case HWSPEC_ERR_CONTROL: return "HWSPEC_ERR_CONTROL";
  case HWSPEC_ERR_OVERRIDE: return "HWSPEC_ERR_OVERRIDE";
  case HWSPEC_ERR_IO: return "HWSPEC_ERR_IO";
  case HWSPEC_ERR_PANIC: return "HWSPEC_ERR_PANIC";
  }
  return "(unknown result)";
}

/* Checks that `call` returned `want`; on a mismatch the line also carries hwspec_last_error(),
 * read right away because the next hwspec call may replace it. */
#define CHECK_RC(call, want)                                                                  \
  do {                                                                                        \
    hwspec_result check_rc_ = (call);                                                         \
    check_line(check_rc_ == (want), __LINE__, "%s -> %s%s%s", #call, result_name(check_rc_),  \
               check_rc_ == (want) ? "" : ", last error: ",                                   \
               check_rc_ == (want) ? "" : hwspec_last_error());                               \
  } while (0)

#define CHECK_OK(call) CHECK_RC(call, HWSPEC_OK)

static inline int check_summary(const char *test) {
  int passed = atomic_load(&check_passed), failed = atomic_load(&check_failed);
  printf("%s: %d passed, %d failed\n", test, passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}

#endif
