#!/bin/sh
# corpus_check.sh -- the sanitizer must not over-correct valid TypeScript.
#
# The corpus: every lib/*.d.ts of the npm package typescript, every .ts
# file of @types/node, and every .ts and .tsx file of the packages in
# AP_SOURCE_PACKAGES (component libraries that ship their sources), all
# fetched with npm pack and pinned (see npm_packages.sh).  Each file is
# parsed with TypeScript's own parser (ts_syntax.js: .tsx as
# ScriptKind.TSX); a file the parser rejects is skipped and counted.  Every
# file the parser accepts must come back from tools/ts_sanitize --changed
# (which takes .tsx from the file name) byte-identical with no change
# reported.  TAP: one line per package, and one more for the .tsx files
# with dashes and smart quotes added to every JSX text and attribute string
# (jsx_inject.js; the copies that still parse must come back unchanged).
#
# Skips (1..0 # SKIP) when node or npm is unavailable or the registry
# cannot be reached -- unless the environment variable CI is set: then it
# fails instead, so that CI cannot pass without running it.
#
# Run from anywhere; builds tools/ts_sanitize if it is missing.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. test/sanitizer/npm_packages.sh

if [ ! -x tools/ts_sanitize ]; then
	make -s -f sanitizer.mk tools/ts_sanitize >&2 || { echo "Bail out! cannot build tools/ts_sanitize"; exit 1; }
fi

# unavailable REASON: skip, or fail when CI is set
unavailable() {
	if [ -n "${CI:-}" ]; then
		echo "Bail out! $1 (CI is set, so the corpus check must run)"
		exit 1
	fi
	echo "SKIP: $1" >&2
	echo "1..0 # SKIP $1"
	exit 0
}
command -v node >/dev/null 2>&1 || unavailable "node unavailable"

work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT

# fetch everything first; list each package's files in $work/files.N
specs="typescript@$AP_TYPESCRIPT_VERSION @types/node@$AP_TYPES_NODE_VERSION $AP_SOURCE_PACKAGES"
n=0
for spec in $specs; do
	n=$((n + 1))
	dir=$(npm_package_dir "$spec")
	status=$?
	if [ $status -eq 77 ]; then
		unavailable "$dir"
	elif [ $status -ne 0 ]; then
		echo "Bail out! cannot fetch $spec"
		exit 1
	fi
	[ $n -eq 1 ] && ts_dir=$dir
	if [ $n -eq 1 ]; then
		ls "$dir"/lib/*.d.ts
	else
		find "$dir" -type f \( -name '*.ts' -o -name '*.tsx' \) ! -path '*/node_modules/*'
	fi | LC_ALL=C sort >"$work/files.$n"
	printf '%s\n' "$spec" >"$work/spec.$n"
done

# which files TypeScript's parser accepts, all packages in one node run
cat "$work"/files.* | node test/sanitizer/ts_syntax.js "$ts_dir" --accepted - \
	>"$work/accepted" 2>"$work/parse.log" ||
	{ echo "Bail out! ts_syntax.js failed: $(cat "$work/parse.log")"; exit 1; }

echo "1..$((n + 1))"
i=0
total=0
total_tsx=0
total_rejected=0
total_changed=0
while [ $i -lt $n ]; do
	i=$((i + 1))
	spec=$(cat "$work/spec.$i")
	grep -F -x -f "$work/files.$i" "$work/accepted" >"$work/ok.$i"
	listed=$(wc -l <"$work/files.$i")
	checked=$(wc -l <"$work/ok.$i")
	tsx=$(grep -c '\.tsx$' "$work/ok.$i")
	rejected=$((listed - checked))
	# shellcheck disable=SC2046
	tools/ts_sanitize --changed $(cat "$work/ok.$i") >"$work/changed.$i" 2>"$work/stats.$i"
	status=$?
	changed=$(wc -l <"$work/changed.$i")
	total=$((total + checked))
	total_tsx=$((total_tsx + tsx))
	total_rejected=$((total_rejected + rejected))
	label="$spec: $checked files ($((checked - tsx)) .ts, $tsx .tsx)"
	[ $rejected -gt 0 ] && label="$label, $rejected rejected by TypeScript's parser and skipped"
	if [ "$checked" -eq 0 ]; then
		echo "not ok $i - $spec: no files found"
		total_changed=$((total_changed + 1))
	elif [ $status -gt 1 ] || { [ $status -eq 1 ] && [ "$changed" -eq 0 ]; }; then
		echo "not ok $i - $label: ts_sanitize failed: $(cat "$work/stats.$i")"
		total_changed=$((total_changed + 1))
	elif [ "$changed" -eq 0 ]; then
		echo "ok $i - $label byte-identical, no changes"
	else
		echo "not ok $i - $label: $changed changed"
		sed 's/^/# changed: /' "$work/changed.$i"
		total_changed=$((total_changed + changed))
	fi
done
# JSX text and attribute strings with dashes and smart quotes added
mkdir "$work/injected"
grep '\.tsx$' "$work/accepted" |
	node test/sanitizer/jsx_inject.js "$ts_dir" "$work/injected" >"$work/inject.log" ||
	{ echo "Bail out! jsx_inject.js failed"; exit 1; }
injected_files=$(awk '$1 == "files" { print $2 }' "$work/inject.log")
insertions=$(awk '$1 == "insertions" { print $2 }' "$work/inject.log")
i=$((i + 1))
label="$injected_files .tsx files with dashes and smart quotes added at $insertions JSX texts and attribute strings"
if [ "${injected_files:-0}" -eq 0 ]; then
	echo "not ok $i - no .tsx file to add dashes and smart quotes to"
	total_changed=$((total_changed + 1))
elif tools/ts_sanitize --changed "$work"/injected/*.tsx >"$work/changed.injected" 2>/dev/null; then
	echo "ok $i - $label: unchanged"
else
	echo "not ok $i - $label: $(wc -l <"$work/changed.injected") changed"
	sed 's/^/# changed: /' "$work/changed.injected" | head -n 20
	total_changed=$((total_changed + $(wc -l <"$work/changed.injected")))
fi
echo "# total: $total files accepted by TypeScript's parser ($((total - total_tsx)) .ts, $total_tsx .tsx), $total_rejected rejected and skipped; $total_changed changed"
[ "$total_changed" -eq 0 ]
