# Shared set-up for test/run, test/demo and bench/*: install what is needed,
# build and install the extension, run a throwaway PostgreSQL cluster.
#
# Source it, then call ap_setup; the cluster is stopped and removed on exit.
# After ap_setup: PGHOST, PGPORT, PGUSER are exported, and ap_psql runs psql.

set -euo pipefail

AP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AP_PG_MAJOR=${AP_PG_MAJOR:-15}
AP_PG_BIN=${AP_PG_BIN:-/usr/lib/postgresql/$AP_PG_MAJOR/bin}
AP_CLUSTER_USER=${AP_CLUSTER_USER:-postgres}
# PostgreSQL 15's programs (psql, pgbench, pg_dump, ...) come first, whatever
# else the machine has installed; warnings are errors in the tests' builds.
export PATH="$AP_PG_BIN:$PATH"
export WERROR=-Werror
AP_PACKAGES=(
	build-essential
	"postgresql-$AP_PG_MAJOR"
	"postgresql-server-dev-$AP_PG_MAJOR"
	"postgresql-$AP_PG_MAJOR-pgtap"
	"postgresql-$AP_PG_MAJOR-cron"
	libtap-parser-sourcehandler-pgtap-perl
	libcurl4-openssl-dev
	libcjson-dev
	clang
	libclang-rt-dev
	nodejs
	npm
	python3
	openssl
	gnuplot-nox
)

ap_log() { printf '\n=== %s\n' "$*" >&2; }

# Install the Debian packages that are missing (needs root).
ap_install_packages() {
	local missing=() pkg
	for pkg in "${AP_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
	done
	# node/npm may come from elsewhere than Debian's packages; accept them.
	if command -v node >/dev/null && command -v npm >/dev/null; then
		local kept=()
		for pkg in "${missing[@]}"; do
			[[ $pkg == nodejs || $pkg == npm ]] || kept+=("$pkg")
		done
		missing=("${kept[@]+"${kept[@]}"}")
	fi
	if ((${#missing[@]})); then
		ap_log "installing ${missing[*]}"
		if [[ $(id -u) -ne 0 ]]; then
			echo "missing packages: ${missing[*]} (run as root to install them)" >&2
			return 1
		fi
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# Build and install the extension.
ap_build_install() {
	ap_log "building and installing"
	make -C "$AP_ROOT" -s -j2 PG_CONFIG="$AP_PG_BIN/pg_config"
	make -C "$AP_ROOT" -s install PG_CONFIG="$AP_PG_BIN/pg_config" >/dev/null
}

# Pick a free TCP port on loopback.
ap_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Run a command as the cluster's unprivileged owner.
ap_as_owner() {
	if [[ $(id -un) == "$AP_CLUSTER_USER" ]]; then
		"$@"
	else
		runuser -u "$AP_CLUSTER_USER" -- "$@"
	fi
}

# Create and start a throwaway cluster.  Extra postgresql.conf lines can be
# passed in AP_EXTRA_CONF.
ap_start_cluster() {
	if ! id "$AP_CLUSTER_USER" >/dev/null 2>&1; then
		useradd --system --create-home "$AP_CLUSTER_USER"
	fi
	AP_TMP=$(mktemp -d /tmp/adaptive_prompts.XXXXXX)
	chown "$AP_CLUSTER_USER" "$AP_TMP"
	AP_DATA=$AP_TMP/data
	export PGHOST=$AP_TMP PGPORT=$(ap_free_port) PGUSER=$AP_CLUSTER_USER PGDATABASE=postgres
	ap_log "starting a cluster in $AP_DATA on port $PGPORT"
	# The default collation is ICU's en-US, not C, as in most real databases:
	# the window's direct index scans must order keys as the index does.
	ap_as_owner "$AP_PG_BIN/initdb" -D "$AP_DATA" -A trust -U "$AP_CLUSTER_USER" \
		--no-sync -E UTF8 --locale=C.UTF-8 --locale-provider=icu --icu-locale=en-US \
		>"$AP_TMP/initdb.log"
	cat >>"$AP_DATA/postgresql.conf" <<-CONF
		port = $PGPORT
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$AP_TMP'
		shared_preload_libraries = 'adaptive_prompts,pg_cron'
		cron.database_name = 'postgres'
		max_connections = 50
		fsync = off
		log_min_messages = warning
		log_line_prefix = '%m [%p] %q%a '
		${AP_EXTRA_CONF:-}
	CONF
	# 9>&-: the server must not inherit the lock of ap_setup, or a cluster left
	# running by a crashed script would hold it.
	ap_as_owner "$AP_PG_BIN/pg_ctl" -D "$AP_DATA" -l "$AP_TMP/server.log" -w -t 60 start >/dev/null 9>&-
	trap ap_stop_cluster EXIT
}

ap_stop_cluster() {
	local rc=$?
	if [[ -n ${AP_DATA:-} && -d $AP_DATA ]]; then
		ap_as_owner "$AP_PG_BIN/pg_ctl" -D "$AP_DATA" -m immediate -w stop >/dev/null 2>&1 || true
		if ((rc != 0)) && [[ -f $AP_TMP/server.log ]]; then
			echo "--- last lines of the server log" >&2
			tail -n 30 "$AP_TMP/server.log" >&2 || true
		fi
		rm -rf "$AP_TMP"
	fi
	return $rc
}

ap_psql() { "$AP_PG_BIN/psql" -X -v ON_ERROR_STOP=1 -q "$@"; }

# Reload the configuration after ALTER SYSTEM.
ap_reload() { ap_psql -d postgres -c "SELECT pg_reload_conf()" >/dev/null; sleep 0.3; }

# ap_set_config NAME VALUE: set a reload-level setting with ALTER SYSTEM,
# reload, and wait until new sessions see VALUE (SHOW NAME).
ap_set_config() {
	local name=$1 value=$2
	ap_psql -d postgres -c "ALTER SYSTEM SET $name = '$value'" -c "SELECT pg_reload_conf()" >/dev/null || return 1
	for _ in $(seq 50); do
		[[ $(ap_psql -d postgres -tA -c "SHOW $name") == "$value" ]] && return 0
		sleep 0.1
	done
	echo "setting $name did not reach $value" >&2
	return 1
}

# ap_reset_config NAME...: ALTER SYSTEM RESET each setting, then reload.
ap_reset_config() {
	local name
	for name; do
		ap_psql -d postgres -c "ALTER SYSTEM RESET $name" >/dev/null || return 1
	done
	ap_reload
}

ap_setup() {
	if [[ $(id -u) -ne 0 ]]; then
		echo "$(basename "$0"): run this as root: it installs Debian packages, installs the" >&2
		echo "extension into PostgreSQL $AP_PG_MAJOR and runs a throwaway cluster as the" >&2
		echo "unprivileged user '$AP_CLUSTER_USER'." >&2
		exit 1
	fi
	# Called from inside a test/run step (AP_NESTED=1, as the demo's test
	# does), the lock is held and the extension installed already.
	if [[ ${AP_NESTED:-} == 1 ]]; then
		ap_start_cluster
		return
	fi
	# One test run at a time installs into and uses this machine's
	# PostgreSQL: the lock is held until the calling script exits.
	exec 9>/tmp/adaptive_prompts.lock
	flock 9
	ap_install_packages
	ap_build_install
	ap_start_cluster
}
