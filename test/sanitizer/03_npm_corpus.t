#!/bin/sh
# Valid TypeScript from npm (typescript, @types/node) comes back unchanged.
# Run from the repository root by prove (see test/sanitizer/run.sh).
cd "$(dirname "$0")/../.." || exit 1
exec sh test/sanitizer/corpus_check.sh
