#!/usr/bin/env bash
# Ties broken by name do not depend on the database's collation: in a
# database whose collation is ICU en-US ('a-model' sorts before 'B-model')
# the answers are the same as in a C database ('B-model' first), because
# every ORDER BY on a name that decides something uses COLLATE "C".
source "$(dirname "$0")/../tap.sh"

setup='CREATE EXTENSION adaptive_prompts;
SELECT register_proposer($$a-model$$, 0.5, 1);
SELECT register_proposer($$B-model$$, 0.5, 1);
SELECT set_enhancement($$b1$$, $$Text of b1.$$, 5);
SELECT set_enhancement($$A1$$, $$Text of A1.$$, 5);
SELECT record_work_order($$a-model$$, 0.2, 2, 2, error_codes => $${x1,Y1}$$, work_order_id => $$wo-1$$);'

answers() {
	"${PSQL[@]}" -d "$1" -c "$setup" >/dev/null || return 1
	"${PSQL[@]}" -d "$1" -c "SELECT concat_ws(' ',
		route_work_order(0.4),
		route_work_order(0.9),
		(SELECT used::text FROM build_enhanced_prompt('a-model', '{b1,A1}')),
		(SELECT string_agg(error_code, ',' ORDER BY ordinality)
		   FROM get_common_unaddressed_errors(1) WITH ORDINALITY),
		(SELECT string_agg(error_code, ',' ORDER BY ordinality)
		   FROM analyze_enhancement_effectiveness() WITH ORDINALITY),
		sanitizer_excluded_codes('{smart_double_quotes}')::text)"
}

drop_database ap_collation_icu ap_collation_c
"${PSQL[@]}" -d postgres \
	-c "CREATE DATABASE ap_collation_icu TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'" \
	-c "CREATE DATABASE ap_collation_c TEMPLATE template0 LOCALE 'C'" >/dev/null
at_exit 'drop_database ap_collation_icu ap_collation_c'

is "$("${PSQL[@]}" -d ap_collation_icu -c "SELECT string_agg(n, ',' ORDER BY n) FROM unnest('{B-model,a-model}'::text[]) n")" \
	"a-model,B-model" "the ICU database sorts a-model before B-model"
icu=$(answers ap_collation_icu)
c=$(answers ap_collation_c)
is "$icu" "$c" "the same answers in an ICU en-US and a C database"
# The tie at 0.4: equal cost and threshold, so the name decides (in C order).
is "${c%% *}" "B-model" "routing ties go to the name first in C order (B-model)"
note "answers: $c"
done_testing
