#!/usr/bin/env bash
# Threshold experiments under concurrency (TAP output).  Counting adds to
# one of the experiment's 16 striped counter rows; the experiment row is
# written only by the decision, the end of the watch, an abort or an
# evaluation.
#
# 1. Eight pgbench clients record work orders in and out of the band of an
#    experiment whose sample size the run cannot reach: the summed counters
#    equal exactly the in-band work orders and successes recorded, and the
#    experiment row is never written.
# 2. Eight clients record 2,000 in-band work orders against an experiment of
#    size 500: exactly one decision, on counts >= 500 and <= the live sums,
#    the threshold changed exactly as the decision says, the watch ended
#    exactly once on counts >= 500 and <= its live sums, nothing failed, and
#    after settle_threshold_experiments() nothing that reached a verdict is
#    undecided.
# 3. Four clients propose the same experiment 200 times: one starts.
# 4. A mix of proposals, work orders, aborts and manual resets on one
#    proposer with small experiments: no deadlock, no error, and the
#    invariants of every experiment hold.
# 5. A proposal that races set_threshold (which commits while the proposal
#    waits for the proposer row) fails with 40001 and leaves nothing.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with the extension
# installed (test/run provides them).  Uses its own database.

source "$(dirname "$0")/../tap.sh"

new_database ap_experiment_concurrency
WORK=$(mktemp -d)
at_exit 'rm -rf "$WORK"'

bench() {
	# bench NAME pgbench-arguments...: run pgbench, keep its output.
	local name=$1
	shift
	"$AP_PG_BIN/pgbench" -n -c 4 -j 2 --random-seed=20240229 "$@" \
		>"$WORK/$name.out" 2>&1
	echo $?
}
bench8() {
	# bench8 NAME pgbench-arguments...: the same with 8 clients.
	local name=$1
	shift
	"$AP_PG_BIN/pgbench" -n -c 8 -j 2 -M prepared --random-seed=20240229 "$@" \
		>"$WORK/$name.out" 2>&1
	echo $?
}
processed() { sed -n 's/^number of transactions actually processed: \([0-9/]*\).*/\1/p' "$WORK/$1.out"; }
failed() { sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$WORK/$1.out"; }

"${PSQL[@]}" >/dev/null <<'SQL'
CREATE EXTENSION adaptive_prompts;
SELECT register_proposer('mini', 0.3, 1);
SELECT register_proposer('strong', 0.9, 10);

-- Every change of an experiment row and of a threshold, in commit order of
-- the row locks (the audit rows are written while the row is locked).
CREATE TABLE audit (
    id         bigserial PRIMARY KEY,
    kind       text NOT NULL,
    experiment uuid,
    proposer   text NOT NULL,
    old_value  text,
    new_value  text,
    samples    integer,
    successes  integer,
    watching   boolean,
    watched    integer
);
CREATE FUNCTION audit_experiment() RETURNS trigger
LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
    INSERT INTO audit (kind, experiment, proposer, old_value, new_value, samples, successes, watching, watched)
    VALUES ('experiment', NEW.id, NEW.proposer_name, OLD.status, NEW.status,
            NEW.current_sample_count, NEW.current_successes, NEW.watching,
            NEW.watch_sample_count);
    RETURN NULL;
END $$;
CREATE TRIGGER audit AFTER UPDATE ON threshold_experiments
    FOR EACH ROW EXECUTE FUNCTION audit_experiment();
CREATE FUNCTION audit_threshold() RETURNS trigger
LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
    INSERT INTO audit (kind, proposer, old_value, new_value)
    VALUES ('threshold', NEW.name, OLD.complexity_threshold, NEW.complexity_threshold);
    RETURN NULL;
END $$;
CREATE TRIGGER audit AFTER UPDATE ON proposers
    FOR EACH ROW WHEN (OLD.complexity_threshold IS DISTINCT FROM NEW.complexity_threshold)
    EXECUTE FUNCTION audit_threshold();
SQL

# ---------------------------------------------------------------------------
# 1. Exact counts: a sample size the run cannot reach
# ---------------------------------------------------------------------------
q "SELECT register_proposer('wide', 0.3, 2)" >/dev/null
q "SELECT propose_threshold_increase('wide', 0.4, 1000000, 0.7)" >/dev/null
q "DELETE FROM audit WHERE proposer = 'wide'" >/dev/null
# In the band [0.3, 0.4] (ids in-...) and out of it (out-...), 80% successes;
# the ledger keeps every id with its outcome.
cat >"$WORK/wide.sql" <<'SQL'
\set score random(300, 400)
\set outside random(401, 1000)
\set outcome random(1, 10)
\set n random(1, 9000000000000000000)
\set r random(1, 4)
\if :r <= 3
SELECT record_work_order('wide', :score / 1000.0, 1, CASE WHEN :outcome <= 8 THEN 0 ELSE 1 END, work_order_id => 'in-' || :client_id || '-' || :n);
\else
SELECT record_work_order('wide', :outside / 1000.0, 1, CASE WHEN :outcome <= 8 THEN 0 ELSE 1 END, work_order_id => 'out-' || :client_id || '-' || :n);
\endif
SQL
is "$(bench8 wide -f "$WORK/wide.sql" -t 250)" 0 "pgbench: 8 clients x 250 record_work_order calls exit cleanly"
is "$(processed wide)" "2000/2000" "all 2,000 work orders were recorded"
is "$(failed wide)" "0" "no transaction failed"
is "$(q "SELECT p.sample_count = (SELECT count(*) FROM work_orders WHERE work_order_id LIKE 'in-%'),
                p.successes = (SELECT count(*) FROM work_orders WHERE work_order_id LIKE 'in-%' AND outcome = 'success'),
                p.sample_count > 1000
           FROM threshold_experiment_progress p WHERE p.proposer_name = 'wide'")" "t|t|t" \
	"the summed counters equal the in-band work orders and their successes exactly ($(q "SELECT sample_count || '/' || successes FROM threshold_experiment_progress WHERE proposer_name = 'wide'"))"
is "$(q "SELECT count(*) FROM threshold_experiment_counts c JOIN threshold_experiments e ON e.id = c.experiment_id
          WHERE e.proposer_name = 'wide' AND c.sample_count > 0")" \
	"$(q "SELECT LEAST(8, count(DISTINCT split_part(work_order_id, '-', 2))) FROM work_orders WHERE work_order_id LIKE 'in-%'")" \
	"the 8 sessions counted in 8 different counter rows"
is "$(q "SELECT count(*) FROM audit WHERE proposer = 'wide'")" 0 "counting never wrote the experiment row"
q "SELECT abort_experiment(id, 'test over') FROM threshold_experiments WHERE proposer_name = 'wide' AND status = 'running'" >/dev/null

# ---------------------------------------------------------------------------
# 2. 2,000 in-band work orders, experiment of size 500
# ---------------------------------------------------------------------------
q "SELECT propose_threshold_increase('mini', 0.4, 500, 0.7)" >/dev/null
# The default watch rule (sprt) rolls a band at 0.8 back early with
# probability 0.8% (a run of early failures); this check is about exact
# counting, so the watch compares once at the end (below_bar), where a
# rollback at 0.8 over 500 work orders is practically impossible.
# (The audit row of this edit is removed.)
q "UPDATE threshold_experiments SET watch_rule = 'below_bar', watch_p_good = NULL, watch_p_bad = NULL,
       watch_alpha = NULL, watch_beta = NULL WHERE proposer_name = 'mini';
   DELETE FROM audit WHERE proposer = 'mini'" >/dev/null
cat >"$WORK/record.sql" <<'SQL'
\set score random(300, 400)
\set outcome random(1, 10)
SELECT record_work_order('mini', :score / 1000.0, 1, CASE WHEN :outcome <= 8 THEN 0 ELSE 1 END);
SQL
is "$(bench8 record -f "$WORK/record.sql" -t 250)" 0 "pgbench: 8 clients x 250 record_work_order calls exit cleanly"
is "$(processed record)" "2000/2000" "all 2,000 work orders were recorded"
is "$(failed record)" "0" "no transaction failed"

is "$(q "SELECT count(*) FROM audit WHERE kind = 'experiment' AND proposer = 'mini' AND old_value = 'running'")" 1 \
	"the running experiment's row was written once: by its decision"
is "$(q "SELECT count(*) FROM threshold_experiments WHERE proposer_name = 'mini' AND decided_at IS NOT NULL")" 1 \
	"one decided experiment row"
is "$(q "SELECT e.current_sample_count >= 500 AND e.current_sample_count <= p.sample_count
                AND e.current_successes <= p.successes AND p.sample_count < 500 + 8
           FROM threshold_experiments e JOIN threshold_experiment_progress p ON p.experiment_id = e.id
          WHERE e.proposer_name = 'mini'")" t \
	"decided on counts >= 500 and <= the live sums, which passed 500 by less than the 8 clients ($(q "SELECT current_sample_count || ' recorded, ' || sample_count || ' live' FROM threshold_experiments e JOIN threshold_experiment_progress p ON p.experiment_id = e.id WHERE e.proposer_name = 'mini'"))"
is "$(q "SELECT status, decision_reason ~ ('^promoted: ' || current_successes || '/' || current_sample_count || ' successes'),
                current_successes::float8 / current_sample_count >= 0.7
           FROM threshold_experiments WHERE proposer_name = 'mini'")" \
	"promoted|t|t" "promoted (true rate 0.8) with the recorded counts in the reason, which pass the rule"
is "$(q "SELECT count(*) FROM audit WHERE kind = 'threshold' AND proposer = 'mini'")" 1 \
	"the threshold changed once"
is "$(q "SELECT complexity_threshold FROM proposers WHERE name = 'mini'")" 0.4 "to the new threshold, as the decision says"
is "$(q "SELECT count(*) FROM audit WHERE kind = 'experiment' AND proposer = 'mini' AND old_value = 'promoted'")" 1 \
	"the watch's row was written once: at its end"
is "$(q "SELECT e.watching, e.watch_ended_at IS NOT NULL, e.watch_sample_count >= 500,
                e.watch_sample_count <= p.watch_sample_count, p.watch_sample_count < 500 + 8,
                e.watch_reason ~ ('^kept after watch: ' || e.watch_successes || '/' || e.watch_sample_count)
           FROM threshold_experiments e JOIN threshold_experiment_progress p ON p.experiment_id = e.id
          WHERE e.proposer_name = 'mini'")" \
	"f|t|t|t|t|t" "the watch ended on counts >= 500 and <= its live sums, which passed 500 by less than 8"
is "$(q "SELECT p.sample_count + p.watch_sample_count <= 2000 FROM threshold_experiment_progress p WHERE p.proposer_name = 'mini'")" t \
	"no work order was counted twice"
q "SELECT settle_threshold_experiments()" >/dev/null
is "$(q "SELECT count(*) FROM threshold_experiment_progress p JOIN threshold_experiments e ON e.id = p.experiment_id
          WHERE (e.status = 'running' AND e.decision_rule <> 'sprt' AND p.sample_count >= e.test_sample_size)
             OR (e.watching AND p.watch_sample_count >= e.test_sample_size)")" 0 \
	"after settle_threshold_experiments() no experiment whose sums reached its sample size is undecided"

# ---------------------------------------------------------------------------
# 3. Concurrent proposals for one proposer: exactly one starts
# ---------------------------------------------------------------------------
q "SELECT register_proposer('p2', 0.3, 5)" >/dev/null
echo "SELECT propose_threshold_increase('p2', 0.5);" >"$WORK/propose.sql"
is "$(bench propose -f "$WORK/propose.sql" -t 50)" 0 "pgbench: 4 clients x 50 concurrent proposals exit cleanly"
is "$(failed propose)" "0" "no proposal failed"
is "$(q "SELECT count(*), count(*) FILTER (WHERE status = 'running') FROM threshold_experiments WHERE proposer_name = 'p2'")" \
	"1|1" "exactly one experiment started"

# ---------------------------------------------------------------------------
# 4. Proposals, work orders, aborts and resets mixed on one proposer
# ---------------------------------------------------------------------------
q "SELECT register_proposer('p3', 0.3, 5)" >/dev/null
# A proposal to 0.4 is refused with 22023 while p3 stands at 0.4 after a
# kept promotion (until a reset below puts it back).  When a whole
# promotion and its watch end between the proposal's reading of the
# threshold and its lock of the proposer row, the proposal fails with
# 40001 and the hint to retry (experiment_start): the documented answer to
# that race, not a failure.
cat >"$WORK/mix_propose.sql" <<'SQL'
DO $$
BEGIN
    PERFORM propose_threshold_increase('p3', 0.4, 5);
EXCEPTION WHEN invalid_parameter_value OR serialization_failure THEN
    NULL;
END $$;
SQL
cat >"$WORK/mix_record.sql" <<'SQL'
\set score random(250, 450)
\set outcome random(1, 10)
SELECT record_work_order('p3', :score / 1000.0, 1, CASE WHEN :outcome <= 7 THEN 0 ELSE 1 END);
SQL
cat >"$WORK/mix_lower.sql" <<'SQL'
\set outcome random(1, 10)
SELECT record_experiment_result('p3', 0.35, :outcome <= 7);
SQL
# The experiment may be decided between the lookup and the abort, which
# abort_experiment refuses with 55000.
cat >"$WORK/mix_abort.sql" <<'SQL'
DO $$
BEGIN
    PERFORM abort_experiment(id, 'stress') FROM threshold_experiments
      WHERE proposer_name = 'p3' AND (status = 'running' OR watching);
EXCEPTION WHEN object_not_in_prerequisite_state THEN
    NULL;
END $$;
SQL
# After a kept promotion p3 is at 0.4 and a proposal to 0.4 would be refused:
# set it back (refused while an experiment is open, which is fine here).
cat >"$WORK/mix_reset.sql" <<'SQL'
DO $$
BEGIN
    IF (SELECT complexity_threshold FROM proposers WHERE name = 'p3') <> 0.3 THEN
        PERFORM set_threshold('p3', 0.3);
    END IF;
EXCEPTION WHEN object_not_in_prerequisite_state THEN
    NULL;
END $$;
SQL
is "$(bench mix -t 400 -f "$WORK/mix_propose.sql@3" -f "$WORK/mix_record.sql@12" \
	-f "$WORK/mix_lower.sql@4" -f "$WORK/mix_abort.sql@1" -f "$WORK/mix_reset.sql@2")" 0 \
	"pgbench: 1,600 mixed calls (propose, record, abort, reset) exit cleanly"
is "$(processed mix)" "1600/1600" "all mixed transactions completed"
is "$(failed mix)" "0" "no deadlock or other failure"
is "$(grep -c 'ERROR' "$WORK/mix.out")" 0 "no error in any client"
is "$(q "SELECT count(*) > 10 FROM threshold_experiments WHERE proposer_name = 'p3' AND decision_rule <> 'manual'")" t \
	"many experiments ran"
is "$(q "SELECT count(*) <= 1 FROM threshold_experiments WHERE proposer_name = 'p3' AND (status = 'running' OR watching)")" t \
	"at most one open experiment"
# Concurrent last callers can miss a verdict; settling takes it.  Decisions
# are taken on the sums they see, which can pass the sample size (5) by the
# work orders in flight (fewer than the 4 clients).
q "SELECT settle_threshold_experiments()" >/dev/null
is "$(q "SELECT count(*) FROM threshold_experiments e JOIN threshold_experiment_progress p ON p.experiment_id = e.id
          WHERE e.proposer_name = 'p3' AND e.decision_rule <> 'manual' AND NOT (
           CASE e.status
             WHEN 'running' THEN e.decided_at IS NULL AND p.sample_count < 5
             WHEN 'promoted' THEN e.current_sample_count BETWEEN 5 AND 5 + 3
                                  AND e.current_successes >= 0.7 * e.current_sample_count
                                  AND (e.watching OR e.watch_sample_count BETWEEN 5 AND 5 + 3)
             WHEN 'rolled_back' THEN e.current_sample_count BETWEEN 5 AND 5 + 3
                                     AND e.watch_sample_count BETWEEN 5 AND 5 + 3
                                     AND e.watch_successes < 4
             WHEN 'rejected' THEN (e.current_sample_count BETWEEN 5 AND 5 + 3
                                   AND e.current_successes < 0.7 * e.current_sample_count)
                                  OR (e.current_sample_count < 5
                                      AND e.current_successes + 5 - e.current_sample_count < 4)
             WHEN 'aborted' THEN e.current_sample_count < 5 + 4
           END
           AND e.current_sample_count <= p.sample_count AND e.watch_sample_count <= p.watch_sample_count)")" 0 "every experiment's counts agree with its status"
is "$(q "SELECT count(*) FROM audit WHERE kind = 'experiment' AND proposer = 'p3'
           AND old_value = 'running' AND new_value NOT IN ('running', 'promoted', 'rejected', 'aborted')")" 0 \
	"a running experiment only ever becomes promoted, rejected or aborted"
is "$(q "SELECT count(*) FROM threshold_experiments e
          WHERE proposer_name = 'p3' AND decision_rule <> 'manual' AND status <> 'running'
            AND (SELECT count(*) FROM audit a WHERE a.experiment = e.id
                    AND a.old_value = 'running' AND a.new_value <> 'running') <> 1")" 0 \
	"every decided experiment was decided exactly once"
is "$(q "SELECT CASE
             WHEN EXISTS (SELECT 1 FROM threshold_experiments WHERE proposer_name = 'p3' AND watching)
               THEN complexity_threshold = 0.4
             WHEN EXISTS (SELECT 1 FROM threshold_experiments WHERE proposer_name = 'p3' AND status = 'running')
               THEN complexity_threshold = 0.3
             ELSE complexity_threshold IN (0.3, 0.4) END
           FROM proposers WHERE name = 'p3'")" t "the threshold agrees with the open experiment"

# ---------------------------------------------------------------------------
# 5. A proposal racing set_threshold
# ---------------------------------------------------------------------------
q "SELECT register_proposer('q', 0.3, 5)" >/dev/null
# The holder changes q's threshold and keeps its transaction open until
# another session waits for a lock.
PGAPPNAME=holder "${PSQL[@]}" -c "DO \$\$
BEGIN
    PERFORM set_threshold('q', 0.35);
    FOR i IN 1 .. 600 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE NOT granted);
        PERFORM pg_sleep(0.05);
    END LOOP;
END \$\$" >"$WORK/holder.out" 2>&1 &
holder=$!
for i in $(seq 1 200); do
	[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'holder' AND wait_event = 'PgSleep'") == 1 ]] && break
	sleep 0.05
done
is "$(q "SELECT propose_threshold_increase('q', 0.4)" 2>&1 | sed -n 's/^ERROR: *//p')" \
	'the complexity threshold of proposer "q" changed from 0.3 to 0.35 while the experiment was being started' \
	"a proposal that read a threshold changed before it could lock it fails (40001)"
wait "$holder"
is "$(q "SELECT count(*) FROM threshold_experiments WHERE proposer_name = 'q' AND decision_rule <> 'manual'")" 0 \
	"and leaves no experiment"
is "$(q "SELECT propose_threshold_increase('q', 0.4) IS NOT NULL")" t "a retry starts it"
is "$(q "SELECT old_threshold FROM threshold_experiments WHERE proposer_name = 'q' AND status = 'running'")" 0.35 \
	"from the new threshold"

note "p3 experiments by status: $(q "SELECT string_agg(status || ' ' || c, ', ' ORDER BY status) FROM (SELECT status, count(*) AS c FROM threshold_experiments WHERE proposer_name = 'p3' GROUP BY status) s")"
done_testing
