#!/usr/bin/env bash
# Four clients record work orders into one enhancement A/B test at the same
# time (pgbench), each with its arm's prompt from build_enhanced_prompt.
# Checks that no call fails, that the decision was taken exactly once, at
# the checkpoint (both arms at exactly checkpoint x sample_size when the
# test left 'running'), that the watch ended at one of its looks, and that
# the live version is the one the decision left.
#
# Run by test/run (TAP output) with PGHOST, PGPORT and PGUSER set.
source "$(dirname "$0")/../tap.sh"
export PGOPTIONS="-c client_min_messages=warning"

new_database ap_ab_race
work=$(mktemp -d)
at_exit 'rm -rf "$work"'

"${PSQL[@]}" >/dev/null <<'SQL'
CREATE EXTENSION adaptive_prompts;
SELECT register_proposer('race', 0.5, 1);
SELECT set_enhancement('TS2345', 'Check argument types.');
INSERT INTO enhancement_versions (error_code, version, enhancement_text, source, status)
VALUES ('TS2345', 2, 'Compare each argument with the declared parameter type.', 'auto', 'pending_approval');
SELECT approve_enhancement(id) FROM enhancement_versions WHERE version = 2;
CREATE SEQUENCE work_order_ids;
SQL

# The candidate (TS2345@2) lowers the code's rate from 50% to 10%.
cat >"$work/record.sql" <<'SQL'
SELECT (record_work_order('race', 0.5, 2, CASE WHEN x.has_code THEN 1 ELSE 0 END, false, CASE WHEN x.has_code THEN '{TS2345}'::text[] ELSE '{}' END, '[]', b.version, b.used, '{}', x.id)).outcome FROM (SELECT 'wo-' || nextval('work_order_ids') AS id, random() AS r) s CROSS JOIN LATERAL build_enhanced_prompt('race', '{TS2345}', s.id) b CROSS JOIN LATERAL (SELECT s.id, s.r < CASE WHEN b.used = '{TS2345@2}' THEN 0.1 ELSE 0.5 END AS has_code) x;
SQL

"$AP_PG_BIN/pgbench" -n -c 4 -j 2 -t 100 -f "$work/record.sql" >"$work/pgbench.log" 2>&1
ok $? "400 concurrent work orders recorded without a failure" || note <"$work/pgbench.log"

is "$(q "SELECT status <> 'running' FROM ab_tests WHERE subject = 'TS2345'")" t \
	"the test was decided"
is "$(q "SELECT least(candidate_work_orders, incumbent_work_orders) = checkpoint * sample_size
	   FROM ab_tests WHERE subject = 'TS2345'")" t \
	"exactly once, at the checkpoint: the smaller arm has exactly checkpoint x sample_size"
# The watch (lan_demets_pocock, the default) looks after ceil(j x
# sample_size / 4) work orders, j = 1..4, each look leaving a line; it ends
# at a look, at the last one unless it rolled back earlier.
is "$(q "SELECT array_length(regexp_split_to_array(decision_reason, E'\n'), 1)
	        = checkpoint + (SELECT count(*) FROM generate_series(1, 4) j
	                         WHERE (j * sample_size + 3) / 4 <= watch_work_orders)
	   FROM ab_tests WHERE subject = 'TS2345'")" t \
	"one line of decision_reason per check and per look of the watch"
is "$(q "SELECT watch_work_orders <= sample_size
	        AND (status NOT IN ('promoted', 'rolled_back') OR watch_work_orders = sample_size
	             OR (status = 'rolled_back'
	                 AND watch_work_orders IN (SELECT (j * sample_size + 3) / 4 FROM generate_series(1, 4) j)))
	   FROM ab_tests WHERE subject = 'TS2345'")" t \
	"the watch counted at most sample_size work orders, and ended at a look: the last, or earlier by a rollback"
is "$(q "SELECT (SELECT version FROM prompt_enhancements WHERE error_code = 'TS2345')
	        = CASE WHEN t.status IN ('watching', 'promoted') THEN 2 ELSE 1 END
	        AND (SELECT count(*) FROM version_history WHERE ab_test_id = t.id)
	            = CASE t.status WHEN 'rejected' THEN 0 WHEN 'rolled_back' THEN 2 ELSE 1 END
	   FROM ab_tests t WHERE subject = 'TS2345'")" t \
	"the live version and the history agree with the decision"

done_testing
