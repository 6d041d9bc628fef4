#!/bin/sh
# The fuzz corpus through the fuzz harness's property checks.
# Run from the repository root by prove (see test/sanitizer/run.sh).
cd "$(dirname "$0")/../.." || exit 1
make -s -f sanitizer.mk test/sanitizer/corpus_unit >&2 || { echo "Bail out! cannot build test/sanitizer/corpus_unit"; exit 1; }
exec test/sanitizer/corpus_unit fuzz/corpus
