#!/bin/sh
# fix_check.sh -- the sanitizer's fixes give TypeScript that parses.
#
# For every test/sanitizer/broken/NAME.ts and NAME.tsx (sanitized as TSX,
# the kind taken from the file name, and parsed as ScriptKind.TSX):
#   - NAME.expect lists the changes the sanitizer must report, one per line,
#     in the order it reports them; an empty NAME.expect marks a valid input
#     that must come back unchanged;
#   - a broken input must have syntax errors under TypeScript's own parser
#     (so the check can fail), and its sanitized output must have none;
#   - sanitizing the output again changes nothing.
# The parser is the typescript package fetched with npm pack (see
# npm_packages.sh), driven by ts_syntax.js with node.  TAP: one line per
# input; the diagnostics codes before and after are printed as comments.
# Skips (1..0 # SKIP) only when npm/node are unavailable or the registry
# cannot be reached -- and fails instead when the environment variable CI
# is set, so that CI cannot pass without running it.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. test/sanitizer/npm_packages.sh

skip() {
	if [ -n "${CI:-}" ]; then
		echo "Bail out! $1 (CI is set, so the TypeScript-parser check must run)"
		exit 1
	fi
	echo "SKIP: $1" >&2
	echo "1..0 # SKIP $1"
	exit 0
}
command -v node >/dev/null 2>&1 || skip "node unavailable"
if [ ! -x tools/ts_sanitize ]; then
	make -s -f sanitizer.mk tools/ts_sanitize >&2 || { echo "Bail out! cannot build tools/ts_sanitize"; exit 1; }
fi
ts_dir=$(npm_package_dir "typescript@$AP_TYPESCRIPT_VERSION") || {
	[ $? -eq 77 ] && skip "$ts_dir"
	echo "Bail out! cannot fetch typescript@$AP_TYPESCRIPT_VERSION"
	exit 1
}

work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT

set -- test/sanitizer/broken/*.ts test/sanitizer/broken/*.tsx
echo "1..$#"

# sanitize every input (and every output once more), then parse all at once;
# ts_sanitize takes the kind from the file name (NAME.tsx: TSX)
for f in "$@"; do
	ext=${f##*.}
	name=$(basename "$f" ".$ext")
	tools/ts_sanitize "$f" >"$work/$name.out.$ext" 2>"$work/$name.changes" ||
		echo "ts_sanitize exited $?" >>"$work/$name.changes"
	tools/ts_sanitize "$work/$name.out.$ext" >"$work/$name.again.$ext" 2>"$work/$name.again.changes"
done
node test/sanitizer/ts_syntax.js "$ts_dir" "$@" "$work"/*.out.ts "$work"/*.out.tsx >"$work/syntax.tsv" ||
	{ echo "Bail out! ts_syntax.js failed"; exit 1; }

# codes FILE: the diagnostics codes ts_syntax.js printed for FILE ("-": none)
codes() {
	awk -F '\t' -v file="$1" '$1 == file { print $2 }' "$work/syntax.tsv"
}

number=0
failures=0
for f in "$@"; do
	number=$((number + 1))
	ext=${f##*.}
	name=$(basename "$f" ".$ext")
	expect=test/sanitizer/broken/$name.expect
	before=$(codes "$f")
	after=$(codes "$work/$name.out.$ext")
	problem=
	if [ ! -f "$expect" ]; then
		problem="missing $expect"
	elif ! cmp -s "$expect" "$work/$name.changes"; then
		problem="changes_made: $(tr '\n' ' ' <"$work/$name.changes")expected: $(tr '\n' ' ' <"$expect")"
	elif [ ! -s "$expect" ] && [ "$before" != "-" ]; then
		problem="valid input has syntax errors: $before"
	elif [ ! -s "$expect" ] && ! cmp -s "$f" "$work/$name.out.$ext"; then
		problem="valid input was changed"
	elif [ -s "$expect" ] && [ "$before" = "-" ]; then
		problem="broken input has no syntax error, so this check proves nothing"
	elif [ "$after" != "-" ]; then
		problem="sanitized output still has syntax errors: $after"
	elif [ -s "$work/$name.again.changes" ] || ! cmp -s "$work/$name.out.$ext" "$work/$name.again.$ext"; then
		problem="sanitizing the output again changed it"
	fi
	label="$name: $(tr '\n' ' ' <"$work/$name.changes" | sed 's/ $//')"
	[ -s "$work/$name.changes" ] || label="$name: valid, unchanged"
	if [ -z "$problem" ]; then
		echo "ok $number - $label"
	else
		echo "not ok $number - $label"
		echo "# $problem"
		failures=$((failures + 1))
	fi
	echo "# before: $before; after: $after"
done
[ "$failures" -eq 0 ]
