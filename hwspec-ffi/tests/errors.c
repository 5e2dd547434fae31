/* errors.c: the error contract of the C API. Every function with pointer arguments answers a
 * NULL with HWSPEC_ERR_NULL instead of crashing; the _free functions accept NULL; bad levels,
 * backend names, operators, indexes and invalid UTF-8 give HWSPEC_ERR_INVALID; a bad expression
 * gives HWSPEC_ERR_PARSE with the column in hwspec_last_error(); a missing control file gives
 * HWSPEC_ERR_CONTROL and a bad HWSPEC_OVERRIDE_* HWSPEC_ERR_OVERRIDE. On every error the output
 * arguments keep the sentinel values set before the call (outputs are written only on
 * HWSPEC_OK). Also checks the version macros against hwspec_version() and, given as argv[1]
 * by the runner, against the version in Cargo.toml.
 *
 * Usage: errors [EXPECTED_VERSION] */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <hwspec.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sentinels: addresses of objects the library cannot have made, never dereferenced. A call
 * that writes its output on failure replaces them. */
static char sentinel_storage[4];
#define SENTINEL_REPORT ((hwspec_report *)(void *)&sentinel_storage[1])
#define SENTINEL_VERDICT ((hwspec_verdict *)(void *)&sentinel_storage[2])
#define SENTINEL_STRING (&sentinel_storage[3])
#define SENTINEL_SIZE ((size_t)0x5eed)

static const char *last_error(void) { return hwspec_last_error(); }

static void check_version(const char *expected) {
  const char *version = hwspec_version();
  CHECK(version != NULL && strcmp(version, HWSPEC_VERSION) == 0,
        "hwspec_version() \"%s\" equals HWSPEC_VERSION \"%s\"", version ? version : "(null)",
        HWSPEC_VERSION);
  char from_macros[64];
  snprintf(from_macros, sizeof from_macros, "%d.%d.%d", (int)HWSPEC_VERSION_MAJOR,
           (int)HWSPEC_VERSION_MINOR, (int)HWSPEC_VERSION_PATCH);
  CHECK(strcmp(from_macros, HWSPEC_VERSION) == 0,
        "HWSPEC_VERSION_MAJOR.MINOR.PATCH \"%s\" equals HWSPEC_VERSION", from_macros);
  if (expected != NULL)
    CHECK(strcmp(HWSPEC_VERSION, expected) == 0, "HWSPEC_VERSION equals Cargo.toml's \"%s\"",
          expected);
}

static void check_options(void) {
  hwspec_options *options = NULL;
  CHECK_RC(hwspec_options_new(NULL), HWSPEC_ERR_NULL);
  CHECK(strlen(last_error()) > 0, "a failed call leaves a message: \"%s\"", last_error());
  CHECK_OK(hwspec_options_new(&options));
  CHECK(last_error() != NULL, "hwspec_last_error() is not NULL after a success");
  hwspec_options_free(NULL);
  CHECK(1, "hwspec_options_free(NULL) returns");

  CHECK_RC(hwspec_options_set_backends(NULL, "cpu"), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_options_set_backends(options, NULL), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_options_set_backends(options, "cpu,nosuch"), HWSPEC_ERR_INVALID);
  CHECK(strstr(last_error(), "nosuch") != NULL, "the message names the bad backend: \"%s\"",
        last_error());
  CHECK_RC(hwspec_options_set_backends(options, "cpu,\xff\xfe"), HWSPEC_ERR_INVALID);
  CHECK_OK(hwspec_options_set_backends(options, ""));
  CHECK_OK(hwspec_options_set_backends(options, "cpu,opencl"));

  CHECK_RC(hwspec_options_set_level(NULL, "quick"), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_options_set_level(options, NULL), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_options_set_level(options, "fast"), HWSPEC_ERR_INVALID);
  CHECK_RC(hwspec_options_set_level(options, "qu\xc3\x28ick"), HWSPEC_ERR_INVALID);
  CHECK_OK(hwspec_options_set_level(options, "quick"));
  CHECK_OK(hwspec_options_set_level(options, "full"));
  CHECK_OK(hwspec_options_set_level(options, "standard"));

  CHECK_RC(hwspec_options_set_timeout_ms(NULL, 1000), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_options_set_timeout_ms(options, 0), HWSPEC_ERR_INVALID);
  CHECK_OK(hwspec_options_set_timeout_ms(options, 30000));
  CHECK_RC(hwspec_options_set_use_cache(NULL, true), HWSPEC_ERR_NULL);
  CHECK_OK(hwspec_options_set_use_cache(options, true));
  CHECK_RC(hwspec_options_set_max_age_s(NULL, 10), HWSPEC_ERR_NULL);
  CHECK_OK(hwspec_options_set_max_age_s(options, 3600));
  CHECK_RC(hwspec_options_set_trust_env(NULL, false), HWSPEC_ERR_NULL);
  CHECK_OK(hwspec_options_set_trust_env(options, false));
  CHECK_RC(hwspec_options_set_worker(NULL, "/usr/bin/true"), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_options_set_worker(options, NULL), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_options_set_worker(options, "/\xff/hwspec-worker"), HWSPEC_ERR_INVALID);
  CHECK_RC(hwspec_options_set_worker(options, "bin/hwspec-worker"), HWSPEC_ERR_INVALID);
  hwspec_options_free(options);

  CHECK_RC(hwspec_probe(NULL, NULL), HWSPEC_ERR_NULL);
}

static void check_report_queries(const hwspec_report *report) {
  char *string = SENTINEL_STRING;
  size_t count = SENTINEL_SIZE;
  const char *name = SENTINEL_STRING, *version = SENTINEL_STRING;
  bool flag = true;

  hwspec_report_free(NULL);
  CHECK(1, "hwspec_report_free(NULL) returns");

  CHECK_RC(hwspec_report_json(NULL, &string), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_report_json(report, NULL), HWSPEC_ERR_NULL);
  CHECK(string == SENTINEL_STRING, "hwspec_report_json leaves *out alone on error");

  CHECK_RC(hwspec_report_capability_count(NULL, &count), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_report_capability_count(report, NULL), HWSPEC_ERR_NULL);
  CHECK(count == SENTINEL_SIZE, "hwspec_report_capability_count leaves *out alone on error");
  CHECK_OK(hwspec_report_capability_count(report, &count));

  CHECK_RC(hwspec_report_capability(NULL, 0, &name, &version), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_report_capability(report, 0, NULL, &version), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_report_capability(report, 0, &name, NULL), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_report_capability(report, count, &name, &version), HWSPEC_ERR_INVALID);
  CHECK_RC(hwspec_report_capability(report, (size_t)-1, &name, &version), HWSPEC_ERR_INVALID);
  CHECK(name == SENTINEL_STRING && version == SENTINEL_STRING,
        "hwspec_report_capability leaves name and version alone on error");

  CHECK_RC(hwspec_report_has(NULL, "cpu", NULL, NULL, &flag), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_report_has(report, NULL, NULL, NULL, &flag), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_report_has(report, "cpu", NULL, NULL, NULL), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_report_has(report, "cp\xffu", NULL, NULL, &flag), HWSPEC_ERR_INVALID);
  CHECK_RC(hwspec_report_has(report, "opencl", "~=", "1.2", &flag), HWSPEC_ERR_INVALID);
  CHECK_RC(hwspec_report_has(report, "opencl", ">=", "1.\xff", &flag), HWSPEC_ERR_INVALID);
  /* The header: only one of op and version given is HWSPEC_ERR_NULL. */
  CHECK_RC(hwspec_report_has(report, "opencl", ">=", NULL, &flag), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_report_has(report, "opencl", NULL, "1.2", &flag), HWSPEC_ERR_NULL);
  CHECK(flag == true, "hwspec_report_has leaves *out (true) alone on error");
  flag = false;
  CHECK_RC(hwspec_report_has(report, "opencl", "<<<", "1.2", &flag), HWSPEC_ERR_INVALID);
  CHECK(flag == false, "hwspec_report_has leaves *out (false) alone on error");
  CHECK_OK(hwspec_report_has(report, "cpu", NULL, NULL, &flag));
  CHECK(flag == true, "hwspec_report_has(cpu) is true");
}

static void check_expressions(const hwspec_report *report) {
  hwspec_verdict *verdict = SENTINEL_VERDICT;
  char *string = SENTINEL_STRING;
  bool flag = true;

  CHECK_RC(hwspec_check(NULL, "cpu", &verdict), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_check(report, NULL, &verdict), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_check(report, "cpu", NULL), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_check(report, "opencl\xff", &verdict), HWSPEC_ERR_INVALID);

  /* "opencl (>= " ends where a version is due: column 12, as `hwspec check` reports it. */
  CHECK_RC(hwspec_check(report, "opencl (>= ", &verdict), HWSPEC_ERR_PARSE);
  const char *message = last_error();
  CHECK(strstr(message, "column 12") != NULL, "the parse error names column 12: \"%s\"",
        message);
  CHECK_RC(hwspec_check(report, "cuda (>= 12.0) || opencl", &verdict), HWSPEC_ERR_PARSE);
  CHECK(strstr(last_error(), "column") != NULL, "the parse error names a column: \"%s\"",
        last_error());
  CHECK(verdict == SENTINEL_VERDICT, "hwspec_check leaves *out alone on error");

  hwspec_verdict_free(NULL);
  CHECK(1, "hwspec_verdict_free(NULL) returns");
  CHECK_OK(hwspec_check(report, "cpu", &verdict));
  if (verdict == SENTINEL_VERDICT || verdict == NULL) return;
  CHECK_RC(hwspec_verdict_satisfied(NULL, &flag), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_verdict_satisfied(verdict, NULL), HWSPEC_ERR_NULL);
  CHECK(flag == true, "hwspec_verdict_satisfied leaves *out alone on error");
  CHECK_RC(hwspec_verdict_explanation(NULL, &string), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_verdict_explanation(verdict, NULL), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_verdict_json(NULL, &string), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_verdict_json(verdict, NULL), HWSPEC_ERR_NULL);
  CHECK(string == SENTINEL_STRING, "verdict explanation/json leave *out alone on error");
  hwspec_verdict_free(verdict);
  hwspec_string_free(NULL);
  CHECK(1, "hwspec_string_free(NULL) returns");
}

/* An invalid HWSPEC_OVERRIDE_* fails the probe as it fails the CLI; a valid one is applied. */
static void check_overrides(const hwspec_options *options) {
  hwspec_report *report = SENTINEL_REPORT;
  setenv("HWSPEC_OVERRIDE_CUDA", "1.2 3", 1);
  CHECK_RC(hwspec_probe(options, &report), HWSPEC_ERR_OVERRIDE);
  CHECK(strstr(last_error(), "HWSPEC_OVERRIDE_CUDA") != NULL,
        "the override error names the variable: \"%s\"", last_error());
  CHECK(report == SENTINEL_REPORT, "hwspec_probe leaves *out alone on error");

  unsetenv("HWSPEC_OVERRIDE_CUDA");

  /* HWSPEC_WORKER must be absolute (the header says so); the caller's own worker setting is
   * not involved, so save and restore whatever the runner set. It names a program to run, so
   * as root it counts only when the options trust the environment. */
  const char *saved = getenv("HWSPEC_WORKER");
  char *worker = saved ? strdup(saved) : NULL;
  setenv("HWSPEC_WORKER", "hwspec-worker", 1);
  hwspec_options *trusting = NULL;
  CHECK_OK(hwspec_options_new(&trusting));
  CHECK_OK(hwspec_options_set_backends(trusting, "cpu"));
  CHECK_OK(hwspec_options_set_trust_env(trusting, true));
  CHECK_RC(hwspec_probe(trusting, &report), HWSPEC_ERR_INVALID);
  CHECK(report == SENTINEL_REPORT, "hwspec_probe leaves *out alone on error");
  hwspec_options_free(trusting);
  if (geteuid() == 0) {
    report = NULL;
    CHECK_OK(hwspec_probe(options, &report));
    char *json = NULL;
    if (report != NULL) CHECK_OK(hwspec_report_json(report, &json));
    CHECK(json != NULL && strstr(json, "\"HWSPEC_WORKER\"") != NULL,
          "as root without trust, HWSPEC_WORKER is ignored and listed as withheld");
    hwspec_string_free(json);
    hwspec_report_free(report);
    report = SENTINEL_REPORT;
  } else {
    CHECK_RC(hwspec_probe(options, &report), HWSPEC_ERR_INVALID);
  }
  if (worker != NULL) {
    setenv("HWSPEC_WORKER", worker, 1);
    free(worker);
  } else {
    unsetenv("HWSPEC_WORKER");
  }

  setenv("HWSPEC_OVERRIDE_CUDA", "12.4", 1);
  report = NULL;
  CHECK_OK(hwspec_probe(options, &report));
  unsetenv("HWSPEC_OVERRIDE_CUDA");
  if (report == NULL) return;
  bool has = false;
  CHECK_OK(hwspec_report_has(report, "cuda", ">=", "12.0", &has));
  CHECK(has, "HWSPEC_OVERRIDE_CUDA=12.4 gives cuda (>= 12.0)");
  hwspec_report_free(report);
}

static void check_package_requirement(void) {
  char dir[] = "/tmp/hwspec-errors-XXXXXX";
  if (!CHECK(mkdtemp(dir) != NULL, "mkdtemp")) return;
  char path[128];
  snprintf(path, sizeof path, "%s/control", dir);
  FILE *f = fopen(path, "w");
  if (!CHECK(f != NULL, "write %s", path)) return;
  fputs("Source: foo\n"
        "Maintainer: Someone <someone@example.org>\n"
        "X-Requires-Hwspec: opencl (>= 1.2)\n"
        "\n"
        "Package: foo-bin\n"
        "Architecture: any\n"
        "XB-Requires-Hwspec: vulkan\n"
        "\n"
        "Package: foo-doc\n"
        "Architecture: all\n",
        f);
  fclose(f);

  char *requirement = NULL;
  CHECK_OK(hwspec_package_requirement(path, HWSPEC_DEBIAN_CONTROL, NULL, &requirement));
  CHECK(requirement != NULL && strcmp(requirement, "opencl (>= 1.2), vulkan") == 0,
        "all stanzas joined: \"%s\"", requirement ? requirement : "(null)");
  hwspec_string_free(requirement);
  requirement = NULL;
  CHECK_OK(hwspec_package_requirement(path, HWSPEC_DEBIAN_CONTROL, "foo-doc", &requirement));
  CHECK(requirement != NULL && strcmp(requirement, "opencl (>= 1.2)") == 0,
        "source stanza and foo-doc: \"%s\"", requirement ? requirement : "(null)");
  hwspec_string_free(requirement);

  requirement = SENTINEL_STRING;
  CHECK_RC(hwspec_package_requirement(NULL, HWSPEC_DEBIAN_CONTROL, NULL, &requirement),
           HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_package_requirement(path, HWSPEC_DEBIAN_CONTROL, NULL, NULL), HWSPEC_ERR_NULL);
  CHECK_RC(hwspec_package_requirement(path, HWSPEC_DEBIAN_CONTROL, "foo-\xff", &requirement),
           HWSPEC_ERR_INVALID);
  /* C lets any int through an enum parameter; the library must reject it, not trust it. */
  CHECK_RC(hwspec_package_requirement(path, (hwspec_package_file)7, NULL, &requirement),
           HWSPEC_ERR_INVALID);
  unlink(path);
  CHECK_RC(hwspec_package_requirement(path, HWSPEC_DEBIAN_CONTROL, NULL, &requirement),
           HWSPEC_ERR_CONTROL);
  CHECK(strlen(last_error()) > 0, "the control error says why: \"%s\"", last_error());
  CHECK(requirement == SENTINEL_STRING, "hwspec_package_requirement leaves *out alone on error");
  rmdir(dir);
}

int main(int argc, char **argv) {
  check_version(argc > 1 ? argv[1] : NULL);
  check_options();

  /* A real report to query; cpu alone keeps this test fast (the cache answers after the
   * first run). */
  hwspec_options *options = NULL;
  CHECK_OK(hwspec_options_new(&options));
  if (options == NULL) return check_summary("errors");
  CHECK_OK(hwspec_options_set_backends(options, "cpu"));
  hwspec_report *report = NULL;
  CHECK_OK(hwspec_probe(options, &report));
  if (report != NULL) {
    check_report_queries(report);
    check_expressions(report);
    hwspec_report_free(report);
  }
  check_overrides(options);
  hwspec_options_free(options);
  check_package_requirement();
  return check_summary("errors");
}
