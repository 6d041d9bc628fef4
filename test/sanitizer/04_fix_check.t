#!/bin/sh
# Broken inputs: exact changes, and TypeScript's parser accepts the output.
# Run from the repository root by prove (see test/sanitizer/run.sh).
cd "$(dirname "$0")/../.." || exit 1
exec sh test/sanitizer/fix_check.sh
