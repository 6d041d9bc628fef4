#!/bin/sh
# Valid TypeScript and TSX from npm (typescript, @types/node and component
# libraries that ship .ts/.tsx sources) comes back unchanged; fails, not
# skips, without npm/node when CI is set.
# Run from the repository root by prove (see test/sanitizer/run.sh).
cd "$(dirname "$0")/../.." || exit 1
exec sh test/sanitizer/corpus_check.sh
