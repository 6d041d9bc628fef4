#!/usr/bin/env bash
# Rollups are folded exactly once (TAP output).
#
# 1. A backend killed in the middle of a fold (the fold's transaction not
#    committed) loses and doubles nothing: the watermark and the rollups
#    (daily and the report's hourly ones) are as before, the next folds fold
#    every row once, and the analyses and validation_report give the
#    answers of the full scan.
# 2. Folds running every 0.2 s while four pgbench clients log work orders
#    with record_work_order (ids handed out before commit, commits out of
#    id order): afterwards every row is in the rollups exactly once.
# 3. A transaction that took an id and stays open while later ids commit:
#    a fold waits for it before it records its bound, so its row is not
#    skipped.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with the extension
# installed (test/run provides them).  Uses its own database.

source "$(dirname "$0")/../tap.sh"

new_database ap_rollups_crash
WORK=$(mktemp -d)
at_exit 'rm -rf "$WORK"'
q "CREATE EXTENSION adaptive_prompts" >/dev/null
q "SELECT set_enhancement('TS2345', 'Compare each argument with the declared parameter type.', 7)" >/dev/null
q "SELECT register_proposer('m', 0.5, 1)" >/dev/null
q "INSERT INTO proposer_failures (created_at, proposer_name, complexity_score, complexity_band,
       initial_errors, final_errors, stalled, improvement_rate, outcome, error_codes,
       prompt_enhancements_used, is_sampled_success, sample_rate)
   SELECT now() - (g % 20) * interval '1 day' - (g % 1440) * interval '1 minute', 'p' || (g % 3), 0.5,
          '0.5-0.6', 3, CASE WHEN g % 4 = 0 THEN 0 ELSE 2 END, false, 0,
          CASE WHEN g % 4 = 0 THEN 'success' ELSE 'failure' END,
          CASE WHEN g % 4 = 0 THEN '{}'::text[] ELSE ARRAY['TS' || (2340 + g % 9)] END,
          CASE WHEN g % 3 = 0 THEN '{TS2345@1}'::text[] ELSE '{}' END,
          g % 4 = 0, CASE WHEN g % 4 = 0 THEN 0.1 ELSE 1 END
     FROM generate_series(1, 200000) g" >/dev/null

answers() {
	q "SELECT md5(concat_ws('/',
	     (SELECT string_agg(a::text, ';' ORDER BY a.error_code) FROM analyze_enhancement_effectiveness('7 days 3 hours') a),
	     (SELECT string_agg(a::text, ';' ORDER BY a.error_code) FROM get_common_unaddressed_errors(1, '30 days') a)))"
}
# Rows of the log per (day, proposer, band) that the rollups do not count
# exactly (0: every folded row once).
mismatches() {
	q "SELECT count(*) FROM (
	     (SELECT day, proposer_name, complexity_band, work_orders, weight FROM log_rollups WHERE kind = 'total'
	      EXCEPT SELECT date_trunc('day', created_at, 'UTC'), proposer_name, complexity_band, count(*),
	                    sum(1::numeric / sample_rate::numeric)
	               FROM proposer_failures WHERE id <= (SELECT folded_through FROM log_rollup_state) GROUP BY 1, 2, 3)
	     UNION ALL
	     (SELECT date_trunc('day', created_at, 'UTC'), proposer_name, complexity_band, count(*),
	             sum(1::numeric / sample_rate::numeric)
	        FROM proposer_failures WHERE id <= (SELECT folded_through FROM log_rollup_state) GROUP BY 1, 2, 3
	      EXCEPT SELECT day, proposer_name, complexity_band, work_orders, weight FROM log_rollups WHERE kind = 'total')) x"
}

# An era for validation_report's rate_reduction row, its bound inside an hour.
q "INSERT INTO version_history (kind, subject, old_version, new_version, action, changed_at, changed_by, reason)
   VALUES ('enhancement', 'TS2341', NULL, '1', 'set', now() - interval '5 days 3 hours 7 minutes', 'tester', 'seeded')" >/dev/null
# validation_report's rows that count logged work orders, and the same from
# a full scan of the log (test/validation_full_scan.sql).
"${PSQL[@]}" -q -f "$AP_ROOT/test/validation_full_scan.sql" >/dev/null
report_rows() {
	q "SELECT md5(string_agg(concat_ws('|', metric, round(value::numeric, 12), met, detail), ';' ORDER BY metric))
	     FROM $1(now() - interval '9 days 7 hours 5 minutes')
	    WHERE metric LIKE 'ts1443%' OR metric LIKE 'success_rate%' OR metric LIKE 'rate_reduction:%'"
}
full_scan=$(answers)
[[ $(q "SELECT value FROM validation_report_full_scan(now() - interval '9 days 7 hours 5 minutes') WHERE metric = 'rate_reduction:TS2341'") != "" ]]
ok $? "the full scan has a rate reduction for TS2341 (the comparisons below can fail)"
is "$(q "SELECT fold_rollups()")" 0 "the first fold records a bound"

# 1. Kill a backend in the middle of a fold.
"${PSQL[@]}" -v ON_ERROR_STOP=0 >"$WORK/victim.out" 2>&1 <<'SQL' &
SET application_name = 'ap_fold_victim';
BEGIN;
SELECT fold_rollups();
SELECT pg_sleep(60);
COMMIT;
SQL
victim=$!
for _ in $(seq 200); do
	[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ap_fold_victim' AND state = 'active'") == 1 ]] && break
	sleep 0.05
done
sleep 0.3
is "$(q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ap_fold_victim'")" t \
	"a backend is killed in the middle of its fold"
wait "$victim"
is "$(q "SELECT folded_through FROM log_rollup_state")" 0 "the killed fold left the watermark where it was"
is "$(q "SELECT count(*) FROM log_rollups")" 0 "and no rollup row"
is "$(q "SELECT count(*) FROM log_report_rollups")" 0 "nor a row of the report's rollups"
is "$(answers)" "$full_scan" "the answers are those of the full scan"
is "$(q "SELECT fold_rollups()")" 200000 "the next fold folds every row"
is "$(mismatches)" 0 "once each"
is "$(q "SELECT sum(work_orders) FROM log_report_rollups WHERE kind = 'total'")" 200000 \
	"the report's rollups too"
is "$(report_rows validation_report)" "$(report_rows validation_report_full_scan)" \
	"and validation_report gives the full scan's answers"
is "$(answers)" "$full_scan" "and the rollups give the answers of the full scan"

# 2. Folds while work orders are logged concurrently.
cat >"$WORK/record.sql" <<'SQL'
\set s random(0, 999)
SELECT record_work_order('m', :s / 1000.0, 3, 2, false, '{TS2345}', '[]', NULL, '{TS2345@1}');
SQL
"$AP_PG_BIN/pgbench" -n -c 4 -j 2 -T 6 -f "$WORK/record.sql" >"$WORK/pgbench.out" 2>&1 &
bench=$!
folds=0
while kill -0 "$bench" 2>/dev/null; do
	q "SELECT fold_rollups()" >/dev/null && folds=$((folds + 1))
	sleep 0.2
done
wait "$bench"
ok $? "pgbench logs work orders without an error while folds run"
q "SELECT fold_rollups()" >/dev/null
q "SELECT fold_rollups()" >/dev/null
note "$folds folds during the run; $(q "SELECT count(*) - 200000 FROM proposer_failures") work orders logged"
is "$(q "SELECT folded_through = max(id) FROM log_rollup_state, proposer_failures GROUP BY folded_through")" t \
	"two folds after the last commit reach the last row"
is "$(mismatches)" 0 "every row logged during the folds is in the rollups exactly once"
is "$(q "SELECT sum(work_orders) = (SELECT count(*) FROM proposer_failures) FROM log_rollups WHERE kind = 'total'")" t \
	"and the totals count every logged row"
is "$(q "SELECT sum(work_orders) = (SELECT count(*) FROM proposer_failures) FROM log_report_rollups WHERE kind = 'total'")" t \
	"so do the report's rollups"
# 3. A row whose transaction is still open when higher ids have committed.
session_open
session_ask "BEGIN;" >/dev/null
session_ask "INSERT INTO proposer_failures (proposer_name, complexity_score, complexity_band, initial_errors, final_errors, stalled, improvement_rate, outcome, error_codes, sample_rate) VALUES ('late', 0.5, '0.5-0.6', 1, 1, false, 0, 'failure', '{TS2345}', 1) RETURNING id;" >/dev/null
q "INSERT INTO proposer_failures (proposer_name, complexity_score, complexity_band, initial_errors,
       final_errors, stalled, improvement_rate, outcome, error_codes, sample_rate)
   SELECT 'early', 0.5, '0.5-0.6', 1, 1, false, 0, 'failure', '{TS2345}', 1 FROM generate_series(1, 10)" >/dev/null
"${PSQL[@]}" -c "SELECT fold_rollups()" >"$WORK/fold1.out" 2>&1 &
fold1=$!
sleep 1
kill -0 "$fold1" 2>/dev/null
ok $? "a fold waits for a transaction that is inserting into the log"
# It waits without a lock request of its own, so record_work_order's inserts
# do not queue behind it.
is "$(timeout 10 "${PSQL[@]}" -c "SET client_min_messages = warning" -c "SELECT (record_work_order('during-fold', 0.5, 2, 2)).logged" 2>&1)" t \
	"meanwhile record_work_order still logs work orders"
# A second fold meanwhile (without the wait it would fold past the open row).
"${PSQL[@]}" -c "SELECT fold_rollups()" >"$WORK/fold2.out" 2>&1 &
fold2=$!
sleep 0.5
session_ask "COMMIT;" >/dev/null
session_close
wait "$fold1" && wait "$fold2"
ok $? "both folds end once it commits"
q "SELECT fold_rollups()" >/dev/null
q "SELECT fold_rollups()" >/dev/null
is "$(q "SELECT sum(work_orders) FROM log_rollups WHERE kind = 'total' AND proposer_name = 'late'")" 1 \
	"the row of the late transaction is folded"
is "$(mismatches)" 0 "and every row once"
done_testing
