#!/usr/bin/env bash
# Benchmark (not a test; issue 14): record_work_order with every score in
# a proposer's experiment band, (a) with no threshold experiment open and
# (b) with one experiment open per proposer whose sample size the run
# cannot reach, so that (b) pays for counting every call.  8 clients,
# -M prepared, synchronous_commit = off, 4 proposers; (a) and (b) run in
# alternating rounds of the same duration (experiments are started before
# each (b) round and aborted after it); prints the median TPS of each and
# the ratio b/a.
#
#   bench/record_work_order/open_experiments.sh [seconds per round (10)] [rounds (3)]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../test/lib.sh"
source "$here/lib.sh"
seconds=${1:-10}
rounds=${2:-3}
clients=8
export AP_EXTRA_CONF="synchronous_commit = off
shared_buffers = 256MB"
ap_setup
export PGDATABASE=bench_experiments
ap_psql -d postgres -c "CREATE DATABASE bench_experiments" >/dev/null
ap_psql -c "CREATE EXTENSION adaptive_prompts" >/dev/null
# model-p stands at 0.p*2; its experiments raise it by 0.1.
for p in 1 2 3 4; do
	ap_psql -c "SELECT register_proposer('model-$p', 0.$((p * 2)), $p)" >/dev/null
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Scores in [threshold, threshold + 0.1] of a random proposer: all in the
# band of its experiment while one is open; 70% successes.
cat >"$work/in_band.sql" <<'SQL'
\set p random(1, 4)
\set s random(0, 100)
\set r random(1, 10)
\set n random(1, 9000000000000000000)
\if :r <= 7
SELECT record_work_order('model-' || :p, (:p * 200 + :s) / 1000.0, 3, 0, false, '{}', '[]'::jsonb, work_order_id => 'wo-' || :client_id || '-' || :n);
\else
SELECT record_work_order('model-' || :p, (:p * 200 + :s) / 1000.0, 5, 4, false, '{TS2345}', '[]'::jsonb, work_order_id => 'wo-' || :client_id || '-' || :n);
\endif
SQL
start_experiments() {
	ap_psql -c "SELECT count(propose_threshold_increase('model-' || p, p * 0.2 + 0.1, 1000000, 0.7))
	              FROM generate_series(1, 4) p" >/dev/null
}
stop_experiments() {
	ap_psql -c "SELECT count(abort_experiment(id, 'bench round over')) FROM threshold_experiments
	             WHERE status = 'running' OR watching" >/dev/null
}
pgb() { "$AP_PG_BIN/pgbench" -n -M prepared -c $clients -j 2 "$@" 2>&1; }

echo "warming up: 20,000 calls with experiments open, 20,000 without"
start_experiments
pgb -t $((20000 / clients)) -f "$work/in_band.sql" >/dev/null
stop_experiments
pgb -t $((20000 / clients)) -f "$work/in_band.sql" >/dev/null
none="" open=""
for r in $(seq "$rounds"); do
	t=$(pgb -T "$seconds" -f "$work/in_band.sql" | tps_of)
	none+="$t "
	printf 'round %d (a) none open  %10.0f tps\n' "$r" "$t"
	start_experiments
	t=$(pgb -T "$seconds" -f "$work/in_band.sql" | tps_of)
	open+="$t "
	printf 'round %d (b) one open   %10.0f tps\n' "$r" "$t"
	counted=$(ap_psql -At -c "SELECT count(*) FROM threshold_experiments WHERE status = 'running'")
	stop_experiments
	[[ $counted == 4 ]] || { echo "an experiment ended during the round ($counted of 4 still running)" >&2; exit 1; }
done
a=$(tr ' ' '\n' <<<"$none" | grep . | median)
b=$(tr ' ' '\n' <<<"$open" | grep . | median)
echo
echo "== record_work_order, every score in band ($clients clients, -M prepared, synchronous_commit = off, $rounds x ${seconds}s rounds, median)"
printf '(a) no experiment open              %10.0f tps\n' "$a"
printf '(b) one experiment open per proposer %9.0f tps\n' "$b"
printf 'b/a = %.2f\n' "$(echo "$b / $a" | bc -l)"
