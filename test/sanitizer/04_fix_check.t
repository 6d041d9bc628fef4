#!/bin/sh
# Broken inputs (.ts and .tsx): exact changes, and TypeScript's parser
# accepts the output; fails, not skips, without npm/node when CI is set.
# Run from the repository root by prove (see test/sanitizer/run.sh).
cd "$(dirname "$0")/../.." || exit 1
exec sh test/sanitizer/fix_check.sh
