#!/usr/bin/env bash
# Upgrades: an install of 0.1.0 updated to the current version has the same
# objects, definitions, comments, privileges and seeded rows as a fresh
# install (test/integration/upgrade_describe.sql describes them); rows made
# under 0.1.0 are kept and the hot path goes on after the update; until the
# update, the new library refuses the old tables with a clear error.
source "$(dirname "$0")/../tap.sh"
here=$(cd "$(dirname "$0")" && pwd)
current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$AP_ROOT/adaptive_prompts.control")

describe() {
	"${PSQL[@]}" -d "$1" -f "$here/upgrade_describe.sql"
}

new_database ap_upgrade_fresh
q "CREATE EXTENSION adaptive_prompts" >/dev/null
is "$(q "SELECT extversion FROM pg_extension WHERE extname = 'adaptive_prompts'")" "$current" \
	"a fresh install is the control file's default version ($current)"

new_database ap_upgrade_old
q "CREATE EXTENSION adaptive_prompts VERSION '0.1.0'" >/dev/null
is "$(q "SELECT extversion FROM pg_extension WHERE extname = 'adaptive_prompts'")" "0.1.0" \
	"0.1.0 installs from its own script"

# The new library against the 0.1.0 tables: a clear error, nothing written.
err=$("${PSQL[@]}" -v VERBOSITY=verbose -c "SELECT register_proposer('m', 0.3, 1)" 2>&1 >/dev/null)
[[ $err == *"55000"*"version 0.1.0 in this database"*"library is version $current"* &&
   $err == *"ALTER EXTENSION adaptive_prompts UPDATE"* ]]
ok $? "before the update, a call is refused with 55000 and a hint to update" || note "$err"
is "$(q "SELECT count(*) FROM proposers")" 0 "the refused call wrote nothing"

q "ALTER EXTENSION adaptive_prompts UPDATE" >/dev/null
ok $? "ALTER EXTENSION adaptive_prompts UPDATE from 0.1.0"
is "$(q "SELECT extversion FROM pg_extension WHERE extname = 'adaptive_prompts'")" "$current" \
	"the update reaches $current"

fresh=$(describe ap_upgrade_fresh)
updated=$(describe ap_upgrade_old)
[[ $(wc -l <<<"$fresh") -gt 300 ]]
ok $? "the description covers the extension's objects ($(wc -l <<<"$fresh") lines)"
diff_out=$(diff <(printf '%s\n' "$fresh") <(printf '%s\n' "$updated"))
ok $? "an updated install equals a fresh one" || note "$(head -40 <<<"$diff_out")"

# Rows made under 0.1.0 survive the update, and the hot path goes on.
new_database ap_upgrade_data
q "CREATE EXTENSION adaptive_prompts VERSION '0.1.0'" >/dev/null
# Under 0.1.0 the library refuses calls; the rows are made the way a 0.1.0
# library would have left them.
q "INSERT INTO proposers (name, complexity_threshold, cost_rank, active) VALUES ('m', 0.3, 1, true)" >/dev/null
q "INSERT INTO proposer_failures (work_order_id, proposer_name, complexity_score, complexity_band,
     initial_errors, final_errors, stalled, improvement_rate, outcome, error_codes, sample_rate)
   SELECT 'old-' || i, 'm', 0.25, '0.2-0.3', 3, 2, false, 0.33, 'failure', ARRAY['TS2345'], 1
     FROM generate_series(1, 20) i" >/dev/null
# An experiment running under 0.1.0 (8 of 10 so far, 21 of 30 needed) and
# a promotion being watched (3 of 3 watched so far): counts on the row.
q "INSERT INTO proposers (name, complexity_threshold, cost_rank, active) VALUES ('w', 0.5, 2, true)" >/dev/null
q "INSERT INTO threshold_experiments (proposer_name, old_threshold, new_threshold, test_sample_size,
     confidence_threshold, current_sample_count, current_successes, current_success_rate)
   VALUES ('m', 0.3, 0.4, 30, 0.7, 10, 8, 0.8)" >/dev/null
q "INSERT INTO threshold_experiments (proposer_name, old_threshold, new_threshold, test_sample_size,
     confidence_threshold, status, watching, current_sample_count, current_successes, current_success_rate,
     watch_rule, watch_sample_count, watch_successes, decided_at)
   VALUES ('w', 0.4, 0.5, 5, 0.7, 'promoted', true, 5, 5, 1, 'below_bar', 3, 3, now())" >/dev/null
q "INSERT INTO proposer_failures (created_at, work_order_id, proposer_name, complexity_score, complexity_band,
     initial_errors, final_errors, stalled, improvement_rate, outcome, error_codes, sample_rate)
   SELECT now() - i * interval '97 minutes', 'older-' || i, 'm', 0.35, '0.3-0.4', 3,
          CASE WHEN i % 3 = 0 THEN 0 ELSE 2 END, false, 0.33,
          CASE WHEN i % 3 = 0 THEN 'success' ELSE 'failure' END,
          CASE WHEN i % 3 = 0 THEN '{}'::text[] WHEN i % 2 = 0 THEN '{TS1443}' ELSE '{TS2345}' END,
          CASE WHEN i % 3 = 0 THEN 0.1 ELSE 1 END
     FROM generate_series(1, 40) i" >/dev/null
# A fold under 0.1.0 (its daily rollups and watermark), then 5 rows more.
q "INSERT INTO log_rollups (day, kind, code, proposer_name, complexity_band, work_orders, weight)
   SELECT date_trunc('day', created_at, 'UTC'), 'total', '', proposer_name, complexity_band, count(*),
          sum(1::numeric / sample_rate::numeric)
     FROM proposer_failures GROUP BY 1, 4, 5" >/dev/null
q "INSERT INTO log_rollup_state (folded_through, next_bound) SELECT max(id), max(id) FROM proposer_failures" >/dev/null
q "INSERT INTO proposer_failures (work_order_id, proposer_name, complexity_score, complexity_band,
     initial_errors, final_errors, stalled, improvement_rate, outcome, error_codes, sample_rate)
   SELECT 'late-' || i, 'm', 0.35, '0.3-0.4', 3, 2, false, 0.33, 'failure', '{TS1443}', 1
     FROM generate_series(1, 5) i" >/dev/null
# A prompt test running under 0.1.0, its counts on its row.
q "INSERT INTO prompt_versions (version, proposer_name, base_prompt, is_active)
   VALUES ('m/v1', 'm', 'Prompt one.', true), ('m/v2', 'm', 'Prompt two.', false)" >/dev/null
old_test=$(q "INSERT INTO ab_tests (kind, subject, candidate, incumbent, salt, sample_size, alpha,
                                    candidate_work_orders, candidate_successes, incumbent_work_orders, incumbent_successes)
              VALUES ('prompt_version', 'm', 'm/v2', 'm/v1', 14, 1000, 0.05, 7, 6, 5, 3) RETURNING id")
q "ALTER EXTENSION adaptive_prompts UPDATE" >/dev/null
is "$(q "SELECT count(*), sum(candidate_work_orders), sum(incumbent_successes) FILTER (WHERE stripe = 0)
         FROM ab_test_counts WHERE test_id = $old_test")" "16|7|3" \
	"the update makes the stripes of a running test, its counts in stripe 0"
is "$(q "SELECT count(*) FROM proposer_failures WHERE work_order_id LIKE 'old-%'")" 20 \
	"the log's rows are kept"
is "$(q "SELECT sum(work_orders) FROM log_report_rollups WHERE kind = 'total'")" 60 \
	"the update puts the rows 0.1.0 folded into the report's rollups, once"
"${PSQL[@]}" -q -f "$AP_ROOT/test/validation_full_scan.sql" >/dev/null
report_rows() {
	q "SELECT string_agg(concat_ws('|', metric, round(value::numeric, 12), met, detail), ';' ORDER BY metric)
	     FROM $1(NULL) WHERE metric LIKE 'ts1443%' OR metric LIKE 'success_rate%'"
}
[[ $(report_rows validation_report_full_scan) == *"ts1443_reduction|"[0-9-]* ]]
ok $? "the full scan has a TS1443 reduction (the comparisons below can fail)"
is "$(report_rows validation_report)" "$(report_rows validation_report_full_scan)" \
	"validation_report after the update gives the full scan's answers"
q "SELECT fold_rollups()" >/dev/null
is "$(q "SELECT fold_rollups()")" 5 "the next folds fold only the rows 0.1.0 had not folded"
is "$(report_rows validation_report)" "$(report_rows validation_report_full_scan)" \
	"and the report still gives the full scan's answers"
is "$(q "SELECT proposer_name, count(*), sum(c.sample_count), sum(c.successes), sum(c.watch_sample_count), sum(c.watch_successes)
           FROM threshold_experiment_counts c JOIN threshold_experiments e ON e.id = c.experiment_id
          GROUP BY proposer_name ORDER BY proposer_name" | tr '\n' ' ')" "m|16|10|8|0|0 w|16|5|5|3|3 " \
	"the update gives each open experiment 16 counters that start from its counts"
is "$(q "SELECT count(*) FROM (SELECT record_work_order('m', 0.35, 2, 0, work_order_id => 'exp-' || i) FROM generate_series(1, 5) i) s")" 5 \
	"work orders in the running experiment's band after the update"
is "$(q "SELECT status || ' ' || sample_count || ' ' || successes FROM threshold_experiment_progress WHERE proposer_name = 'm'")" \
	"running 15 13" "continue its counts (10 + 5, 8 + 5)"
is "$(q "SELECT (record_work_order('w', 0.45, 2, 0, work_order_id => 'watch-1')).experiment_status,
                (record_work_order('w', 0.45, 2, 0, work_order_id => 'watch-2')).experiment_status")" \
	"promoted|promoted" "work orders in the watched band are counted"
is "$(q "SELECT watching || ' ' || watch_sample_count || ' ' || watch_successes || ' ' || (watch_reason LIKE 'kept after watch: 5/5 %')
           FROM threshold_experiments WHERE proposer_name = 'w'")" "false 5 5 true" \
	"and the watch continued from its 3 to end at 5 of 5"
q "SELECT count(record_work_order('m', 0.25, 2, 0, false, '{}', '[]', v.version, '{}', '{}', 'ab-' || i))
     FROM generate_series(1, 40) i, get_active_prompt_version('m', 'ab-' || i) v" >/dev/null
is "$(q "SELECT p.candidate_work_orders = 7 + (SELECT count(*) FROM generate_series(1, 40) i
                                               WHERE ab_test_arm($old_test, 'ab-' || i) = 'candidate')
            AND p.incumbent_work_orders = 5 + (SELECT count(*) FROM generate_series(1, 40) i
                                               WHERE ab_test_arm($old_test, 'ab-' || i) = 'incumbent')
            AND p.candidate_successes + p.incumbent_successes = 6 + 3 + 40
         FROM ab_test_progress p WHERE p.test_id = $old_test")" t \
	"the test's counts go on from the row's after the update"
is "$(q "SELECT count(*) FROM (SELECT record_work_order('m', 0.25, 2, 2, work_order_id => 'new-' || i) FROM generate_series(1, 10) i) s")" 10 \
	"record_work_order works after the update"
is "$(q "SELECT count(*) FROM proposer_failures WHERE work_order_id LIKE 'new-%'")" 10 \
	"and logs its failures next to the old ones"
q "SELECT fold_rollups()" >/dev/null
q "SELECT fold_rollups()" >/dev/null
logged=$(q "SELECT count(*) FROM proposer_failures")
[[ $logged -ge 75 ]]
ok $? "the log holds the 65 rows made under 0.1.0 and the 10 failures since ($logged rows)"
is "$(q "SELECT sum(work_orders) FROM log_report_rollups WHERE kind = 'total'")" "$logged" \
	"every row is in the report's rollups once"
done_testing
