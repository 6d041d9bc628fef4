#!/usr/bin/env bash
# sql.sh -- throughput of sanitize_typescript in SQL against its ceiling,
# detoasting and copying the same text:
#   bench/sanitizer/sql.sh [rounds (15)]
# Loads the corpus of the over-correction check (every file of the pinned
# npm packages in test/sanitizer/npm_packages.sh: typescript lib/*.d.ts,
# @types/node and the .ts/.tsx sources of the component libraries; all
# valid, so nothing is changed, as for most real code) into two tables, one
# with the default storage (large files compressed) and one with STORAGE
# EXTERNAL (large files out of line, uncompressed), and times, per table
# and per part of the corpus (declarations: typescript + @types/node, the
# .d.ts-heavy corpus of the first measurement; sources: the component
# libraries), in alternating rounds:
#   scan       SELECT sum(octet_length(code))           (no detoasting)
#   ceiling    SELECT sum(octet_length(code || ''))     (detoast + copy)
#   sanitizer  SELECT sum(octet_length((sanitize_typescript(code, tsx)).sanitized))
#              (AP_SANITIZE_CALL replaces "sanitize_typescript(code, tsx)",
#              e.g. to measure an older build without the tsx argument)
# and prints the median milliseconds and the ratio ceiling / sanitizer
# (1.0: as fast as detoasting and copying the text; the target is >= 0.8).
#
# Starts its own throwaway cluster (test/lib.sh, as root; takes the test
# lock, builds and installs the extension).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../test/lib.sh"
rounds=${1:-15}
call=${AP_SANITIZE_CALL:-sanitize_typescript(code, tsx)}
. "$AP_ROOT/test/sanitizer/npm_packages.sh"

work=$(mktemp -d)
chmod 755 "$work"
list() {
	local spec dir n=0
	for spec in "typescript@$AP_TYPESCRIPT_VERSION" "@types/node@$AP_TYPES_NODE_VERSION" $AP_SOURCE_PACKAGES; do
		n=$((n + 1))
		dir=$(npm_package_dir "$spec") || { echo "cannot fetch $spec: $dir" >&2; exit 1; }
		if ((n == 1)); then
			ls "$dir"/lib/*.d.ts
		else
			find "$dir" -type f \( -name '*.ts' -o -name '*.tsx' \) ! -path '*/node_modules/*' | LC_ALL=C sort
		fi | sed "s/^/$( ((n <= 2)) && echo declarations || echo sources)\t/"
	done
}
list >"$work/files"
python3 - "$work/files" "$work/corpus.csv" <<'PY'
import csv, sys
with open(sys.argv[1]) as names, open(sys.argv[2], 'w', newline='') as out:
    w = csv.writer(out)
    for line in names:
        part, name = line.rstrip('\n').split('\t', 1)
        with open(name, encoding='utf-8') as f:
            w.writerow([part, 't' if name.endswith('.tsx') else 'f', f.read()])
PY

export AP_EXTRA_CONF="shared_buffers = 256MB
jit = off"
ap_setup
trap 'rm -rf "$work"; ap_stop_cluster' EXIT
export PGDATABASE=bench_sanitizer
ap_psql -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE" -c "CREATE DATABASE $PGDATABASE"
ap_psql <<SQL
CREATE EXTENSION adaptive_prompts;
CREATE TABLE corpus_default (part text, tsx boolean, code text);
CREATE TABLE corpus_external (part text, tsx boolean, code text);
ALTER TABLE corpus_external ALTER COLUMN code SET STORAGE EXTERNAL;
\copy corpus_default FROM '$work/corpus.csv' WITH (FORMAT csv)
-- code || '': decompressed, so that it is stored uncompressed
INSERT INTO corpus_external SELECT part, tsx, code || '' FROM corpus_default;
VACUUM ANALYZE corpus_default;
VACUUM ANALYZE corpus_external;
SQL
ap_psql -At -c "SELECT count(*), count(*) FILTER (WHERE tsx), sum(octet_length(code)),
                       pg_total_relation_size('corpus_default'), pg_total_relation_size('corpus_external'),
                       count(*) FILTER (WHERE ($call).changes_made <> '{}')
                  FROM corpus_default" >"$work/sizes"
IFS='|' read -r files tsx bytes size_default size_external changed <"$work/sizes"

# one psql session per round: warm-up, then each query once, timed
round() {
	local from="$1 WHERE part LIKE '$2'"
	{
		echo "SELECT sum(octet_length(code || '')), sum(octet_length(($call).sanitized)) FROM $from;"
		echo '\timing on'
		echo "SELECT sum(octet_length(code)) FROM $from;"
		echo "SELECT sum(octet_length(code || '')) FROM $from;"
		echo "SELECT sum(octet_length(($call).sanitized)) FROM $from;"
	} | ap_psql -At | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | paste -sd' '
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "corpus: $files files ($tsx .tsx), $bytes bytes; files changed by the sanitizer: $changed"
echo "tables: default storage $size_default bytes, STORAGE EXTERNAL $size_external bytes"
printf '%-16s %-13s %9s %11s %13s %18s\n' "table" "part" "scan ms" "ceiling ms" "sanitizer ms" "ceiling/sanitizer"
for table in corpus_default corpus_external; do
	for part in declarations sources %; do
		: >"$work/times"
		for ((r = 0; r < rounds; r++)); do
			round "$table" "$part" >>"$work/times"
		done
		scan=$(awk '{ print $1 }' "$work/times" | median)
		ceiling=$(awk '{ print $2 }' "$work/times" | median)
		sanitizer=$(awk '{ print $3 }' "$work/times" | median)
		printf '%-16s %-13s %9s %11s %13s %18s\n' "$table" "${part/\%/all}" "$scan" "$ceiling" "$sanitizer" \
			"$(awk -v c="$ceiling" -v s="$sanitizer" 'BEGIN { printf "%.2f", c / s }')"
	done
done
echo "(median of $rounds rounds; ratio 1.0 = as fast as detoasting and copying the text)"
