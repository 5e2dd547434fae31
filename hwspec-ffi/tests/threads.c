/* threads.c: 32 threads probing and evaluating at once (issue 6, item 4).
 *
 * Each thread probes on its own (half with their own options, half reading one shared options
 * object, which the contract allows; every eighth thread with the cache off so that workers
 * are really spawned from many threads at once), then evaluates expressions both on its own
 * report and on one report shared by all threads, and provokes a parse error whose column is
 * different in every thread to check that hwspec_last_error() is per thread. Every result must
 * match what the main thread computed alone before the threads started, and every probe with
 * the cache on must be answered from the entry the main thread's probe has just written.
 *
 * With --ignore-sigchld the host ignores SIGCHLD first (the kernel then reaps workers itself
 * and their exit statuses are lost); reports must still arrive and be the same.
 *
 * Usage: threads [--ignore-sigchld] */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <hwspec.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 32
#define ROUNDS 10
#define BACKENDS "cpu,opencl"

static const char *const expressions[] = {
    "opencl (>= 1.2)", "opencl (>= 1.2), cpu", "cuda (>= 12.0) | opencl",
    "opencl-gpu",      "cuda (>= 12.0)",       "x86-64-v2 | cpu",
};
#define EXPRESSIONS (sizeof expressions / sizeof expressions[0])

static const hwspec_report *shared_report;
static const hwspec_options *shared_options;
static char *expected_capabilities;
static bool expected_satisfied[EXPRESSIONS];
static char *expected_shared_json;

/* The capability set as one string ("cpu opencl=3.0 ..."), to compare reports cheaply;
 * NULL when the report cannot be read. Free with free(). */
static char *capability_string(const hwspec_report *report) {
  size_t count = 0;
  if (hwspec_report_capability_count(report, &count) != HWSPEC_OK) return NULL;
  size_t size = 1;
  char *text = calloc(1, size);
  for (size_t i = 0; text != NULL && i < count; i++) {
    const char *name = NULL, *version = NULL;
    if (hwspec_report_capability(report, i, &name, &version) != HWSPEC_OK) {
      free(text);
      return NULL;
    }
    size_t add = strlen(name) + (version ? strlen(version) + 1 : 0) + 1;
    char *grown = realloc(text, size + add);
    if (grown == NULL) {
      free(text);
      return NULL;
    }
    text = grown;
    snprintf(text + size - 1, add + 1, "%s%s%s ", name, version ? "=" : "", version ? version : "");
    size += add;
  }
  return text;
}

/* -1 when hwspec_check or hwspec_verdict_satisfied fails, else the verdict. */
static int satisfied(const hwspec_report *report, const char *expression) {
  hwspec_verdict *verdict = NULL;
  if (hwspec_check(report, expression, &verdict) != HWSPEC_OK) return -1;
  bool answer = false;
  hwspec_result rc = hwspec_verdict_satisfied(verdict, &answer);
  hwspec_verdict_free(verdict);
  return rc == HWSPEC_OK ? answer : -1;
}

/* The report's "cache": {"hit": ...} member, pretty-printed or not. */
static bool answered_from_cache(const hwspec_report *report) {
  char *json = NULL;
  if (hwspec_report_json(report, &json) != HWSPEC_OK) return false;
  bool hit = strstr(json, "\"hit\": true") != NULL || strstr(json, "\"hit\":true") != NULL;
  hwspec_string_free(json);
  return hit;
}

struct job {
  int index;
  int failures;
  char first_failure[256];
};

static void fail(struct job *job, const char *what) {
  if (job->failures++ == 0) snprintf(job->first_failure, sizeof job->first_failure, "%s", what);
}

static void *run(void *arg) {
  struct job *job = arg;
  bool fresh = job->index % 8 == 0;
  hwspec_options *own = NULL;
  const hwspec_options *options = shared_options;
  if (fresh || job->index % 2 == 1) {
    if (hwspec_options_new(&own) != HWSPEC_OK ||
        hwspec_options_set_backends(own, BACKENDS) != HWSPEC_OK ||
        hwspec_options_set_use_cache(own, !fresh) != HWSPEC_OK) {
      fail(job, "setting up options");
      hwspec_options_free(own);
      return NULL;
    }
    options = own;
  }

  hwspec_report *report = NULL;
  if (hwspec_probe(options, &report) != HWSPEC_OK) {
    fail(job, hwspec_last_error());
    hwspec_options_free(own);
    return NULL;
  }
  hwspec_options_free(own);
  if (!fresh && !answered_from_cache(report))
    fail(job, "a probe with the cache on, right after the main thread's, was not a cache hit");
  char *capabilities = capability_string(report);
  if (capabilities == NULL || strcmp(capabilities, expected_capabilities) != 0) {
    char what[200];
    snprintf(what, sizeof what, "its own report has another capability set: %.150s",
             capabilities ? capabilities : "(unreadable)");
    fail(job, what);
  }
  free(capabilities);

  /* Column of the parse error: the expression is indented by index spaces, so every thread
   * expects its own column and would see another thread's message if the text were shared. */
  char bad[64], want_column[32];
  snprintf(bad, sizeof bad, "%*sopencl (>= ", job->index, "");
  snprintf(want_column, sizeof want_column, "column %d", 12 + job->index);

  for (int round = 0; round < ROUNDS; round++) {
    for (size_t e = 0; e < EXPRESSIONS; e++) {
      if (satisfied(report, expressions[e]) != expected_satisfied[e])
        fail(job, "a verdict on its own report differs");
      if (satisfied(shared_report, expressions[e]) != expected_satisfied[e])
        fail(job, "a verdict on the shared report differs");
    }
    hwspec_verdict *verdict = NULL;
    if (hwspec_check(shared_report, bad, &verdict) != HWSPEC_ERR_PARSE)
      fail(job, "a bad expression did not give HWSPEC_ERR_PARSE");
    else if (strstr(hwspec_last_error(), want_column) == NULL)
      fail(job, "hwspec_last_error() is not this thread's parse error");
    char *json = NULL;
    if (hwspec_report_json(shared_report, &json) != HWSPEC_OK ||
        strcmp(json, expected_shared_json) != 0)
      fail(job, "the shared report's JSON differs");
    hwspec_string_free(json);
  }
  hwspec_report_free(report);
  return NULL;
}

int main(int argc, char **argv) {
  bool ignore_sigchld = argc > 1 && strcmp(argv[1], "--ignore-sigchld") == 0;
  const char *name = ignore_sigchld ? "threads --ignore-sigchld" : "threads";
  if (ignore_sigchld) CHECK(signal(SIGCHLD, SIG_IGN) != SIG_ERR, "the host ignores SIGCHLD");

  hwspec_options *options = NULL;
  CHECK_OK(hwspec_options_new(&options));
  if (options == NULL) return check_summary(name);
  CHECK_OK(hwspec_options_set_backends(options, BACKENDS));
  CHECK_OK(hwspec_options_set_use_cache(options, true));
  shared_options = options;

  hwspec_report *report = NULL;
  CHECK_OK(hwspec_probe(options, &report));
  if (report == NULL) return check_summary(name);
  shared_report = report;
  expected_capabilities = capability_string(report);
  CHECK(expected_capabilities != NULL && strstr(expected_capabilities, "opencl=") != NULL,
        "the reference report has opencl: %s", expected_capabilities ? expected_capabilities : "");
  for (size_t e = 0; e < EXPRESSIONS; e++) {
    int answer = satisfied(report, expressions[e]);
    CHECK(answer >= 0, "reference verdict of '%s': %d", expressions[e], answer);
    expected_satisfied[e] = answer == 1;
  }
  CHECK(expected_satisfied[0] && !expected_satisfied[4], "the reference verdicts are plausible");
  CHECK_OK(hwspec_report_json(report, &expected_shared_json));
  if (expected_capabilities == NULL || expected_shared_json == NULL) return check_summary(name);

  if (ignore_sigchld) {
    /* A probe that surely spawns workers from the main thread too. */
    hwspec_options *fresh = NULL;
    hwspec_report *fresh_report = NULL;
    CHECK_OK(hwspec_options_new(&fresh));
    CHECK_OK(hwspec_options_set_backends(fresh, BACKENDS));
    CHECK_OK(hwspec_options_set_use_cache(fresh, false));
    CHECK_OK(hwspec_probe(fresh, &fresh_report));
    char *got = fresh_report ? capability_string(fresh_report) : NULL;
    CHECK(got != NULL && strcmp(got, expected_capabilities) == 0,
          "a fresh probe with SIGCHLD ignored finds the same set: %s", got ? got : "(none)");
    free(got);
    hwspec_report_free(fresh_report);
    hwspec_options_free(fresh);
  }

  pthread_t threads[THREADS];
  struct job jobs[THREADS];
  bool started[THREADS];
  for (int i = 0; i < THREADS; i++) {
    jobs[i] = (struct job){.index = i};
    started[i] = pthread_create(&threads[i], NULL, run, &jobs[i]) == 0;
    CHECK(started[i], "start thread %d", i);
  }
  for (int i = 0; i < THREADS; i++) {
    if (!started[i]) continue;
    pthread_join(threads[i], NULL);
    CHECK(jobs[i].failures == 0, "thread %d (%s%s): %d inconsistencies%s%s", i,
          i % 8 == 0 ? "fresh probe" : "cached probe",
          i % 8 != 0 && i % 2 == 0 ? ", shared options" : "", jobs[i].failures,
          jobs[i].failures ? ", first: " : "", jobs[i].first_failure);
  }

  hwspec_string_free(expected_shared_json);
  free(expected_capabilities);
  hwspec_report_free(report);
  hwspec_options_free(options);
  return check_summary(name);
}
