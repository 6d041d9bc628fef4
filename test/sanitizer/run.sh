#!/bin/sh
# run.sh -- all sanitizer tests, from any directory:
#   sh test/sanitizer/run.sh        (exit status non-zero on any failure)
# Builds the test programs with sanitizer.mk, then runs the TAP tests
#   01_unit.t         unit test of the core
#   02_fuzz_corpus.t  fuzz/corpus through the fuzz harness's property checks
#   03_npm_corpus.t   corpus_check.sh: valid .ts/.tsx from npm unchanged
#   04_fix_check.t    fix_check.sh: broken .ts/.tsx parse after sanitizing
# under prove.  Extra arguments go to prove (e.g. -v).
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
make -s -f sanitizer.mk sanitizer-programs || exit 1
exec prove "$@" test/sanitizer/*.t
