#!/bin/sh
# Runs the suites (unit, end-to-end, package manifests, SDK compile check),
# then prints `N passed, M failed` summed over all of them as the last line; exits non-zero on any failure or
# when a suite did not report its counts.
cd "$(dirname "$0")/.." || exit 1
out=build/test-output
mkdir -p "$out"
total_pass=0
total_fail=0
status=0
for suite in unit e2e packaging sdk-check; do
  case $suite in
    unit) ./build/unit_tests > "$out/$suite.log" 2>&1 ;;
    e2e) node test/e2e.mjs > "$out/$suite.log" 2>&1 ;;
    packaging) node test/check_packaging.mjs > "$out/$suite.log" 2>&1 ;;
    sdk-check) sh test/sdk_check.sh > "$out/$suite.log" 2>&1 ;;
  esac
  rc=$?
  cat "$out/$suite.log"
  counts=$(tail -n 1 "$out/$suite.log" | sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1 \2/p')
  if [ -z "$counts" ]; then
    echo "firmware: the $suite suite stopped without reporting its counts (exit $rc)"
    total_fail=$((total_fail + 1))
    status=1
    continue
  fi
  set -- $counts
  total_pass=$((total_pass + $1))
  total_fail=$((total_fail + $2))
  if [ "$rc" -ne 0 ] || [ "$2" -ne 0 ]; then status=1; fi
done
echo "$total_pass passed, $total_fail failed"
exit $status
