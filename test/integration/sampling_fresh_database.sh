#!/usr/bin/env bash
# The logging decision for a work_order_id is a function of the id: two
# fresh databases decide the same for the same ids.
source "$(dirname "$0")/../tap.sh"
record() {
	"${PSQL[@]}" -d "$1" -c "CREATE EXTENSION adaptive_prompts" -c "SELECT register_proposer('m', 0.3, 1)" >/dev/null
	"${PSQL[@]}" -d "$1" -c "SELECT string_agg(CASE WHEN (record_work_order('m', 0.2, 4, CASE WHEN i % 2 = 0 THEN 0 ELSE 1 END,
	                                                   work_order_id => 'wo-' || i)).logged THEN '1' ELSE '0' END, '' ORDER BY i)
	                         FROM generate_series(1, 4000) i"
}
for db in ap_sampling_a ap_sampling_b; do
	"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
done
at_exit 'drop_database ap_sampling_a ap_sampling_b'
a=$(record ap_sampling_a)
b=$(record ap_sampling_b)
is "${#a}" 4000 "4,000 decisions were recorded"
[[ $a == "$b" ]]; ok $? "two fresh databases make the same 4,000 logging decisions"
logged=$(tr -cd 1 <<<"$a" | wc -c)
((logged > 200 && logged < 4000)); ok $? "some but not all were logged ($logged: successes sampled, partials sampled)"
done_testing
