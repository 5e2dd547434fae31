/* libhwspec: probe which accelerators a Linux machine can really use.
 * Generated from hwspec-ffi by cbindgen; do not edit. See docs/c-api.md. */

#ifndef HWSPEC_H
#define HWSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The version of this header; hwspec_version() gives the library's. */
#define HWSPEC_VERSION_MAJOR 0
#define HWSPEC_VERSION_MINOR 1
#define HWSPEC_VERSION_PATCH 0
#define HWSPEC_VERSION "0.1.0"

/*
 What a hwspec function did. Every function that can fail returns one; outputs are written
 only with `HWSPEC_OK`, and otherwise `hwspec_last_error()` says why.
 */
typedef enum hwspec_result {
  /*
   Success; the outputs are written.
   */
  HWSPEC_OK = 0,
  /*
   A required pointer argument was NULL.
   */
  HWSPEC_ERR_NULL = 1,
  /*
   An argument is invalid (bad level, backend name, UTF-8, index out of range).
   */
  HWSPEC_ERR_INVALID = 2,
  /*
   A requirement expression does not parse.
   */
  HWSPEC_ERR_PARSE = 3,
  /*
   A control/.dsc/.deb file cannot be read or is malformed.
   */
  HWSPEC_ERR_CONTROL = 4,
  /*
   An HWSPEC_OVERRIDE_* variable is invalid.
   */
  HWSPEC_ERR_OVERRIDE = 5,
  /*
   hwspec itself failed. A missing worker executable is not this: it is a reason in the
   report.
   */
  HWSPEC_ERR_IO = 6,
  /*
   A bug in hwspec was caught at the boundary.
   */
  HWSPEC_ERR_PANIC = 7,
} hwspec_result;

/*
 Which kind of file `hwspec_package_requirement` reads.
 */
typedef enum hwspec_package_file {
  /*
   A source tree's `debian/control`.
   */
  HWSPEC_DEBIAN_CONTROL = 0,
  /*
   A source package's `.dsc`.
   */
  HWSPEC_DSC = 1,
  /*
   A binary package (`.deb`).
   */
  HWSPEC_DEB = 2,
} hwspec_package_file;

/*
 Probe options (opaque). Made by `hwspec_options_new`, freed by `hwspec_options_free`.
 */
typedef struct hwspec_options hwspec_options;

/*
 A probe's report (opaque, immutable). Made by `hwspec_probe`, freed by
 `hwspec_report_free`; may be read from many threads at once.
 */
typedef struct hwspec_report hwspec_report;

/*
 A judged requirement (opaque, immutable). Made by `hwspec_check`, freed by
 `hwspec_verdict_free`; may be read from many threads at once.
 */
typedef struct hwspec_verdict hwspec_verdict;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/*
 The library's version, e.g. "0.1.0": a static string, never NULL, equal to the
 `HWSPEC_VERSION` of the header it was built with.
 */
const char *hwspec_version(void);

/*
 The message of the last failed call on the calling thread, or "" if none failed. Never
 NULL. The pointer stays valid until the next hwspec call on the same thread.
 */
const char *hwspec_last_error(void);

/*
 Frees a string returned by hwspec (JSON, explanations, requirements). NULL is fine. Not
 for the borrowed strings of `hwspec_version`, `hwspec_last_error` or
 `hwspec_report_capability`.

 # Safety

 `s` is NULL or a string hwspec returned for the caller to free, not freed before and not
 used afterwards.
 */
void hwspec_string_free(char *s);

/*
 Makes options with the defaults: all backends, level standard, 60 s in all, the report
 cache used when at most 3600 s old, loader variables not trusted as root, the worker found
 as `hwspec_options_set_worker` describes.

 # Safety

 `out` is NULL or valid for writing one pointer.
 */
enum hwspec_result hwspec_options_new(struct hwspec_options **out);

/*
 Frees options made by `hwspec_options_new`. NULL is fine.

 # Safety

 `options` is NULL or came from `hwspec_options_new`, is not in use by another thread, and
 is not used again.
 */
void hwspec_options_free(struct hwspec_options *options);

/*
 Sets the backends to probe: comma-separated names (`"opencl,vulkan"`) among cpu, opencl,
 vulkan, cuda, hip, level_zero; `""` means all. An unknown name is `HWSPEC_ERR_INVALID`.

 # Safety

 `options` is NULL or a live `hwspec_options` not in use by another thread; `backends` is
 NULL or a NUL-terminated string.
 */
enum hwspec_result hwspec_options_set_backends(struct hwspec_options *options,
                                               const char *backends);

/*
 Sets how much to prove: `"quick"` (enumerate devices), `"standard"` (validate each device:
 a small kernel, a render or a codec query, by backend) or `"full"` (every validation).
 Anything else is `HWSPEC_ERR_INVALID`.

 # Safety

 `options` is NULL or a live `hwspec_options` not in use by another thread; `level` is NULL
 or a NUL-terminated string.
 */
enum hwspec_result hwspec_options_set_level(struct hwspec_options *options, const char *level);

/*
 Sets the time each worker may take in all, in milliseconds (more than 0); each stage's
 limit is capped at half of it, as the CLI's `--timeout` does.

 # Safety

 `options` is NULL or a live `hwspec_options` not in use by another thread.
 */
enum hwspec_result hwspec_options_set_timeout_ms(struct hwspec_options *options, uint32_t total_ms);

/*
 Whether a cached report may answer. `false` probes now, as the CLI's `--fresh`; the new
 report is still written to the cache.

 # Safety

 `options` is NULL or a live `hwspec_options` not in use by another thread.
 */
enum hwspec_result hwspec_options_set_use_cache(struct hwspec_options *options, bool use_cache);

/*
 Sets the age, in seconds, of the oldest cached report still used.

 # Safety

 `options` is NULL or a live `hwspec_options` not in use by another thread.
 */
enum hwspec_result hwspec_options_set_max_age_s(struct hwspec_options *options, uint32_t seconds);

/*
 Whether to pass loader variables (`LD_*`, `VK_*`, `OCL_ICD_*`, ...) and the caller's
 directories (`HOME`, `TMPDIR`, `XDG_*`, `PATH`) to workers when running as root, and to
 honour `HWSPEC_WORKER`, as the CLI's `--trust-env`. Without root they are always passed.

 # Safety

 `options` is NULL or a live `hwspec_options` not in use by another thread.
 */
enum hwspec_result hwspec_options_set_trust_env(struct hwspec_options *options, bool trust);

/*
 Sets the worker executable (an absolute path; a relative one is `HWSPEC_ERR_INVALID`).
 Without it the worker is `$HWSPEC_WORKER` (which must be absolute; as root only with
 `hwspec_options_set_trust_env`, otherwise it is ignored and listed in the report's
 `host.dropped_environment`), else the path built in. A worker that does not exist is no
 error here: each backend's report then says why.

 # Safety

 `options` is NULL or a live `hwspec_options` not in use by another thread; `absolute_path`
 is NULL or a NUL-terminated string.
 */
enum hwspec_result hwspec_options_set_worker(struct hwspec_options *options,
                                             const char *absolute_path);

/*
 Reads `X-Requires-Hwspec` from a package file (`XS-`/`XB-` spellings included; in a `.dsc`
 and a `.deb`, `Requires-Hwspec`). For a `debian/control` the requirements of all stanzas,
 or with `package` of the source stanza and that binary's, are joined with `", "` (all
 must hold); a stanza without the field adds nothing; `""` means cpu. `package` must be
 NULL for a `.dsc`; for a `.deb` it must name the package if given. The text is returned as
 written (not checked): pass it to `hwspec_check`. Free it with `hwspec_string_free`.
 A file that cannot be read or is malformed is `HWSPEC_ERR_CONTROL`.

 # Safety

 `path` and `package` are each NULL or a NUL-terminated string; `out` is NULL or valid for
 writing one pointer.
 */
enum hwspec_result hwspec_package_requirement(const char *path,
                                              hwspec_package_file kind,
                                              const char *package,
                                              char **out);

/*
 Probes this machine, each backend in its own worker process, or answers from the report
 cache as the options allow; then applies the `HWSPEC_OVERRIDE_*` environment variables, as
 the CLI does. `options` may be NULL for the defaults. A backend that could not be probed
 (no runtime, no device, a crashing driver, a missing worker) is no error: its entry in the
 report says why. Errors: `HWSPEC_ERR_OVERRIDE` for a bad override variable,
 `HWSPEC_ERR_INVALID` when `HWSPEC_WORKER` is not an absolute path (and is used: as root it
 is ignored unless the options trust the environment).

 # Safety

 `options` is NULL or a live `hwspec_options` that no thread changes during the call;
 `out` is NULL or valid for writing one pointer.
 */
enum hwspec_result hwspec_probe(const struct hwspec_options *options, struct hwspec_report **out);

/*
 Frees a report. NULL is fine. Strings borrowed from it become invalid.

 # Safety

 `report` is NULL or came from `hwspec_probe`, no other thread uses it, and it is not used
 again.
 */
void hwspec_report_free(struct hwspec_report *report);

/*
 The whole report as JSON: the document `hwspec probe --json` prints. Free it with
 `hwspec_string_free`.

 # Safety

 `report` is NULL or a live `hwspec_report`; `out` is NULL or valid for writing one pointer.
 */
enum hwspec_result hwspec_report_json(const struct hwspec_report *report, char **out);

/*
 The number of capabilities in the report.

 # Safety

 `report` is NULL or a live `hwspec_report`; `out` is NULL or valid for writing a `size_t`.
 */
enum hwspec_result hwspec_report_capability_count(const struct hwspec_report *report, size_t *out);

/*
 The capability at `index` (from 0, sorted by name): `*name` is its name and `*version` its
 version, or NULL for a capability without one. Both point into the report and stay valid
 while it lives. An index past the end is `HWSPEC_ERR_INVALID`.

 # Safety

 `report` is NULL or a live `hwspec_report`; `name` and `version` are each NULL or valid
 for writing one pointer.
 */
enum hwspec_result hwspec_report_capability(const struct hwspec_report *report,
                                            size_t index,
                                            const char **name,
                                            const char **version);

/*
 Whether capability `name` is present; with `op` and `version` (both given, or both NULL),
 whether some value of it satisfies `op version` in Debian version order. `op` is one of
 `"<<"`, `"<="`, `"="`, `">="`, `">>"`. A capability without a version satisfies no
 constraint. Only one of `op` and `version` given is `HWSPEC_ERR_NULL`; an unknown `op` or a
 `version` that is not a Debian version is `HWSPEC_ERR_INVALID`.

 # Safety

 `report` is NULL or a live `hwspec_report`; `name`, `op` and `version` are each NULL or a
 NUL-terminated string; `out` is NULL or valid for writing a `bool`.
 */
enum hwspec_result hwspec_report_has(const struct hwspec_report *report,
                                     const char *name,
                                     const char *op,
                                     const char *version,
                                     bool *out);

/*
 Judges a requirement expression in Debian relationship syntax (`"opencl (>= 3.0) | cuda"`)
 against the report; an empty expression means `cpu`. An expression that does not parse is
 `HWSPEC_ERR_PARSE`, with the line and column in `hwspec_last_error()`. Many threads may
 check against one report at once.

 # Safety

 `report` is NULL or a live `hwspec_report`; `expression` is NULL or a NUL-terminated
 string; `out` is NULL or valid for writing one pointer.
 */
enum hwspec_result hwspec_check(const struct hwspec_report *report,
                                const char *expression,
                                struct hwspec_verdict **out);

/*
 Frees a verdict. NULL is fine.

 # Safety

 `verdict` is NULL or came from `hwspec_check`, no other thread uses it, and it is not
 used again.
 */
void hwspec_verdict_free(struct hwspec_verdict *verdict);

/*
 Whether the report satisfies the whole expression.

 # Safety

 `verdict` is NULL or a live `hwspec_verdict`; `out` is NULL or valid for writing a `bool`.
 */
enum hwspec_result hwspec_verdict_satisfied(const struct hwspec_verdict *verdict, bool *out);

/*
 The explanation `hwspec check --explain` prints: one line for the expression, then per
 clause `[yes]` or `[no ]` and each relation with the device that proves it or why nothing
 does. Free it with `hwspec_string_free`.

 # Safety

 `verdict` is NULL or a live `hwspec_verdict`; `out` is NULL or valid for writing one
 pointer.
 */
enum hwspec_result hwspec_verdict_explanation(const struct hwspec_verdict *verdict, char **out);

/*
 The verdict as JSON: `{"expression": ..., "satisfied": ..., "clauses": [{"text",
 "satisfied", "relations": [{"text", "satisfied", "explanation", "device"}]}]}`, the shape
 of a verdict in `hwspec check --json`. Free it with `hwspec_string_free`.

 # Safety

 `verdict` is NULL or a live `hwspec_verdict`; `out` is NULL or valid for writing one
 pointer.
 */
enum hwspec_result hwspec_verdict_json(const struct hwspec_verdict *verdict, char **out);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* HWSPEC_H */
