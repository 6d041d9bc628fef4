#!/usr/bin/env bash
# Decision quality of the threshold-experiment rules (docs/experiments.md).
#
# Drives the real functions (propose_threshold_increase and
# record_experiment_result, with the rule set by ALTER SYSTEM and a reload)
# with simulated result streams of known truth: bar (confidence) 0.7,
# sample size 30, true success rates 0.6, 0.7 and 0.8, EXPERIMENTS
# experiments each, outcomes from seeded draws shared by all rules.  Prints,
# per rule, the share promoted and the mean samples used, next to the exact
# values computed independently by bench/decision_quality.py, which also
# replays every experiment on the same draws and counts disagreements.
#
#   bench/decision_quality.sh              200 experiments per rate, seed 42
#   EXPERIMENTS=1000 SEED=7 bench/decision_quality.sh
#
# Starts its own throwaway cluster (test/lib.sh, as root); the table is also
# written to bench/results/decision_quality.md.

source "$(dirname "$0")/../test/lib.sh"

EXPERIMENTS=${EXPERIMENTS:-200}
SEED=${SEED:-42}
RATES=(0.6 0.7 0.8)
RULES=(threshold wilson sprt)
DB=ap_bench_decisions
OUT=$AP_ROOT/bench/results

ap_setup
mkdir -p "$OUT"
WORK=$(mktemp -d)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"; ap_stop_cluster' EXIT

ap_log "drawing $EXPERIMENTS x 60 outcomes per rate (seed $SEED)"
python3 "$AP_ROOT/bench/decision_quality.py" draws "$SEED" "$EXPERIMENTS" 60 "${RATES[@]}" >"$WORK/draws.csv"

ap_psql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
ap_psql -d "$DB" <<SQL
CREATE EXTENSION adaptive_prompts;
CREATE TABLE draws (rate float8, experiment integer, k integer, u float8,
                    PRIMARY KEY (rate, experiment, k));
\copy draws FROM '$WORK/draws.csv' WITH (FORMAT csv)
CREATE TABLE outcomes (rule text, rate float8, experiment integer,
                       status text, samples integer, successes integer);

-- One experiment per (rule, rate, experiment), each on its own proposer so
-- that a promotion's watch never delays the next experiment.
CREATE PROCEDURE run_rule(rule text)
LANGUAGE plpgsql AS \$\$
DECLARE
    d record;
    proposer text;
    experiment_id uuid;
    status text;
    draw float8;
BEGIN
    FOR d IN SELECT DISTINCT rate, experiment FROM draws ORDER BY rate, experiment LOOP
        proposer := format('%s-%s-%s', rule, d.rate, d.experiment);
        PERFORM register_proposer(proposer, 0.3, 1);
        experiment_id := propose_threshold_increase(proposer, 0.4, 30, 0.7);
        FOR draw IN SELECT u FROM draws
                     WHERE rate = d.rate AND experiment = d.experiment ORDER BY k LOOP
            status := record_experiment_result(proposer, 0.35, draw < d.rate);
            EXIT WHEN status <> 'running';
        END LOOP;
        INSERT INTO outcomes
        SELECT rule, d.rate, d.experiment, t.status, t.current_sample_count, t.current_successes
          FROM threshold_experiments t
         WHERE t.id = experiment_id AND t.decision_rule = rule;
    END LOOP;
END
\$\$;
SQL

for rule in "${RULES[@]}"; do
	ap_set_config adaptive_prompts.decision_rule "$rule"
	ap_log "rule $rule"
	start=$(date +%s.%N)
	ap_psql -d "$DB" -c "CALL run_rule('$rule')"
	echo "  $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s" >&2
done
ap_reset_config adaptive_prompts.decision_rule

ap_psql -d "$DB" -c "\copy (SELECT rule, rate, experiment, status, samples FROM outcomes
    ORDER BY rule, rate, experiment) TO '$WORK/outcomes.csv' WITH (FORMAT csv, HEADER)"

undecided=$(ap_psql -d "$DB" -tA -c "SELECT count(*) FROM outcomes WHERE status = 'running'")
missing=$(ap_psql -d "$DB" -tA -c "SELECT $EXPERIMENTS * ${#RATES[@]} * ${#RULES[@]} - count(*) FROM outcomes")
{
	echo "Decision quality: bar 0.7, sample size 30 (SPRT: p0 0.6 against p1 0.8, alpha 0.05, beta 0.2, truncated at 60);"
	echo "$EXPERIMENTS experiments per true rate, seed $SEED; measured ± one standard error; exact = binomial dynamic programming."
	echo
	python3 "$AP_ROOT/bench/decision_quality.py" report "$WORK/outcomes.csv" "$WORK/draws.csv"
	echo
	echo "undecided experiments: $undecided; missing: $missing"
} | tee "$OUT/decision_quality.md"
