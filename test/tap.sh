# TAP helpers for integration scripts (sourced).  The harness exports
# PGHOST, PGPORT and PGUSER of the throwaway cluster.
#
#   ok STATUS NAME          passes when STATUS is 0: `[[ ... ]]; ok $? NAME`
#   is GOT EXPECTED NAME    passes when GOT equals EXPECTED
#   note [TEXT]             TEXT (or standard input) as "# " diagnostics
#   done_testing            prints the plan; fails when a test failed
#   new_database NAME       a fresh database, dropped at exit; sets PGDATABASE
#   at_exit COMMAND         runs COMMAND at exit (the latest first)
#   q SQL                   one statement in PGDATABASE, unaligned output
#   set_config NAME VALUE   ALTER SYSTEM SET, reload, wait until it is seen
#   reset_config NAME       ALTER SYSTEM RESET and reload
#
# ok and is return 0 when the test passed, so that a script can add
# diagnostics: `is "$got" 1 "name" || note "$details"`.
# Also sources test/lib.sh (AP_PG_BIN, ap_psql, ap_as_owner, ...).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
set +e
set -uo pipefail

TAP_COUNT=0
TAP_FAILED=0
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -At)

ok() {
	local condition=$1 name=$2
	TAP_COUNT=$((TAP_COUNT + 1))
	if [[ $condition == 0 ]]; then
		echo "ok $TAP_COUNT - $name"
	else
		TAP_FAILED=$((TAP_FAILED + 1))
		echo "not ok $TAP_COUNT - $name"
		return 1
	fi
}

# is GOT EXPECTED NAME
is() {
	if [[ $1 == "$2" ]]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got:      '$1'"
		echo "#   expected: '$2'"
		return 1
	fi
}

# note TEXT...: print TEXT as TAP diagnostics, each line prefixed by "# ";
# without arguments, print standard input that way.
note() {
	if (($#)); then
		printf '%s\n' "$*" | sed 's/^/# /'
	else
		sed 's/^/# /'
	fi
}

done_testing() {
	echo "1..$TAP_COUNT"
	((TAP_FAILED == 0))
}

# at_exit COMMAND: eval COMMAND when the script exits, after the commands
# registered later.  The script's exit status is kept.
TAP_AT_EXIT=()
at_exit() {
	TAP_AT_EXIT=("$1" "${TAP_AT_EXIT[@]}")
	trap tap_run_at_exit EXIT
}
tap_run_at_exit() {
	local command
	for command in "${TAP_AT_EXIT[@]}"; do
		eval "$command"
	done
}

drop_database() {
	local db
	for db; do
		"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
	done
}

# A fresh database for one script, dropped at exit.
new_database() {
	TAP_DB=$1
	"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $TAP_DB" -c "CREATE DATABASE $TAP_DB"
	at_exit "drop_database $TAP_DB"
	export PGDATABASE=$TAP_DB
}

q() { "${PSQL[@]}" -c "$1"; }

# Thin wrappers of test/lib.sh's ap_set_config and ap_reset_config.
set_config() { ap_set_config "$1" "$2"; }

reset_config() { ap_reset_config "$1"; }

# A long-lived session for tests that need one backend across statements:
#   session_open; session_ask "SELECT ...;"; session_close
# session_ask sends one statement and prints the last line of output once
# a new line has appeared (answers and errors alike).
session_open() {
	TAP_SESSION_DIR=$(mktemp -d)
	mkfifo "$TAP_SESSION_DIR/in"
	"${PSQL[@]}" -v ON_ERROR_STOP=0 -v VERBOSITY=terse <"$TAP_SESSION_DIR/in" >"$TAP_SESSION_DIR/out" 2>&1 &
	TAP_SESSION_PID=$!
	exec 3>"$TAP_SESSION_DIR/in"
}

session_ask() {
	local before
	before=$(wc -l <"$TAP_SESSION_DIR/out")
	echo "$1" >&3
	for _ in $(seq 100); do
		(($(wc -l <"$TAP_SESSION_DIR/out") > before)) && break
		sleep 0.05
	done
	tail -n 1 "$TAP_SESSION_DIR/out"
}

session_close() {
	echo '\q' >&3
	exec 3>&-
	wait "$TAP_SESSION_PID"
	rm -rf "$TAP_SESSION_DIR"
}
