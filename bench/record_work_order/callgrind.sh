#!/usr/bin/env bash
# Instructions per record_work_order call, counted by callgrind (repeatable
# on a noisy machine, unlike timings): a single-user backend runs 2,000
# calls (40% failures with an error sample, ids on every call) on warm
# windows; prints the inclusive counts of the hot path's functions.
#
#   bench/record_work_order/callgrind.sh [calls (2000)]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../test/lib.sh"
calls=${1:-2000}
command -v valgrind >/dev/null || { apt-get install -y -qq valgrind >/dev/null; }
ap_setup
ap_psql -d postgres -c "CREATE DATABASE cg" >/dev/null
export PGDATABASE=cg
ap_psql -c "CREATE EXTENSION adaptive_prompts" >/dev/null
for p in 1 2 3 4; do
	ap_psql -c "SELECT register_proposer('model-$p', 0.$((p * 2)), $p)" \
		-c "SELECT register_prompt_version('model-$p', 'model-$p/v1', 'Write TypeScript.', activate => true)" >/dev/null
done
ap_psql -c "SELECT set_enhancement('TS2345', 'Check argument types.'), set_enhancement('TS2322', 'Check assignments.')" >/dev/null
ap_psql -c "SELECT count(record_work_order('model-' || (1 + i % 4), (i % 1000) / 1000.0, 5, (i % 3)::int,
                                           work_order_id => 'warm-' || i)) FROM generate_series(1, 3000) i" >/dev/null
ap_as_owner "$AP_PG_BIN/pg_ctl" -D "$AP_DATA" -w stop -m fast >/dev/null

python3 - "$calls" >"$AP_TMP/input.sql" <<'PY'
import random, sys
random.seed(1)
sample = ('[{"code": "TS2345", "message": "Argument of type string | undefined is not assignable to '
          'parameter of type string. Check the call to fetchUser in src/api/users.ts."}]')
for i in range(int(sys.argv[1])):
    p, s = 1 + i % 4, random.randint(0, 1000) / 1000
    if random.random() < 0.4:
        print(f"SELECT record_work_order('model-{p}', {s}, 5, 4, false, '{{TS2345,TS2322}}', '{sample}', "
              f"'model-{p}/v1', '{{TS2345@1}}', '{{}}', 'cg-{i}');")
    else:
        print(f"SELECT record_work_order('model-{p}', {s}, 3, 0, false, '{{}}', '[]', 'model-{p}/v1', "
              f"'{{TS2345@1}}', '{{}}', 'cg-{i}');")
PY
chown "$AP_CLUSTER_USER" "$AP_TMP/input.sql"
ap_as_owner valgrind --tool=callgrind --callgrind-out-file="$AP_TMP/callgrind.out" \
	"$AP_PG_BIN/postgres" --single -D "$AP_DATA" -c shared_preload_libraries=adaptive_prompts \
	-c synchronous_commit=off cg <"$AP_TMP/input.sql" >/dev/null 2>"$AP_TMP/valgrind.log"
echo "instructions per call (inclusive), $calls calls:"
callgrind_annotate --inclusive=yes "$AP_TMP/callgrind.out" 2>/dev/null |
	awk -v n="$calls" '/ap_record_work_order \[|window_record_attempt \[|window_lock \[|window_update \[|known_require_prompt_version \[|known_require_enhancement_versions \[|ap_execute \[|experiment_count_work_order \[|ab_count_work_order \[/ {
		gsub(",", "", $1); split($NF, a, "/"); printf "  %-40s %10.0f\n", $(NF-1), $1 / n }'
