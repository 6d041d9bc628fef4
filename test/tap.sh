# TAP helpers for integration scripts (sourced).  The harness exports
# PGHOST, PGPORT and PGUSER of the throwaway cluster.
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
	fi
}

done_testing() {
	echo "1..$TAP_COUNT"
	((TAP_FAILED == 0))
}

# A fresh database for one script, dropped at exit.
new_database() {
	TAP_DB=$1
	"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $TAP_DB" -c "CREATE DATABASE $TAP_DB"
	trap '"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $TAP_DB WITH (FORCE)" >/dev/null 2>&1' EXIT
	export PGDATABASE=$TAP_DB
}

q() { "${PSQL[@]}" -c "$1"; }

# Set a reload-level setting and wait until new sessions see it.
set_config() {
	local name=$1 value=$2
	"${PSQL[@]}" -d postgres -c "ALTER SYSTEM SET $name = '$value'" -c "SELECT pg_reload_conf()" >/dev/null
	for _ in $(seq 50); do
		[[ $(q "SHOW $name") == "$value" ]] && return 0
		sleep 0.1
	done
	echo "# setting $name did not reach $value"
	return 1
}

reset_config() {
	"${PSQL[@]}" -d postgres -c "ALTER SYSTEM RESET $1" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 0.3
}
