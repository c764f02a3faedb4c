#!/bin/sh
# `npm test` after the build: the tap suite and the firmware's `make test` at the same time, then
# the firmware's output after tap's, so each reads as a whole. Fails if either fails.
#
# Why at the same time: tap's two jobs leave a core idle while a test waits on a timer, a socket or
# a child process, and the firmware's compile fills it. The firmware tests need only dist/ (built
# before this runs) and firmware/build/; no tap test reads firmware/build/.
cd "$(dirname "$0")/.." || exit 1
PATH="$PWD/node_modules/.bin:$PATH" # as npm sets it, for a run outside npm
log=firmware/build/test-output/make-test.log
mkdir -p "$(dirname "$log")"
make -s -j2 -C firmware test > "$log" 2>&1 &
firmware=$!
tap "$@"
t=$?
wait "$firmware"
f=$?
cat "$log"
[ "$t" -eq 0 ] && [ "$f" -eq 0 ]
