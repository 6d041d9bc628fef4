#!/bin/sh
# run.sh -- benchmark of the TypeScript sanitizer against the notes' regex
# sanitizer (Component 9, kept as regex_sanitizer.js), on the same files in
# the same run:
#   sh bench/sanitizer/run.sh
# The files are every lib/*.d.ts of the npm package typescript and every .ts
# file of @types/node (fetched with npm pack into the cache dir, as the
# corpus test does).  The C core is timed through `tools/ts_sanitize
# --bench`, the regex version with node after a JIT warm-up; each side runs
# AP_BENCH_ROUNDS (3) times, alternating, AP_BENCH_MIN_SECONDS (2) each, and
# the median MB/s (10^6 bytes/s) is reported.  Also reports how many of the
# files each one changes (all of them are valid TypeScript, so the right
# number is 0).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. test/sanitizer/npm_packages.sh

rounds=${AP_BENCH_ROUNDS:-3}
export AP_BENCH_MIN_SECONDS=${AP_BENCH_MIN_SECONDS:-2}

command -v node >/dev/null 2>&1 || { echo "node is required" >&2; exit 1; }
make -s -f sanitizer.mk tools/ts_sanitize
ts_dir=$(npm_package_dir "typescript@$AP_TYPESCRIPT_VERSION") ||
	{ echo "cannot fetch typescript: $ts_dir" >&2; exit 1; }
node_dir=$(npm_package_dir "@types/node@$AP_TYPES_NODE_VERSION") ||
	{ echo "cannot fetch @types/node: $node_dir" >&2; exit 1; }

list=$(mktemp)
results=$(mktemp)
trap 'rm -f "$list" "$results" "$results.c" "$results.js"' EXIT
{ ls "$ts_dir"/lib/*.d.ts; find "$node_dir" -name '*.ts' -type f | LC_ALL=C sort; } >"$list"

# value KEY: the value of "KEY value" lines from stdin
value() { awk -v key="$1" '$1 == key { print $2 }'; }

i=0
while [ "$i" -lt "$rounds" ]; do
	# shellcheck disable=SC2046
	tools/ts_sanitize --bench --min-seconds "$AP_BENCH_MIN_SECONDS" $(cat "$list") >"$results.c"
	# shellcheck disable=SC2046
	node bench/sanitizer/bench_regex.js $(cat "$list") >"$results.js"
	echo "c $(value MB_per_s <"$results.c") js $(value MB_per_s <"$results.js")" >>"$results"
	i=$((i + 1))
done

files=$(value files <"$results.c")
bytes=$(value bytes <"$results.c")
c_changed=$(value changed_files <"$results.c")
js_changed=$(value changed_files <"$results.js")
c_rate=$(awk '{ print $2 }' "$results" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
js_rate=$(awk '{ print $4 }' "$results" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')

echo "corpus: typescript@$AP_TYPESCRIPT_VERSION lib/*.d.ts + @types/node@$AP_TYPES_NODE_VERSION *.ts"
echo "files:  $files"
echo "bytes:  $bytes"
echo "rounds: $rounds x ${AP_BENCH_MIN_SECONDS}s per side (MB/s per round: $(awk '{ printf "%sC/%sJS ", $2, $4 }' "$results"))"
printf '%-34s %10s %16s\n' "sanitizer" "MB/s" "files changed"
printf '%-34s %10s %16s\n' "C core (tools/ts_sanitize)" "$c_rate" "$c_changed of $files"
printf '%-34s %10s %16s\n' "notes' regexes (node $(node --version))" "$js_rate" "$js_changed of $files"
grep '^changes ' "$results.js" | sed 's/^changes /  regex changes: /'
awk -v c="$c_rate" -v j="$js_rate" 'BEGIN { printf "throughput ratio C / regex: %.1fx\n", c / j }'
