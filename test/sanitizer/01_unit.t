#!/bin/sh
# Unit test of the sanitizer core (test/sanitizer/unit.c).
# Run from the repository root by prove (see test/sanitizer/run.sh).
cd "$(dirname "$0")/../.." || exit 1
make -s -f sanitizer.mk test/sanitizer/unit >&2 || { echo "Bail out! cannot build test/sanitizer/unit"; exit 1; }
exec test/sanitizer/unit
