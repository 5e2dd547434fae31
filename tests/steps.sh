# Counted test steps for the shell test drivers (hwspec-ffi/tests/run-c-tests.sh,
# tests/packages.sh). Source it, set `steps_name`, run `step NAME COMMAND...` for each check
# and end with `finish`, which prints `NAME: N passed, M failed (S s)` and exits 1 if any
# step failed.

passed=0
failed=0
failures=()
started=$(date +%s)

# step NAME COMMAND...: runs one check, its output indented, and counts it; fails as it did.
step() {
  local name=$1
  shift
  echo "== $name"
  if "$@" 2>&1 | sed 's/^/   /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
    failures+=("$name")
    return 1
  fi
}

finish() {
  [ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[@]}"
  echo "$steps_name: $passed passed, $failed failed ($(($(date +%s) - started)) s)"
  [ "$failed" -eq 0 ]
  exit
}
