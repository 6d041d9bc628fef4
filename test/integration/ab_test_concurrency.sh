#!/usr/bin/env bash
# Eight clients record work orders into open A/B tests at the same time
# (pgbench), each with its arm's version.  Counts are striped
# (ab_test_counts), so:
#  (1) with a sample size the run cannot reach, the summed stripes equal
#      the exact per-arm counts of the ids the run used (arms recomputed
#      with ab_test_arm, successes from the same rule the run used);
#  (2) in runs that cross checkpoints and the watch's looks, every decision
#      and look is taken exactly once (one decision_reason line each, in
#      order), the counts each recorded are at least its checkpoint (look)
#      and at most the live sums, version_history has exactly the rows the
#      outcome implies, and after settle_ab_tests() nothing that reached its
#      checkpoint or look is left undecided.
#
# Run by test/run (TAP output) with PGHOST, PGPORT and PGUSER set.
source "$(dirname "$0")/../tap.sh"
export PGOPTIONS="-c client_min_messages=warning"

new_database ap_ab_race
work=$(mktemp -d)
at_exit 'rm -rf "$work"'

# ---------------------------------------------------------------------------
# (1) Exact counts: one prompt test that cannot be decided during the run.
# ---------------------------------------------------------------------------
"${PSQL[@]}" >/dev/null <<'SQL'
CREATE EXTENSION adaptive_prompts;
SELECT register_proposer('exact', 0.5, 1);
SELECT register_prompt_version('exact', 'exact/v1', 'Prompt one.', activate => true);
SELECT register_prompt_version('exact', 'exact/v2', 'Prompt two.');
SELECT start_prompt_test('exact/v2', 1000000);
CREATE SEQUENCE exact_ids;
SQL
# A work order succeeds when hashtext(id) is even (recomputed below).
cat >"$work/exact.sql" <<'SQL'
SELECT (record_work_order('exact', 0.5, 2, CASE WHEN hashtext(s.id) % 2 = 0 THEN 0 ELSE 1 END, false, CASE WHEN hashtext(s.id) % 2 = 0 THEN '{}'::text[] ELSE '{TS1005}' END, '[]', v.version, '{}', '{}', s.id)).outcome FROM (SELECT 'x-' || nextval('exact_ids') AS id) s, LATERAL get_active_prompt_version('exact', s.id) v;
SQL
"$AP_PG_BIN/pgbench" -n -c 8 -j 2 -t 150 -f "$work/exact.sql" >"$work/exact.log" 2>&1
ok $? "1,200 concurrent work orders into a test recorded without a failure" || note <"$work/exact.log"
test_id=$(q "SELECT id FROM ab_tests WHERE subject = 'exact'")
is "$(q "SELECT last_value FROM exact_ids")" 1200 "every transaction used one id"
is "$(q "WITH ids AS (SELECT 'x-' || i AS id, ab_test_arm($test_id, 'x-' || i) AS arm, hashtext('x-' || i) % 2 = 0 AS success
                       FROM generate_series(1, 1200) i)
         SELECT p.candidate_work_orders = (SELECT count(*) FROM ids WHERE arm = 'candidate')
            AND p.incumbent_work_orders = (SELECT count(*) FROM ids WHERE arm = 'incumbent')
            AND p.candidate_successes = (SELECT count(*) FROM ids WHERE arm = 'candidate' AND success)
            AND p.incumbent_successes = (SELECT count(*) FROM ids WHERE arm = 'incumbent' AND success)
            AND p.candidate_work_orders > 0 AND p.incumbent_work_orders > 0
           FROM ab_test_progress p WHERE p.test_id = $test_id")" t \
	"the summed stripes equal the exact per-arm counts and successes"
is "$(q "SELECT count(*) FILTER (WHERE candidate_work_orders + incumbent_work_orders > 0) > 1
           FROM ab_test_counts WHERE test_id = $test_id")" t \
	"the clients added to more than one stripe"
is "$(q "SELECT candidate_work_orders + incumbent_work_orders || ' ' || status FROM ab_tests WHERE id = $test_id")" "0 running" \
	"the test's row was not updated by counting"

# ---------------------------------------------------------------------------
# (2) Decisions: two prompt tests (sample size 25; 90% vs 50%, and equal
# rates) and an enhancement test (sample size 30, the code's rate 50% ->
# 10%), through their checkpoints and watches.
# ---------------------------------------------------------------------------
"${PSQL[@]}" >/dev/null <<'SQL'
SELECT register_proposer('better', 0.5, 1), register_proposer('equal', 0.5, 1), register_proposer('race', 0.5, 1);
SELECT register_prompt_version(p, p || '/v1', 'Prompt one.', activate => true),
       register_prompt_version(p, p || '/v2', 'Prompt two.')
  FROM unnest('{better,equal}'::text[]) p;
SELECT start_prompt_test('better/v2', 25), start_prompt_test('equal/v2', 25);
SELECT set_enhancement('TS2345', 'Check argument types.');
INSERT INTO enhancement_versions (error_code, version, enhancement_text, source, status)
VALUES ('TS2345', 2, 'Compare each argument with the declared parameter type.', 'auto', 'pending_approval');
SELECT approve_enhancement(id) FROM enhancement_versions WHERE version = 2;
CREATE SEQUENCE work_order_ids;
SQL
cat >"$work/prompt.sql" <<'SQL'
\set p random(0, 1)
SELECT (record_work_order(x.proposer, 0.5, 2, CASE WHEN x.success THEN 0 ELSE 1 END, false, CASE WHEN x.success THEN '{}'::text[] ELSE '{TS1005}' END, '[]', v.version, '{}', '{}', s.id)).outcome FROM (SELECT 'wo-' || nextval('work_order_ids') AS id, (ARRAY['better', 'equal'])[:p + 1] AS proposer, random() AS r) s CROSS JOIN LATERAL get_active_prompt_version(s.proposer, s.id) v CROSS JOIN LATERAL (SELECT s.proposer, s.r < CASE WHEN s.proposer = 'better' AND v.version = 'better/v2' THEN 0.9 ELSE 0.5 END AS success) x;
SQL
cat >"$work/enhancement.sql" <<'SQL'
SELECT (record_work_order('race', 0.5, 2, CASE WHEN x.has_code THEN 1 ELSE 0 END, false, CASE WHEN x.has_code THEN '{TS2345}'::text[] ELSE '{}' END, '[]', b.version, b.used, '{}', x.id)).outcome FROM (SELECT 'wo-' || nextval('work_order_ids') AS id, random() AS r) s CROSS JOIN LATERAL build_enhanced_prompt('race', '{TS2345}', s.id) b CROSS JOIN LATERAL (SELECT s.id, s.r < CASE WHEN b.used = '{TS2345@2}' THEN 0.1 ELSE 0.5 END AS has_code) x;
SQL
"$AP_PG_BIN/pgbench" -n -c 8 -j 2 -t 200 -f "$work/prompt.sql@2" -f "$work/enhancement.sql@1" >"$work/decide.log" 2>&1
ok $? "1,600 concurrent work orders through checkpoints and watches recorded without a failure" || note <"$work/decide.log"

# The first tests of each subject (the enhancement's next test may have
# started after its watch).
tests="(SELECT min(id) FROM ab_tests GROUP BY subject HAVING subject IN ('better', 'equal', 'TS2345'))"
is "$(q "SELECT count(*) FROM ab_tests WHERE id IN $tests AND (status <> 'running' OR checkpoint > 1)")" 3 \
	"every test took at least one decision during the run"

# One line of decision_reason per decision and per look, each once, in order.
decisions_query="SELECT string_agg(t.subject, ' ' ORDER BY t.id) FROM ab_tests t
	    WHERE t.id IN $tests AND NOT (
	      array_length(regexp_split_to_array(t.decision_reason, E'\n'), 1)
	        = CASE WHEN t.status = 'running' THEN t.checkpoint - 1 ELSE t.checkpoint END + t.watch_looks
	      AND (SELECT bool_and(l.line ~ ('look ' || l.n || ' of 4'))
	             FROM unnest(regexp_split_to_array(t.decision_reason, E'\n')) WITH ORDINALITY AS l (line, n)
	            WHERE l.n <= CASE WHEN t.status = 'running' THEN t.checkpoint - 1 ELSE t.checkpoint END)
	      AND (SELECT bool_and(l.line ~ ('look ' || (l.n - t.checkpoint) || ' of 4'))
	             FROM unnest(regexp_split_to_array(t.decision_reason, E'\n')) WITH ORDINALITY AS l (line, n)
	            WHERE l.n > t.checkpoint AND t.status <> 'running') IS NOT FALSE)"
# The counts each decision recorded: at least its checkpoint (look), at most the live sums.
counts_query="SELECT string_agg(t.subject, ' ' ORDER BY t.id) FROM ab_tests t JOIN ab_test_progress p ON p.test_id = t.id
	    WHERE t.id IN $tests AND NOT (
	      least(t.candidate_work_orders, t.incumbent_work_orders)
	        >= (CASE WHEN t.status = 'running' THEN t.checkpoint - 1 ELSE t.checkpoint END) * t.sample_size
	      AND t.candidate_work_orders <= p.candidate_work_orders
	      AND t.incumbent_work_orders <= p.incumbent_work_orders
	      AND t.candidate_successes <= p.candidate_successes
	      AND t.incumbent_occurrences <= p.incumbent_occurrences
	      AND t.watch_work_orders >= (t.watch_looks * t.sample_size + 3) / 4
	      AND t.watch_work_orders <= p.watch_work_orders)"
# Nothing due is left: the live sums are below the next checkpoint or look.
settled_query="SELECT string_agg(t.subject, ' ' ORDER BY t.id) FROM ab_tests t JOIN ab_test_progress p ON p.test_id = t.id
	    WHERE t.id IN $tests AND (
	      (t.status = 'running' AND least(p.candidate_work_orders, p.incumbent_work_orders) >= t.checkpoint * t.sample_size)
	      OR (t.status = 'watching' AND p.watch_work_orders >= ((t.watch_looks + 1) * t.sample_size + 3) / 4))"
check_decisions() { q "$decisions_query"; }
check_counts() { q "$counts_query"; }
check_settled() { q "$settled_query"; }
# A check run after a change made by hand in a transaction rolled back.
check_after() {
	"${PSQL[@]}" -c "BEGIN" -c "$1" -c "$2" -c "ROLLBACK"
}
note "$(q "SELECT string_agg(t.subject || ': ' || t.status || ', checkpoint ' || t.checkpoint || ', watch looks ' || t.watch_looks
                            || ', recorded ' || t.candidate_work_orders || '/' || t.incumbent_work_orders || '/' || t.watch_work_orders
                            || ', live ' || p.candidate_work_orders || '/' || p.incumbent_work_orders || '/' || p.watch_work_orders, '; ')
           FROM ab_tests t JOIN ab_test_progress p ON p.test_id = t.id WHERE t.id IN $tests")"
is "$(check_decisions)" "" "each checkpoint and each look of the watch was decided exactly once, in order"
is "$(check_counts)" "" "the counts each decision recorded reach its checkpoint (look) and do not exceed the live sums"
settled=$(q "SELECT settle_ab_tests()")
is "$(check_settled)" "" "after settle_ab_tests() ($settled taken) no test is left with a decision due"
is "$(check_decisions)" "" "and still one line per decision"
is "$(check_counts)" "" "and the recorded counts still within bounds"
is "$(q "SELECT settle_ab_tests()")" 0 "a second settle_ab_tests() takes nothing"
# The checks can fail: a decision recorded twice, counts recorded past the
# live sums, a decision left due.
better="(SELECT min(id) FROM ab_tests WHERE subject = 'better')"
is "$(check_after "UPDATE ab_tests SET decision_reason = decision_reason || E'\\n' || split_part(decision_reason, E'\\n', 1) WHERE id = $better" \
	"$decisions_query")" better "(the check of the decisions finds a decision recorded twice)"
is "$(check_after "UPDATE ab_tests SET candidate_work_orders = candidate_work_orders + 1000 WHERE id = $better" \
	"$counts_query")" better "(the check of the counts finds counts past the live sums)"
is "$(check_after "UPDATE ab_test_counts SET candidate_work_orders = candidate_work_orders + 1000, incumbent_work_orders = incumbent_work_orders + 1000 WHERE test_id = (SELECT min(id) FROM ab_tests WHERE subject = 'equal') AND stripe = 0" \
	"$settled_query")" "$(q "SELECT CASE WHEN status = 'running' THEN 'equal' END FROM ab_tests WHERE id = (SELECT min(id) FROM ab_tests WHERE subject = 'equal')")" \
	"(the check of what is due finds a running test past its checkpoint)"
is "$(q "SELECT string_agg(t.subject, ' ') FROM ab_tests t WHERE t.id IN $tests AND
           (SELECT count(*) FROM version_history h WHERE h.ab_test_id = t.id)
             <> CASE t.status WHEN 'watching' THEN 1 WHEN 'promoted' THEN 1 WHEN 'rolled_back' THEN 2 ELSE 0 END")" "" \
	"version_history has exactly the rows of each test's outcome"
is "$(q "SELECT string_agg(t.subject, ' ') FROM ab_tests t WHERE t.id IN $tests AND t.kind = 'prompt_version' AND
           (SELECT version FROM prompt_versions WHERE proposer_name = t.subject AND is_active)
             <> CASE WHEN t.status IN ('watching', 'promoted') THEN t.candidate ELSE t.incumbent END")" "" \
	"the active prompt versions are the ones the decisions left"
is "$(q "SELECT (SELECT version FROM prompt_enhancements WHERE error_code = 'TS2345')
	        = CASE WHEN t.status IN ('watching', 'promoted') THEN 2 ELSE 1 END
	   FROM ab_tests t WHERE t.id IN $tests AND t.subject = 'TS2345'")" t \
	"the live enhancement is the one the decision left"

done_testing
