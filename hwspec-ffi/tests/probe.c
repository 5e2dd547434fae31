/* probe.c: the "done when" through the C API. Probes cpu, OpenCL and Vulkan on this
 * machine (PoCL and lavapipe are software devices, so both must be in the capability set),
 * queries single capabilities, evaluates requirement expressions with their explanation,
 * renders report and verdict as JSON and frees everything (valgrind and LeakSanitizer runs
 * of this program catch a missing free on either side of the ABI). */
#include "check.h"

#include <hwspec.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Looks the capability up by walking the set, independently of hwspec_report_has, so the two
 * ways of reading a report are checked against each other. */
static bool in_set(const hwspec_report *report, const char *wanted) {
  size_t count = 0;
  if (hwspec_report_capability_count(report, &count) != HWSPEC_OK) return false;
  for (size_t i = 0; i < count; i++) {
    const char *name = NULL, *version = NULL;
    if (hwspec_report_capability(report, i, &name, &version) == HWSPEC_OK &&
        strcmp(name, wanted) == 0)
      return true;
  }
  return false;
}

static void check_expression(const hwspec_report *report, const char *expression, bool want) {
  hwspec_verdict *verdict = NULL;
  CHECK_OK(hwspec_check(report, expression, &verdict));
  if (verdict == NULL) return;
  bool satisfied = !want;
  CHECK_OK(hwspec_verdict_satisfied(verdict, &satisfied));
  CHECK(satisfied == want, "'%s' is %s", expression, want ? "satisfied" : "not satisfied");

  char *explanation = NULL;
  CHECK_OK(hwspec_verdict_explanation(verdict, &explanation));
  CHECK(explanation != NULL && explanation[0] != '\0', "'%s' has an explanation", expression);
  if (explanation != NULL) printf("--- explanation of '%s':\n%s\n---\n", expression, explanation);
  hwspec_string_free(explanation);

  char *json = NULL;
  CHECK_OK(hwspec_verdict_json(verdict, &json));
  CHECK(json != NULL && json[0] == '{', "verdict JSON of '%s' is an object", expression);
  hwspec_string_free(json);
  hwspec_verdict_free(verdict);
}

int main(void) {
  printf("hwspec %s\n", hwspec_version());

  hwspec_options *options = NULL;
  CHECK_OK(hwspec_options_new(&options));
  if (options == NULL) return check_summary("probe");
  CHECK_OK(hwspec_options_set_backends(options, "cpu,opencl,vulkan"));

  hwspec_report *report = NULL;
  CHECK_OK(hwspec_probe(options, &report));
  hwspec_options_free(options);
  if (report == NULL) return check_summary("probe");

  size_t count = 0;
  CHECK_OK(hwspec_report_capability_count(report, &count));
  printf("capabilities (%zu):", count);
  for (size_t i = 0; i < count; i++) {
    const char *name = NULL, *version = NULL;
    if (hwspec_report_capability(report, i, &name, &version) != HWSPEC_OK) {
      CHECK(0, "hwspec_report_capability(%zu) fails: %s", i, hwspec_last_error());
      continue;
    }
    if (version != NULL)
      printf(" %s (= %s)", name, version);
    else
      printf(" %s", name);
  }
  printf("\n");
  CHECK(in_set(report, "opencl"), "opencl is in the capability set (PoCL)");
  CHECK(in_set(report, "vulkan"), "vulkan is in the capability set (lavapipe)");
  CHECK(in_set(report, "cpu"), "cpu is in the capability set");

  bool has = false;
  CHECK_OK(hwspec_report_has(report, "opencl", ">=", "1.2", &has));
  CHECK(has, "hwspec_report_has(opencl >= 1.2) is true");
  has = true;
  CHECK_OK(hwspec_report_has(report, "opencl-gpu", NULL, NULL, &has));
  CHECK(!has, "hwspec_report_has(opencl-gpu) is false (PoCL is a CPU device)");
  has = true;
  /* The version really is compared: no OpenCL 99 exists. */
  CHECK_OK(hwspec_report_has(report, "opencl", ">>", "99", &has));
  CHECK(!has, "hwspec_report_has(opencl >> 99) is false");
  has = false;
  CHECK_OK(hwspec_report_has(report, "vulkan", NULL, NULL, &has));
  CHECK(has, "hwspec_report_has(vulkan) is true");

  check_expression(report, "opencl (>= 1.2), vulkan", true);
  check_expression(report, "cuda (>= 12.0)", false);
  check_expression(report, "cuda (>= 12.0) | opencl", true);

  char *json = NULL;
  CHECK_OK(hwspec_report_json(report, &json));
  CHECK(json != NULL && json[0] == '{' && strstr(json, "\"capabilities\"") != NULL,
        "report JSON is an object with \"capabilities\"");
  CHECK(json != NULL && strstr(json, "\"schema\": 2,") != NULL &&
            strstr(json, "\"kind\": \"saxpy\"") != NULL,
        "report JSON is schema 2, its validations named by kind (docs/report.md)");
  hwspec_string_free(json);

  hwspec_report_free(report);
  return check_summary("probe");
}
