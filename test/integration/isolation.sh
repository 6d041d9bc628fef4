#!/usr/bin/env bash
# record_work_order under REPEATABLE READ: a window written by another
# transaction after this one's snapshot is a serialization failure (40001),
# never a lost or double-counted attempt; READ COMMITTED waits and counts.
source "$(dirname "$0")/../tap.sh"
new_database ap_isolation
q "CREATE EXTENSION adaptive_prompts" >/dev/null
q "SELECT register_proposer('m', 0.3, 1)" >/dev/null
q "SELECT count(record_work_order('m', 0.35, 2, 0)) FROM generate_series(1, 60)" >/dev/null

session_open
session_ask "BEGIN ISOLATION LEVEL REPEATABLE READ;" >/dev/null
session_ask "SELECT last_seq FROM proposer_success_metrics;" >/dev/null
q "SELECT record_work_order('m', 0.35, 2, 1)" >/dev/null
out=$(session_ask "SELECT (record_work_order('m', 0.35, 2, 0)).outcome;")
[[ $out == *"could not serialize access"* ]]; ok $? "REPEATABLE READ: a concurrent update of the window is a serialization failure" || note <<<"$out"
session_ask "ROLLBACK;" >/dev/null
is "$(q "SELECT last_seq || ' ' || attempts || ' ' || successes FROM proposer_success_metrics")" "61 50 49" \
	"the failed transaction changed nothing"

session_ask "BEGIN;" >/dev/null
session_ask "SELECT (record_work_order('m', 0.35, 2, 0)).outcome;" >/dev/null
q "SELECT pg_sleep(0.1)" >/dev/null
# Another session records on the same key while the first holds its lock:
# it waits, and counts after the first commits.
( q "SELECT record_work_order('m', 0.35, 2, 1)" >/dev/null ) &
waiter=$!
sleep 0.5
is "$(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND a.datname = 'ap_isolation'")" 1 \
	"READ COMMITTED: a second writer of the key waits for the first"
session_ask "COMMIT;" >/dev/null
wait "$waiter"
ok $? "and succeeds once the first commits"
is "$(q "SELECT m.last_seq || ' ' || (m.attempts = a.n AND m.successes = a.s)
           FROM proposer_success_metrics m,
                (SELECT count(*)::int n, (count(*) FILTER (WHERE was_success))::int s FROM proposer_attempts) a")" "63 true" \
	"both attempts are counted, and the metrics equal the window"
is "$(q "SELECT array_agg(was_success ORDER BY seq DESC) FROM (SELECT was_success, seq FROM proposer_attempts ORDER BY seq DESC LIMIT 3) t")" "{f,t,f}" \
	"the window holds them in commit order"
session_close
done_testing
