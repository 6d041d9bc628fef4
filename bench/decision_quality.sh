#!/usr/bin/env bash
# Decision quality of every automatic decision (docs/experiments.md,
# docs/prompts.md), driving the real SQL functions on a throwaway cluster
# with simulated outcome streams of known truth:
#
#  1. threshold experiments (propose_threshold_increase,
#     record_experiment_result): rules threshold, wilson and sprt at bar
#     0.7, sample size 30, true rates 0.6, 0.7, 0.8;
#  2. the watch after a threshold promotion, bar 0.7, 30 work orders:
#     watch rules below_bar and sprt at true rates 0.7 (bar), 0.75 (+5),
#     0.8 (+10) and 0.55 (-15);
#  3. A/B tests of prompt versions (start_prompt_test, record_work_order,
#     30 per arm and look, up to 4 looks, ab_alpha 0.05): rules
#     fixed_alpha, lan_demets_obf and lan_demets_pocock with equal arms
#     (0.6/0.6) and +10 and +20 points;
#  4. the watch after an A/B promotion (30 work orders): watch rules
#     fixed_alpha and lan_demets_pocock with the promoted version truly
#     equal to the incumbent (0.6) and 15 points below (0.45).
#
# Rules are chosen with ALTER SYSTEM and a reload, as an administrator
# would.  Outcomes come from seeded hashes shared by all rules (common
# random numbers).  Each measured rate is printed next to the exact value
# computed independently by bench/decision_quality.py (dynamic programming
# with its own implementation of each rule and of the group-sequential
# boundaries); part 1 also replays every experiment on the same draws.
#
#   bench/decision_quality.sh        defaults below, about 5 minutes
#   EXPERIMENTS=1000 WATCHES=1000 AB_TESTS=500 AB_WATCHES=500 SEED=7 bench/decision_quality.sh
#
# Starts its own throwaway cluster (test/lib.sh, as root); the tables are
# also written to bench/results/decision_quality.md.

source "$(dirname "$0")/../test/lib.sh"

EXPERIMENTS=${EXPERIMENTS:-200}
WATCHES=${WATCHES:-800}
AB_TESTS=${AB_TESTS:-250}
AB_WATCHES=${AB_WATCHES:-250}
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

-- A seeded uniform draw in [0, 1) for a named stream and position.
CREATE FUNCTION draw(stream text, k integer) RETURNS float8
LANGUAGE sql IMMUTABLE AS \$\$
    SELECT ('x' || substr(md5('$SEED/' || stream || '/' || k), 1, 8))::bit(32)::bigint / 4294967296.0
\$\$;

CREATE TABLE watch_outcomes (rule text, rate float8, watch integer, status text, watched integer);

-- Watches after a threshold promotion: an experiment of 30 promoted by 30
-- successes, then up to 30 watched results at the true rate.
CREATE PROCEDURE run_watches(rule text, rates float8[], watches integer)
LANGUAGE plpgsql AS \$\$
DECLARE
    rate float8;
    w integer;
    k integer;
    proposer text;
    experiment_id uuid;
    status text;
BEGIN
    FOREACH rate IN ARRAY rates LOOP
        FOR w IN 1 .. watches LOOP
            proposer := format('w-%s-%s-%s', rule, rate, w);
            PERFORM register_proposer(proposer, 0.3, 1);
            experiment_id := propose_threshold_increase(proposer, 0.4, 30, 0.7);
            FOR k IN 1 .. 30 LOOP
                PERFORM record_experiment_result(proposer, 0.35, true);
            END LOOP;
            FOR k IN 1 .. 30 LOOP
                status := record_experiment_result(proposer, 0.35,
                                                   draw(format('watch/%s/%s', rate, w), k) < rate);
                EXIT WHEN status IS DISTINCT FROM 'promoted'
                       OR NOT (SELECT watching FROM threshold_experiments WHERE id = experiment_id);
            END LOOP;
            INSERT INTO watch_outcomes
            SELECT rule, rate, w, t.status, t.watch_sample_count
              FROM threshold_experiments t WHERE t.id = experiment_id AND t.watch_rule = rule;
        END LOOP;
    END LOOP;
END
\$\$;

CREATE TABLE ab_outcomes (rule text, candidate_rate float8, incumbent_rate float8, test integer,
                          status text, checkpoint integer, per_arm bigint, watch_rule text,
                          watched bigint, watch_rate float8);

-- One A/B test of a prompt version on its own proposer.  Work orders are
-- given ids from the arm that is behind (ab_test_arm), so both arms have
-- exactly checkpoint x 30 at each decision; the k-th work order of an arm
-- succeeds when its draw is below the arm's rate.  With watch_rate, a
-- promotion's watch is then fed up to 30 work orders at that rate.
CREATE PROCEDURE run_ab_test(rule text, candidate_rate float8, incumbent_rate float8,
                             test integer, watch_rate float8 DEFAULT NULL)
LANGUAGE plpgsql AS \$\$
DECLARE
    proposer text := format('ab-%s-%s-%s-%s-%s', rule, candidate_rate, incumbent_rate,
                            coalesce(watch_rate, -1), test);
    stream text := format('ab/%s/%s/%s', candidate_rate, incumbent_rate, test);
    test_id bigint;
    kc integer := 0;
    ki integer := 0;
    g integer := 0;
    k integer;
    want_candidate boolean;
    work_order text;
    success boolean;
    version text;
    status text;
BEGIN
    PERFORM register_proposer(proposer, 0.5, 1);
    PERFORM register_prompt_version(proposer, proposer || '/a', 'Prompt A.', NULL, true);
    PERFORM register_prompt_version(proposer, proposer || '/b', 'Prompt B.');
    PERFORM start_prompt_test(proposer || '/b', 30);
    SELECT id INTO test_id FROM ab_tests t WHERE t.subject = proposer AND t.status = 'running';
    LOOP
        want_candidate := kc <= ki;
        LOOP
            g := g + 1;
            work_order := proposer || '-' || g;
            EXIT WHEN (ab_test_arm(test_id, work_order) = 'candidate') = want_candidate;
        END LOOP;
        IF want_candidate THEN
            kc := kc + 1;
            success := draw(stream || '/c', kc) < candidate_rate;
            version := proposer || '/b';
        ELSE
            ki := ki + 1;
            success := draw(stream || '/i', ki) < incumbent_rate;
            version := proposer || '/a';
        END IF;
        PERFORM record_work_order(proposer, 0.5, 2, CASE WHEN success THEN 0 ELSE 2 END, false,
                                  CASE WHEN success THEN '{}'::text[] ELSE '{TS1005}' END, '[]',
                                  version, '{}', '{}', work_order);
        SELECT t.status INTO status FROM ab_tests t WHERE t.id = test_id;
        EXIT WHEN status <> 'running';
    END LOOP;
    IF watch_rate IS NOT NULL AND status = 'watching' THEN
        FOR k IN 1 .. 30 LOOP
            success := draw(stream || '/w/' || watch_rate, k) < watch_rate;
            PERFORM record_work_order(proposer, 0.5, 2, CASE WHEN success THEN 0 ELSE 2 END, false,
                                      CASE WHEN success THEN '{}'::text[] ELSE '{TS1005}' END, '[]',
                                      proposer || '/b', '{}', '{}', proposer || '-w-' || k);
            SELECT t.status INTO status FROM ab_tests t WHERE t.id = test_id;
            EXIT WHEN status <> 'watching';
        END LOOP;
    END IF;
    INSERT INTO ab_outcomes
    SELECT t.decision_rule, candidate_rate, incumbent_rate, test, t.status, t.checkpoint,
           least(t.candidate_work_orders, t.incumbent_work_orders), t.watch_rule, t.watch_work_orders,
           watch_rate
      FROM ab_tests t WHERE t.id = test_id;
END
\$\$;

CREATE PROCEDURE run_ab_tests(rule text, tests integer)
LANGUAGE plpgsql AS \$\$
DECLARE
    candidate_rate float8;
    t integer;
BEGIN
    FOREACH candidate_rate IN ARRAY ARRAY[0.6, 0.7, 0.8]::float8[] LOOP
        FOR t IN 1 .. tests LOOP
            CALL run_ab_test(rule, candidate_rate, 0.6, t);
            COMMIT;
        END LOOP;
    END LOOP;
END
\$\$;

CREATE PROCEDURE run_ab_watches(tag text, watches integer)
LANGUAGE plpgsql AS \$\$
DECLARE
    watch_rate float8;
    t integer;
BEGIN
    FOREACH watch_rate IN ARRAY ARRAY[0.6, 0.45]::float8[] LOOP
        FOR t IN 1 .. watches LOOP
            CALL run_ab_test(tag, 0.95, 0.6, t, watch_rate);
            COMMIT;
        END LOOP;
    END LOOP;
END
\$\$;
SQL

elapsed() { python3 -c "print(round($(date +%s.%N) - $1, 1))"; }

for rule in "${RULES[@]}"; do
	ap_set_config adaptive_prompts.decision_rule "$rule"
	ap_log "threshold experiments, rule $rule"
	start=$(date +%s.%N)
	ap_psql -d "$DB" -c "CALL run_rule('$rule')"
	echo "  $(elapsed "$start") s" >&2
done
ap_reset_config adaptive_prompts.decision_rule

for setting in end_of_watch:below_bar sequential:sprt; do
	ap_set_config adaptive_prompts.watch_rule "${setting%%:*}"
	ap_log "threshold watches, rule ${setting#*:}"
	start=$(date +%s.%N)
	ap_psql -d "$DB" -c "CALL run_watches('${setting#*:}', '{0.7,0.75,0.8,0.55}', $WATCHES)"
	echo "  $(elapsed "$start") s" >&2
done

for rule in fixed_alpha lan_demets_obf lan_demets_pocock; do
	ap_set_config adaptive_prompts.ab_decision_rule "$rule"
	ap_log "A/B tests, rule $rule"
	start=$(date +%s.%N)
	ap_psql -d "$DB" -c "CALL run_ab_tests('$rule', $AB_TESTS)"
	echo "  $(elapsed "$start") s" >&2
done

ap_set_config adaptive_prompts.ab_decision_rule lan_demets_obf
for setting in end_of_watch sequential; do
	ap_set_config adaptive_prompts.watch_rule "$setting"
	ap_log "A/B watches, adaptive_prompts.watch_rule $setting"
	start=$(date +%s.%N)
	ap_psql -d "$DB" -c "CALL run_ab_watches('watch-$setting', $AB_WATCHES)"
	echo "  $(elapsed "$start") s" >&2
done
ap_reset_config adaptive_prompts.ab_decision_rule adaptive_prompts.watch_rule

ap_psql -d "$DB" -c "\\copy (SELECT rule, rate, experiment, status, samples FROM outcomes
    ORDER BY rule, rate, experiment) TO '$WORK/outcomes.csv' WITH (FORMAT csv, HEADER)"
ap_psql -d "$DB" -c "\\copy (SELECT rule, rate, watch, status, watched FROM watch_outcomes
    ORDER BY 1, 2, 3) TO '$WORK/watch_outcomes.csv' WITH (FORMAT csv, HEADER)"
ap_psql -d "$DB" -c "\\copy (SELECT rule, candidate_rate, incumbent_rate, test, status, checkpoint, per_arm
    FROM ab_outcomes WHERE watch_rate IS NULL ORDER BY 1, 2, 4) TO '$WORK/ab_outcomes.csv' WITH (FORMAT csv, HEADER)"
ap_psql -d "$DB" -c "\\copy (SELECT watch_rule AS rule, watch_rate AS rate, test, status, watched
    FROM ab_outcomes WHERE watch_rate IS NOT NULL ORDER BY 1, 2, 3) TO '$WORK/ab_watch_outcomes.csv' WITH (FORMAT csv, HEADER)"

undecided=$(ap_psql -d "$DB" -tA -c "SELECT count(*) FROM outcomes WHERE status = 'running'")
missing=$(ap_psql -d "$DB" -tA -c "SELECT $EXPERIMENTS * ${#RATES[@]} * ${#RULES[@]} - count(*) FROM outcomes")
{
	echo "Decision quality, seed $SEED; measured ± one standard error; exact = dynamic programming in bench/decision_quality.py."
	echo
	echo "### Threshold experiments: bar 0.7, sample size 30 (SPRT: p0 0.6 against p1 0.8, alpha 0.05, beta 0.2, truncated at 60); $EXPERIMENTS experiments per true rate"
	echo
	python3 "$AP_ROOT/bench/decision_quality.py" report "$WORK/outcomes.csv" "$WORK/draws.csv"
	echo
	echo "undecided experiments: $undecided; missing: $missing"
	echo
	echo "### Watch after a threshold promotion: bar 0.7, 30 watched work orders; $WATCHES watches per true rate"
	echo
	python3 "$AP_ROOT/bench/decision_quality.py" watch-report "$WORK/watch_outcomes.csv"
	echo
	echo "### A/B tests of prompt versions: 30 per arm and look, up to 4 looks (120 per arm), ab_alpha 0.05; $AB_TESTS tests per rule and scenario"
	echo
	python3 "$AP_ROOT/bench/decision_quality.py" ab-report "$WORK/ab_outcomes.csv"
	echo
	echo "### Watch after an A/B promotion: 30 watched work orders against the incumbent's arm in the test; $AB_WATCHES watches per rate and rule"
	echo
	python3 "$AP_ROOT/bench/decision_quality.py" ab-watch-report "$WORK/ab_watch_outcomes.csv"
} | tee "$OUT/decision_quality.md"
