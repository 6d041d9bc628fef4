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
q "SELECT count(record_work_order('m', 0.25, 2, 0, false, '{}', '[]', v.version, '{}', '{}', 'ab-' || i))
     FROM generate_series(1, 40) i, get_active_prompt_version('m', 'ab-' || i) v" >/dev/null
is "$(q "SELECT p.candidate_work_orders = 7 + (SELECT count(*) FROM generate_series(1, 40) i
                                               WHERE ab_test_arm($old_test, 'ab-' || i) = 'candidate')
            AND p.incumbent_work_orders = 5 + (SELECT count(*) FROM generate_series(1, 40) i
                                               WHERE ab_test_arm($old_test, 'ab-' || i) = 'incumbent')
            AND p.candidate_successes + p.incumbent_successes = 6 + 3 + 40
         FROM ab_test_progress p WHERE p.test_id = $old_test")" t \
	"the test's counts go on from the row's after the update"
is "$(q "SELECT count(*) FROM proposer_failures WHERE work_order_id LIKE 'old-%'")" 20 \
	"the log's rows are kept"
is "$(q "SELECT count(*) FROM (SELECT record_work_order('m', 0.25, 2, 2, work_order_id => 'new-' || i) FROM generate_series(1, 10) i) s")" 10 \
	"record_work_order works after the update"
is "$(q "SELECT count(*) FROM proposer_failures WHERE work_order_id LIKE 'new-%'")" 10 \
	"and logs its failures next to the old ones"
done_testing
