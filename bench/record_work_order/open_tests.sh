#!/usr/bin/env bash
# Benchmark of record_work_order while A/B tests are open (issue 14, "A/B
# counting without a shared hot row").  One throwaway cluster, two
# databases set up alike: N proposers, each with an active prompt version
# and a registered candidate;
#   (a) no test open,
#   (b) one prompt-version A/B test open per proposer, with a sample size
#       the run cannot reach, so every work order with an id counts.
# Each call asks get_active_prompt_version for its id's arm and passes that
# version and the id back to record_work_order (the client's real flow),
# so in (b) every call counts in its proposer's test.  8 clients,
# -M prepared, synchronous_commit = off; alternating rounds of (a) and (b)
# after a warm-up; prints each round, the medians and b/a (target >= 0.8).
#
#   bench/record_work_order/open_tests.sh [seconds per round (15)] [rounds (3)] [proposers (8)]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../test/lib.sh"
source "$here/lib.sh"
seconds=${1:-15}
rounds=${2:-3}
proposers=${3:-8}
clients=8
export AP_EXTRA_CONF="synchronous_commit = off
shared_buffers = 256MB
autovacuum = on
autovacuum_naptime = 10s"
ap_setup
export PGOPTIONS="-c client_min_messages=warning"

for db in bench_a bench_b; do
	ap_psql -d postgres -c "CREATE DATABASE $db"
	ap_psql -d $db -c "CREATE EXTENSION adaptive_prompts" >/dev/null
	for p in $(seq "$proposers"); do
		ap_psql -d $db -c "SELECT register_proposer('model-$p', 0.5, 1)" \
			-c "SELECT register_prompt_version('model-$p', 'model-$p/v1', 'Write TypeScript.', activate => true)" \
			-c "SELECT register_prompt_version('model-$p', 'model-$p/v2', 'Write strict TypeScript.')" >/dev/null
	done
done
for p in $(seq "$proposers"); do
	ap_psql -d bench_b -c "SELECT start_prompt_test('model-$p/v2', 1000000)" >/dev/null
done

# 60% successes, 40% failures with two codes; the version is the arm's.
cat >"$AP_TMP/open_tests.sql" <<SQL
\set p random(1, $proposers)
\set n random(1, 9000000000000000000)
\set e random(0, 9)
SELECT (record_work_order('model-' || :p, 0.5, 5, CASE WHEN :e < 4 THEN 2 ELSE 0 END, false,
        CASE WHEN :e < 4 THEN '{TS2345,TS2322}' ELSE '{}' END::text[], '[]'::jsonb,
        v.version, '{}', '{}', s.id)).outcome
  FROM (SELECT 'wo-' || :client_id || '-' || :n AS id) s,
       LATERAL get_active_prompt_version('model-' || :p, s.id) v;
SQL
chmod 644 "$AP_TMP/open_tests.sql"

pgb() { "$AP_PG_BIN/pgbench" -n -M prepared -c $clients -j $clients -f "$AP_TMP/open_tests.sql" "$@" 2>&1; }

echo "warming up: 20,000 calls in each database"
for db in bench_a bench_b; do pgb -d $db -t $((20000 / clients)) >/dev/null; done
declare -A tps=([bench_a]="" [bench_b]="")
for r in $(seq "$rounds"); do
	for db in bench_a bench_b; do
		out=$(pgb -d $db -T "$seconds")
		t=$(tps_of <<<"$out")
		[[ -n $t ]] || { echo "$out" >&2; exit 1; }
		tps[$db]+="$t "
		printf 'round %d %-8s %10.0f tps\n' "$r" "$db" "$t"
	done
done
a=$(tr ' ' '\n' <<<"${tps[bench_a]}" | grep . | median)
b=$(tr ' ' '\n' <<<"${tps[bench_b]}" | grep . | median)
echo
echo "== record_work_order with A/B tests open ($clients clients, -M prepared, synchronous_commit = off, $proposers proposers, $rounds x ${seconds}s rounds, median)"
printf '(a) no test open                     %10.0f tps\n' "$a"
printf '(b) one prompt test open per proposer %9.0f tps\n' "$b"
printf 'b/a = %.2f   (target >= 0.8)\n' "$(echo "$b / $a" | bc -l)"
ap_psql -d bench_b -At -F ' ' -c "SELECT 'tests still running:', count(*) FILTER (WHERE status = 'running'), 'of', count(*) FROM ab_tests"
