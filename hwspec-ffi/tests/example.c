/* example.c: the smallest complete use of libhwspec, as a user would write it (no test
 * helpers): probe, print the capability set, decide whether a requirement is met and why.
 * Exit status 0 when the requirement given as argv[1] (default "opencl (>= 1.2)") is
 * satisfied, 1 when not, 2 on an error, like `hwspec check`. */
#include <hwspec.h>
#include <stdbool.h>
#include <stdio.h>

int main(int argc, char **argv) {
  const char *requirement = argc > 1 ? argv[1] : "opencl (>= 1.2)";
  hwspec_options *options = NULL;
  hwspec_report *report = NULL;
  hwspec_verdict *verdict = NULL;
  char *explanation = NULL;
  bool satisfied = false;
  int status = 2;

  if (hwspec_options_new(&options) != HWSPEC_OK ||
      hwspec_options_set_backends(options, "cpu,opencl,vulkan") != HWSPEC_OK ||
      hwspec_probe(options, &report) != HWSPEC_OK)
    goto out;

  size_t count = 0;
  if (hwspec_report_capability_count(report, &count) != HWSPEC_OK) goto out;
  for (size_t i = 0; i < count; i++) {
    const char *name, *version;
    if (hwspec_report_capability(report, i, &name, &version) != HWSPEC_OK) goto out;
    printf(version ? "%s (= %s)\n" : "%s\n", name, version);
  }

  if (hwspec_check(report, requirement, &verdict) != HWSPEC_OK ||
      hwspec_verdict_satisfied(verdict, &satisfied) != HWSPEC_OK ||
      hwspec_verdict_explanation(verdict, &explanation) != HWSPEC_OK)
    goto out;
  printf("%s\n", explanation);
  status = satisfied ? 0 : 1;

out:
  if (status == 2) fprintf(stderr, "hwspec: %s\n", hwspec_last_error());
  hwspec_string_free(explanation);
  hwspec_verdict_free(verdict);
  hwspec_report_free(report);
  hwspec_options_free(options);
  return status;
}
