#!/usr/bin/env bash
# Analyses at scale, full scan of the log versus daily rollups, and the
# log's storage under retention.  Not run by test/run (it takes minutes and
# holds the test lock while it runs).
#
#   bench/scale.sh [rows (1000000)] [days (60)] [steady-state seconds (240)]
#   SKIP_FULL_SCAN=1 bench/scale.sh 10000000 60 0   (rollups only: a full scan
#                                                   of 10M rows takes minutes)
#
# 1. Builds a history of `rows` logged work orders spread over `days` days
#    (direct back-dated inserts in time order, as the log grows: 4
#    proposers, 10 bands, 40 codes, sample rates 1 / 0.2 / 0.1, enhancement
#    tokens CODE@N and CODE@0, a message per code; each day's rows within its first hour back
#    from now, so that a window's edge falls between rows while it runs).
# 2. Times analyze_enhancement_effectiveness('30 days'),
#    get_common_unaddressed_errors(5, '30 days'), refresh_enhancement_stats()
#    and validation_report() over the last 30 days and over everything as a
#    full scan (nothing folded; the report's full scan is
#    test/validation_full_scan.sql, the 0.1.0 report), then folds (timed)
#    and times them again from the rollups, then again with a tail of
#    20,000 rows not folded yet (before and after the BRIN index summarizes
#    the tail's block ranges).  Each time is the best of 3.  Two eras of
#    live texts give the report bounds inside hours.
# 3. Steady state: log_retention = 60 s, inserts 1,000 rows a second for
#    `steady-state seconds`, folding, purging and vacuuming every 5 s as the
#    worker (plus autovacuum) would; prints the log's size every 30 s.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../test/lib.sh"
rows=${1:-1000000}
days=${2:-60}
steady=${3:-240}

AP_EXTRA_CONF="shared_buffers = 256MB
work_mem = 64MB
max_wal_size = 4GB
autovacuum_naptime = 5s"
ap_setup
ap_psql -d postgres -c "CREATE DATABASE scale" >/dev/null
export PGDATABASE=scale
q() { ap_psql -At -c "$1"; }

q "CREATE EXTENSION adaptive_prompts" >/dev/null
for c in $(seq 1 10); do
	q "SELECT set_enhancement('TS10$c', 'Advice for TS10$c.', $c)" >/dev/null
done
ap_psql -q -f "$here/../test/validation_full_scan.sql" >/dev/null
q "INSERT INTO version_history (kind, subject, old_version, new_version, action, changed_at, changed_by, reason)
   VALUES ('enhancement', 'TS1020', NULL, '1', 'set', now() - interval '20 days 17 minutes', 'bench', 'era'),
          ('enhancement', 'TS1030', NULL, '1', 'set', now() - interval '9 days 40 minutes', 'bench', 'era')" >/dev/null

ap_log "seeding $rows rows over $days days"
start=$(date +%s)
q "INSERT INTO proposer_failures (created_at, proposer_name, complexity_score, complexity_band,
        initial_errors, final_errors, stalled, improvement_rate, outcome, error_codes,
        error_samples, prompt_enhancements_used, is_sampled_success, sample_rate)
   SELECT now() - (g % $days) * interval '1 day' - (g % 3600) * interval '1 second',
          'model-' || (g % 4), (g % 10) / 10.0, complexity_band((g % 10) / 10.0), 4,
          CASE WHEN g % 10 < 5 THEN 3 WHEN g % 10 < 8 THEN 1 ELSE 0 END, false, 0.2,
          CASE WHEN g % 10 < 5 THEN 'failure' WHEN g % 10 < 8 THEN 'partial' ELSE 'success' END,
          CASE WHEN g % 10 >= 8 THEN '{}'::text[]
               ELSE ARRAY['TS10' || (1 + g % 40), 'TS10' || (1 + (g / 7) % 40)] END,
          CASE WHEN g % 10 >= 8 THEN '[]'::jsonb
               ELSE jsonb_build_array(jsonb_build_object('code', 'TS10' || (1 + g % 40),
                                      'message', 'Argument of type string is not assignable, case ' || g),
                                      jsonb_build_object('code', 'TS10' || (1 + (g / 7) % 40),
                                      'message', 'Parameter implicitly has an any type, case ' || g)) END,
          ARRAY['TS10' || (1 + g % 10) || '@' || (g % 3), 'TS10' || (1 + (g / 3) % 10) || '@1'],
          g % 10 >= 8, CASE WHEN g % 10 < 5 THEN 1 WHEN g % 10 < 8 THEN 0.2 ELSE 0.1 END
     FROM generate_series(1, $rows) g ORDER BY 1" >/dev/null
q "VACUUM ANALYZE proposer_failures" >/dev/null
ap_log "seeded in $(($(date +%s) - start)) s; log $(q "SELECT pg_size_pretty(pg_total_relation_size('proposer_failures'))")"

# Best of 3, in ms.
timed() {
	q "DO \$\$
	   DECLARE t timestamptz; best float8 := 'infinity';
	   BEGIN
	     FOR i IN 1..3 LOOP
	       t := clock_timestamp();
	       PERFORM count(*) FROM ($1) x;
	       best := least(best, extract(epoch FROM clock_timestamp() - t) * 1000);
	     END LOOP;
	     RAISE NOTICE '%', round(best::numeric, 1);
	   END \$\$" 2>&1 | sed -n 's/.*NOTICE: *//p'
}
# $1: the row's name; $2: the report function (validation_report or
# validation_report_full_scan).
measure() {
	eff=$(timed "SELECT * FROM analyze_enhancement_effectiveness('30 days')")
	una=$(timed "SELECT * FROM get_common_unaddressed_errors(5, '30 days')")
	ref=$(timed "SELECT refresh_enhancement_stats()")
	r30=$(timed "SELECT * FROM $2(now() - interval '30 days')")
	rall=$(timed "SELECT * FROM $2(NULL)")
	printf '| %-34s | %12s | %12s | %12s | %12s | %12s |\n' "$1" "$eff" "$una" "$ref" "$r30" "$rall"
}
# The analyses' answers, and the report's rows that count logged work orders.
answers() {
	q "SELECT md5(string_agg(x, ';' ORDER BY x)) FROM (
	     SELECT a::text AS x FROM analyze_enhancement_effectiveness('30 days') a
	     UNION ALL SELECT a::text FROM get_common_unaddressed_errors(5, '30 days') a
	     UNION ALL SELECT concat_ws('|', s.label, metric, round(value::numeric, 12), met, detail)
	       FROM (VALUES ('30 days', now() - interval '30 days'), ('all', NULL)) s (label, since), $1(s.since)
	      WHERE metric LIKE 'ts1443%' OR metric LIKE 'success_rate%' OR metric LIKE 'rate_reduction:%') s"
}

table=$(
	printf '| %-34s | %12s | %12s | %12s | %12s | %12s |\n' "$rows rows over $days days" "effectiveness" "unaddressed" "refresh" "report 30 d" "report all"
	printf '|%s|%s|%s|%s|%s|%s|\n' "------------------------------------" "--------------" "--------------" "--------------" "--------------" "--------------"
	if [[ -z ${SKIP_FULL_SCAN:-} ]]; then
		measure "full scan (ms)" validation_report_full_scan
		before=$(answers validation_report_full_scan)
	else
		before=skipped
	fi
	t=$(date +%s%N)
	q "SELECT fold_rollups()" >/dev/null
	q "SELECT fold_rollups()" >/dev/null
	fold_ms=$((($(date +%s%N) - t) / 1000000))
	q "VACUUM ANALYZE log_rollups, log_report_rollups" >/dev/null
	measure "rollups (ms)" validation_report
	after=$(answers validation_report)
	q "INSERT INTO proposer_failures (proposer_name, complexity_score, complexity_band, initial_errors,
	       final_errors, stalled, improvement_rate, outcome, error_codes, prompt_enhancements_used, sample_rate)
	   SELECT 'model-' || (g % 4), 0.5, '0.5-0.6', 3, 3, false, 0, 'failure',
	          ARRAY['TS10' || (1 + g % 40)], ARRAY['TS10' || (1 + g % 10) || '@1'], 1
	     FROM generate_series(1, 20000) g" >/dev/null
	measure "rollups + 20k-row tail (ms)" validation_report
	tail_scan=$(answers validation_report_full_scan)
	tail_rollups=$(answers validation_report)
	# The tail's block ranges, as autovacuum summarizes them (autosummarize)
	# within a naptime: until then every BRIN scan reads them all.
	q "SELECT brin_summarize_new_values('proposer_failures_created_at_brin')" >/dev/null
	measure "same, tail's BRIN ranges summarized" validation_report
	echo
	echo "first fold of $rows rows: $fold_ms ms; rollup rows: $(q "SELECT count(*) FROM log_rollups"), $(q "SELECT pg_size_pretty(pg_total_relation_size('log_rollups'))"); report rollup rows: $(q "SELECT count(*) FROM log_report_rollups"), $(q "SELECT pg_size_pretty(pg_total_relation_size('log_report_rollups'))")"
	if [[ $tail_scan == "$tail_rollups" ]]; then
		echo "report with the 20k-row tail: identical to its full scan"
	else
		echo "report with the 20k-row tail DIFFERS from its full scan"
	fi
	if [[ $before == skipped ]]; then
		echo "answers after the fold: $after (no full scan to compare with)"
	elif [[ $before == "$after" ]]; then
		echo "answers before and after the fold: identical ($before)"
	else
		echo "answers before and after the fold DIFFER: $before vs $after"
	fi
)
echo "$table"

ap_log "steady state under retention: log_retention = 60 s, 1,000 rows/s for $steady s"
q "TRUNCATE proposer_failures, log_rollups, log_report_rollups, log_rollup_state" >/dev/null
q "ALTER SYSTEM SET adaptive_prompts.log_retention = '60s'" >/dev/null
ap_reload
printf '| %8s | %10s | %12s | %12s |\n' "seconds" "log rows" "log size" "rollups size"
printf '|%s|%s|%s|%s|\n' "----------" "------------" "--------------" "--------------"
t0=$(date +%s)
while (($(date +%s) - t0 < steady)); do
	for i in 1 2 3 4 5; do
		q "INSERT INTO proposer_failures (proposer_name, complexity_score, complexity_band, initial_errors,
		       final_errors, stalled, improvement_rate, outcome, error_codes, error_samples,
		       prompt_enhancements_used, sample_rate)
		   SELECT 'model-' || (g % 4), 0.5, '0.5-0.6', 3, 3, false, 0, 'failure',
		          ARRAY['TS10' || (1 + g % 40)],
		          jsonb_build_array(jsonb_build_object('code', 'TS10' || (1 + g % 40), 'message', repeat('x', 200))),
		          ARRAY['TS10' || (1 + g % 10) || '@1'], 1
		     FROM generate_series(1, 1000) g" >/dev/null
		sleep 1
	done
	q "SELECT fold_rollups()" >/dev/null
	while (($(q "SELECT purge_log(10000)") > 0)); do :; done
	q "VACUUM proposer_failures" >/dev/null
	elapsed=$(($(date +%s) - t0))
	if ((elapsed % 30 < 6)); then
		printf '| %8s | %10s | %12s | %12s |\n' "$elapsed" "$(q "SELECT count(*) FROM proposer_failures")" \
			"$(q "SELECT pg_size_pretty(pg_total_relation_size('proposer_failures'))")" \
			"$(q "SELECT pg_size_pretty(pg_total_relation_size('log_rollups'))")"
	fi
done
