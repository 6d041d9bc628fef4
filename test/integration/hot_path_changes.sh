#!/usr/bin/env bash
# record_work_order in the databases users really have: a default collation
# that is not C (the cluster's is ICU en-US), tables a DBA has changed
# (expression and partial indexes, row triggers, CHECK constraints),
# REINDEX CONCURRENTLY, VACUUM FULL and a schema rename seen from a
# long-lived session, READ ONLY transactions, REPEATABLE READ transactions
# spanning the start of an experiment or A/B test, and proposers deleted
# while auto-registration is off.
source "$(dirname "$0")/../tap.sh"
new_database ap_hot_path
q "CREATE EXTENSION amcheck" >/dev/null
q "CREATE SCHEMA ap" >/dev/null
q "CREATE EXTENSION adaptive_prompts SCHEMA ap" >/dev/null
# Mixed-case and punctuated names sort differently under en-US than under C.
names="'GPT-4o', 'claude-sonnet', 'a-Model', 'B model', 'gpt-4o-mini', 'Z_model'"
q "SELECT ap.register_proposer(n, 0.5, 1) FROM unnest(ARRAY[$names]) n" >/dev/null
is "$(q "SELECT datlocprovider::text || ' ' || daticulocale FROM pg_database WHERE datname = current_database()" 2>&1)" \
	"i en-US" "the database's default collation is ICU en-US"

# Every window key invariant: the metrics row equals the aggregate of its
# window, the window has at most window_size attempts.
invariants="SELECT count(*) FROM ap.proposer_success_metrics m
  LEFT JOIN LATERAL (SELECT count(*) AS n, count(*) FILTER (WHERE was_success) AS s,
                            coalesce(sum(improvement_rate), 0) AS i
                       FROM ap.proposer_attempts a
                      WHERE a.proposer_name = m.proposer_name AND a.complexity_band = m.complexity_band) w ON true
 WHERE m.attempts <> w.n OR m.successes <> w.s OR abs(m.improvement_sum - w.i) > 1e-9 OR w.n > 50"
record_stream() {	# record_stream COUNT [extra args]: COUNT calls per name, mixed outcomes
	q "SELECT count(ap.record_work_order(n, 0.05 + (g % 10) / 10.0, 4, g % 3, g % 7 = 0 ${2:-}))
	     FROM unnest(ARRAY[$names]) n, generate_series(1, $1) g"
}

out=$(record_stream 500 2>&1)
is "$out" 3000 "mixed-case names: 3,000 work orders recorded, filling every window of ten bands" || note "$out"
is "$(q "$invariants")" 0 "every metrics row equals its window"
is "$(q "SELECT count(*) FROM ap.proposer_success_metrics")" 60 "one window per proposer and band"
is "$(q "SELECT count(*) FROM bt_index_parent_check('ap.proposer_attempts_pkey'::regclass, true) x,
               bt_index_parent_check('ap.proposer_success_metrics_pkey'::regclass, true) y")" 1 \
	"both primary keys are intact and index every row (amcheck)"

# --- A DBA's changes to the window tables ---------------------------------
q "CREATE INDEX attempts_lower ON ap.proposer_attempts (lower(proposer_name))" >/dev/null
q "CREATE INDEX attempts_successes ON ap.proposer_attempts (proposer_name) WHERE was_success" >/dev/null
q "CREATE INDEX metrics_good ON ap.proposer_success_metrics (proposer_name) WHERE success_rate > 0.5" >/dev/null
q "CREATE INDEX metrics_lower ON ap.proposer_success_metrics (lower(complexity_band || proposer_name))" >/dev/null
q "CREATE TABLE audit (tbl text, n bigint DEFAULT 0, PRIMARY KEY (tbl))" >/dev/null
q "INSERT INTO audit VALUES ('proposer_attempts'), ('proposer_success_metrics')" >/dev/null
q "CREATE FUNCTION count_update() RETURNS trigger LANGUAGE plpgsql AS
   \$\$ BEGIN UPDATE public.audit SET n = n + 1 WHERE tbl = TG_TABLE_NAME; RETURN NEW; END \$\$" >/dev/null
q "CREATE TRIGGER audit_attempts AFTER UPDATE ON ap.proposer_attempts FOR EACH ROW EXECUTE FUNCTION count_update()" >/dev/null
q "CREATE TRIGGER audit_metrics AFTER UPDATE ON ap.proposer_success_metrics FOR EACH ROW EXECUTE FUNCTION count_update()" >/dev/null
q "ALTER TABLE ap.proposer_success_metrics ADD CONSTRAINT attempts_bounded CHECK (attempts <= 1000)" >/dev/null

out=$(record_stream 60 2>&1)
is "$out" 360 "with the DBA's indexes, triggers and CHECK constraint, calls still succeed" || note "$out"
is "$(q "$invariants")" 0 "and every metrics row still equals its window"
is "$(q "SELECT string_agg(tbl || '=' || n, ' ' ORDER BY tbl) FROM audit")" \
	"proposer_attempts=360 proposer_success_metrics=360" \
	"the DBA's row triggers fired once for each slot and metrics update"
check_index() {	# check_index QUERY: same count through the index and by a sequential scan
	local by_index by_scan
	by_index=$(q "SET enable_seqscan = off; SET enable_bitmapscan = off; $1" | tail -n 1)
	by_scan=$(q "SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off; $1" | tail -n 1)
	[[ $by_index == "$by_scan" ]] || { echo "index $by_index, scan $by_scan"; return 1; }
}
out=$(check_index "SELECT count(*) FROM ap.proposer_attempts WHERE lower(proposer_name) = 'gpt-4o'")
ok $? "an expression index on proposer_attempts answers as a scan does" || note "$out"
out=$(check_index "SELECT count(*) FROM ap.proposer_attempts WHERE was_success AND proposer_name = 'GPT-4o'")
ok $? "a partial index on proposer_attempts holds exactly the rows of its predicate" || note "$out"
out=$(check_index "SELECT count(*) FROM ap.proposer_success_metrics WHERE success_rate > 0.5 AND proposer_name = 'B model'")
ok $? "a partial index on proposer_success_metrics holds exactly the rows of its predicate" || note "$out"
is "$(q "SELECT count(*) FROM (SELECT bt_index_parent_check(c.oid, true)
                                 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                                WHERE i.indrelid IN ('ap.proposer_attempts'::regclass,
                                                     'ap.proposer_success_metrics'::regclass)) x")" 6 \
	"every index of the window tables is intact and complete (amcheck)"

q "ALTER TABLE ap.proposer_attempts ADD CONSTRAINT no_perfect CHECK (improvement_rate < 1) NOT VALID" >/dev/null
out=$(q "SELECT ap.record_work_order('GPT-4o', 0.55, 3, 0)" 2>&1)
[[ $out == *"violates check constraint \"no_perfect\""* ]]
ok $? "a CHECK constraint a DBA adds is enforced on the ring" || note "$out"
q "ALTER TABLE ap.proposer_attempts DROP CONSTRAINT no_perfect" >/dev/null
q "DROP TRIGGER audit_attempts ON ap.proposer_attempts" >/dev/null
q "DROP TRIGGER audit_metrics ON ap.proposer_success_metrics" >/dev/null
q "DROP INDEX ap.attempts_lower, ap.attempts_successes, ap.metrics_good, ap.metrics_lower" >/dev/null
q "ALTER TABLE ap.proposer_success_metrics DROP CONSTRAINT attempts_bounded" >/dev/null

# --- Maintenance seen from a long-lived session ---------------------------
session_open
ask() { session_ask "$1"; }
warm="SELECT (ap.record_work_order('claude-sonnet', 0.35, 2, 0)).outcome;"
ask "$warm" >/dev/null
q "REINDEX TABLE CONCURRENTLY ap.proposer_attempts" >/dev/null
q "REINDEX TABLE CONCURRENTLY ap.proposer_success_metrics" >/dev/null
is "$(ask "$warm")" success "after REINDEX TABLE CONCURRENTLY a warm session still records"
q "VACUUM FULL ap.proposer_attempts" >/dev/null
q "VACUUM FULL ap.proposer_success_metrics" >/dev/null
is "$(ask "$warm")" success "after VACUUM FULL a warm session still records"
q "ALTER SCHEMA ap RENAME TO ap_renamed" >/dev/null
# Statistics make the kept plans replan, which re-reads their text.
q "ANALYZE ap_renamed.proposer_attempts" >/dev/null
q "ANALYZE ap_renamed.proposer_success_metrics" >/dev/null
is "$(ask "SELECT (ap_renamed.record_work_order('claude-sonnet', 0.35, 2, 0)).outcome;")" success \
	"after ALTER SCHEMA ... RENAME a warm session still records"
is "$(ask "SELECT count(*) FROM ap_renamed.route_work_order(0.2);")" 1 "and routes"
q "ALTER SCHEMA ap_renamed RENAME TO ap" >/dev/null
is "$(q "$invariants")" 0 "every metrics row still equals its window"

# --- Read-only transactions ------------------------------------------------
before=$(q "SELECT sum(last_seq) FROM ap.proposer_success_metrics")
out=$("${PSQL[@]}" -v VERBOSITY=verbose -c "BEGIN READ ONLY" \
	-c "SELECT ap.record_work_order('GPT-4o', 0.35, 2, 0)" 2>&1)
[[ $out == *"25006"* ]]
ok $? "record_work_order in a READ ONLY transaction fails with 25006" || note "$out"
out=$("${PSQL[@]}" -v VERBOSITY=verbose -c "SET default_transaction_read_only = on" \
	-c "SELECT ap.record_work_order('GPT-4o', 0.35, 2, 0, work_order_id => 'ro-1')" 2>&1)
[[ $out == *"25006"* ]]
ok $? "also with a work_order_id, under default_transaction_read_only" || note "$out"
is "$(q "SELECT sum(last_seq) FROM ap.proposer_success_metrics")" "$before" "and no window changed"

# --- REPEATABLE READ spanning the start of an experiment or a test ---------
ask "BEGIN ISOLATION LEVEL REPEATABLE READ;" >/dev/null
ask "SELECT 1;" >/dev/null
id=$(q "SELECT ap.propose_threshold_increase('gpt-4o-mini', 0.6, 5)")
out=$(ask "SELECT coalesce((ap.record_work_order('gpt-4o-mini', 0.55, 2, 0)).experiment_status, 'none');")
is "$out" none "a REPEATABLE READ transaction that began before the experiment does not see it"
ask "COMMIT;" >/dev/null
is "$(ask "SELECT coalesce((ap.record_work_order('gpt-4o-mini', 0.55, 2, 0)).experiment_status, 'none');")" running \
	"the next transaction of that session counts the work order in the experiment"
ask "BEGIN ISOLATION LEVEL REPEATABLE READ;" >/dev/null
is "$(ask "SELECT coalesce((ap.record_work_order('gpt-4o-mini', 0.55, 2, 0)).experiment_status, 'none');")" running \
	"and so does a later REPEATABLE READ transaction"
ask "COMMIT;" >/dev/null
is "$(q "SELECT sample_count FROM ap.threshold_experiment_progress WHERE experiment_id = '$id'")" 2 "the experiment counted both"

q "SELECT ap.register_prompt_version('a-Model', 'a-Model/v1', 'one', NULL, true)" >/dev/null
q "SELECT ap.register_prompt_version('a-Model', 'a-Model/v2', 'two')" >/dev/null
ask "BEGIN ISOLATION LEVEL SERIALIZABLE;" >/dev/null
ask "SELECT 1;" >/dev/null
q "SELECT ap.start_prompt_test('a-Model/v2', 30)" >/dev/null 2>&1
ask "SELECT ap.record_work_order('a-Model', 0.35, 2, 0, prompt_version => 'a-Model/v1', work_order_id => 'rr-0');" >/dev/null
ask "COMMIT;" >/dev/null
for i in 1 2 3 4 5 6; do
	ask "SELECT (ap.record_work_order('a-Model', 0.35, 2, 0, prompt_version => version, work_order_id => 'rr-$i')).outcome
	       FROM ap.get_active_prompt_version('a-Model', 'rr-$i');" >/dev/null
done
is "$(q "SELECT candidate_work_orders + incumbent_work_orders FROM ap.ab_test_progress WHERE status = 'running'")" 6 \
	"after a SERIALIZABLE transaction spanning a test's start, later work orders are counted in it"
session_close

# --- Registration: a deleted proposer is refused with auto-registration off -
set_config adaptive_prompts.auto_register_proposers off
at_exit 'reset_config adaptive_prompts.auto_register_proposers'
q "DELETE FROM ap.proposers WHERE name = 'Z_model'" >/dev/null
is "$(q "SELECT count(*) FROM ap.proposer_success_metrics WHERE proposer_name = 'Z_model'")" 0 \
	"deleting a proposer removes its windows"
out=$("${PSQL[@]}" -v VERBOSITY=verbose -c "SELECT ap.record_work_order('Z_model', 0.35, 2, 0)" 2>&1)
[[ $out == *"42704"*"proposer \"Z_model\" does not exist"* ]]
ok $? "a deleted proposer is refused (42704) in a band where it had a window" || note "$out"
q "UPDATE ap.proposers SET name = 'B-model' WHERE name = 'B model'" >/dev/null
out=$("${PSQL[@]}" -v VERBOSITY=verbose -c "SELECT ap.record_work_order('B model', 0.35, 2, 0)" 2>&1)
[[ $out == *"42704"* ]]
ok $? "so is the old name of a renamed proposer" || note "$out"
is "$(q "SELECT (ap.record_work_order('B-model', 0.35, 2, 0)).window_attempts")" 1 "the new name starts a new window"
is "$(q "$invariants")" 0 "every metrics row still equals its window"

done_testing
