#!/usr/bin/env bash
# Two clients activate, register-and-activate and roll back prompt versions
# of the same proposers at the same time (pgbench).  Checks that no call
# fails (no deadlock, no unique violation), that no proposer ever ends with
# two active versions, and that the changes were serialized: each history
# row starts from the version the previous one ended with, and the last
# one ends with the version that is active.
#
# Run by test/run (TAP output) with PGHOST, PGPORT and PGUSER set.
source "$(dirname "$0")/../tap.sh"
export PGOPTIONS="-c client_min_messages=warning"

new_database ap_activation_race
work=$(mktemp -d)
at_exit 'rm -rf "$work"'

"${PSQL[@]}" >/dev/null <<'SQL'
CREATE EXTENSION adaptive_prompts;
SELECT register_proposer('race', 0.5, 1);
SELECT register_proposer('race-new', 0.5, 2);
SELECT register_prompt_version('race', 'race/v' || g, 'Prompt ' || g) FROM generate_series(1, 4) g;
SQL

# Activate one of four versions.
cat >"$work/activate.sql" <<'SQL'
\set v random(1, 4)
SELECT activate_prompt_version('race/v' || :v);
SQL
# Roll back (nothing to roll back is not a failure here).
cat >"$work/rollback.sql" <<'SQL'
DO $$ BEGIN PERFORM rollback_prompt_version('race'); EXCEPTION WHEN object_not_in_prerequisite_state THEN NULL; END $$;
SQL
# Register and activate a new version of a proposer that starts with none:
# the first activation has no row to lock.
cat >"$work/register.sql" <<'SQL'
SELECT register_prompt_version('race-new', 'race-new/' || gen_random_uuid(), 'New prompt', NULL, true);
SQL

"$AP_PG_BIN/pgbench" -n -c 2 -j 2 -t 400 \
	-f "$work/activate.sql@6" -f "$work/rollback.sql@2" -f "$work/register.sql@2" \
	>"$work/pgbench.log" 2>&1
ok $? "800 concurrent activations, registrations and rollbacks all succeed" || note <"$work/pgbench.log"

is "$(q "SELECT count(*) FROM (SELECT proposer_name FROM prompt_versions WHERE is_active
	   GROUP BY proposer_name HAVING count(*) > 1) x")" 0 \
	"no proposer has two active versions"
is "$(q "SELECT count(*) FROM prompt_versions WHERE proposer_name = 'race-new' AND is_active")" 1 \
	"the proposer that started with none has exactly one active version"
is "$(q "SELECT count(*) >= (SELECT count(*) FROM prompt_versions WHERE proposer_name = 'race-new')
	   FROM version_history WHERE subject = 'race-new'")" t \
	"the changes were recorded (at least one per registration)"
is "$(q "SELECT count(*) FROM (SELECT old_version, lag(new_version) OVER w AS previous,
	                              row_number() OVER w AS n
	                         FROM version_history WHERE kind = 'prompt_version'
	                       WINDOW w AS (PARTITION BY subject ORDER BY id)) h
	  WHERE n > 1 AND old_version IS DISTINCT FROM previous")" 0 \
	"the changes were serialized: each starts from the version the previous one ended with"
is "$(q "SELECT count(*) FROM (SELECT DISTINCT ON (subject) subject, new_version
	                         FROM version_history ORDER BY subject, id DESC) last
	   LEFT JOIN prompt_versions v ON v.proposer_name = last.subject AND v.is_active
	  WHERE last.new_version IS DISTINCT FROM v.version")" 0 \
	"the last change of each proposer ends with its active version"
is "$(q "SELECT count(*) FROM prompt_versions v
	   JOIN version_history h ON h.subject = v.proposer_name AND h.new_version = v.version
	  WHERE v.is_active AND h.action = 'activated'
	    AND h.id = (SELECT max(id) FROM version_history WHERE subject = v.proposer_name)
	    AND v.replaced_version IS DISTINCT FROM h.old_version")" 0 \
	"replaced_version of the active version is the one before it in the history"

done_testing
