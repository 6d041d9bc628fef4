#!/bin/sh
# corpus_check.sh -- the sanitizer must not over-correct valid TypeScript.
#
# Runs tools/ts_sanitize on every lib/*.d.ts of the npm package typescript
# and every .ts file of @types/node (fetched with npm pack, see
# npm_packages.sh) and requires each to come back byte-identical with no
# change reported.  TAP: one line per package.  Skips (1..0 # SKIP) only
# when npm is unavailable or its registry cannot be reached.
#
# Run from anywhere; builds tools/ts_sanitize if it is missing.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. test/sanitizer/npm_packages.sh

if [ ! -x tools/ts_sanitize ]; then
	make -s -f sanitizer.mk tools/ts_sanitize >&2 || { echo "Bail out! cannot build tools/ts_sanitize"; exit 1; }
fi

skip() {
	echo "SKIP: $1" >&2
	echo "1..0 # SKIP $1"
	exit 0
}
ts_dir=$(npm_package_dir "typescript@$AP_TYPESCRIPT_VERSION") || {
	[ $? -eq 77 ] && skip "$ts_dir"
	echo "Bail out! cannot fetch typescript@$AP_TYPESCRIPT_VERSION"
	exit 1
}
node_dir=$(npm_package_dir "@types/node@$AP_TYPES_NODE_VERSION") || {
	[ $? -eq 77 ] && skip "$node_dir"
	echo "Bail out! cannot fetch @types/node@$AP_TYPES_NODE_VERSION"
	exit 1
}

work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT

echo "1..2"
test_number=0
total_files=0
total_failed=0

# check_files LABEL FILE...: one TAP line for the files
check_files() {
	label=$1
	shift
	test_number=$((test_number + 1))
	count=0
	failed=0
	for f in "$@"; do
		count=$((count + 1))
		tools/ts_sanitize <"$f" >"$work/out" 2>"$work/changes"
		status=$?
		if [ $status -ne 0 ] || ! cmp -s "$f" "$work/out" || [ -s "$work/changes" ]; then
			failed=$((failed + 1))
			echo "# changed: $f ($(tr '\n' ' ' <"$work/changes")exit $status)"
		fi
	done
	total_files=$((total_files + count))
	total_failed=$((total_failed + failed))
	if [ "$count" -eq 0 ]; then
		echo "not ok $test_number - $label: no files found"
		total_failed=$((total_failed + 1))
	elif [ "$failed" -eq 0 ]; then
		echo "ok $test_number - $label: $count files byte-identical, no changes"
	else
		echo "not ok $test_number - $label: $failed of $count files changed"
	fi
}

# shellcheck disable=SC2046
check_files "typescript@$AP_TYPESCRIPT_VERSION lib/*.d.ts" "$ts_dir"/lib/*.d.ts
# shellcheck disable=SC2046
check_files "@types/node@$AP_TYPES_NODE_VERSION *.ts" $(find "$node_dir" -name '*.ts' -type f | LC_ALL=C sort)
echo "# total: $((total_files - total_failed)) of $total_files files byte-identical with no changes"
[ "$total_failed" -eq 0 ]
