#!/bin/sh
# `npm test`: builds dist/ and compiles the firmware at the same time, then runs the tap suite and
# the firmware's `make test` at the same time, and prints the firmware's output after tap's so each
# reads as a whole. Fails if any part fails.
#
# Why at the same time: tsc keeps one core busy and the C++ compile fills the other; tap's two jobs
# leave a core idle while a test waits on a timer, a socket or a child process, and the firmware's
# tests fill it. The firmware's tests need dist/ (their end-to-end test runs the server), so they
# start once tsc is done; no tap test reads firmware/build/.
cd "$(dirname "$0")/.." || exit 1
PATH="$PWD/node_modules/.bin:$PATH" # as npm sets it, for a run outside npm
log=firmware/build/test-output/make-test.log
mkdir -p "$(dirname "$log")"
make -s -j2 -C firmware all build/unit_tests > "$log" 2>&1 &
compile=$!
suite=
# A shell script's background jobs ignore Ctrl-C: pass it on, so that an interrupted run stops whole.
trap 'kill $compile $suite 2>/dev/null; exit 130' INT TERM
if ! npm run -s build; then
  wait "$compile"
  exit 1
fi
tap "$@" &
suite=$!
if wait "$compile"; then
  make -s -C firmware test >> "$log" 2>&1
  f=$?
else
  f=1
fi
wait "$suite"
t=$?
cat "$log"
[ "$t" -eq 0 ] && [ "$f" -eq 0 ]
