#!/usr/bin/env bash
# Two throwaway PostgreSQL clusters for `lienthong bench peers`: a publisher
# (wal_level=logical) and a subscriber, each listening on 127.0.0.1 only, on a
# free port, with trust authentication for the postgres superuser.
#
#   postgres.sh start DIR   install PostgreSQL if initdb is missing (apt-get, as
#                           root), create DIR/pub and DIR/sub, start both, print
#                           PUB_PORT=, SUB_PORT=, PSQL= lines (also in DIR/env)
#   postgres.sh stop DIR    stop both clusters and remove DIR
#
# A DIR left by a crashed run is stopped and removed by start. DIR is only ever
# removed if it holds this script's marker file (or is empty). As root, the
# clusters run as the postgres system user (initdb refuses root), so DIR's
# parents must be traversable by that user.
set -euo pipefail

MARK=.lienthong-bench-postgres

die() {
	echo "postgres.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: postgres.sh start|stop DIR" >&2
	exit 2
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# as_pg runs a command as the postgres system user when this script is root.
as_pg() {
	if is_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# find_bindir prints the directory of initdb, pg_ctl and psql: the one of the
# initdb on PATH, else the newest /usr/lib/postgresql/*/bin (Debian's layout).
find_bindir() {
	local d best=""
	if d=$(command -v initdb 2>/dev/null); then
		d=$(dirname "$(readlink -f "$d")")
		if [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; then
			echo "$d"
			return 0
		fi
	fi
	for d in /usr/lib/postgresql/*/bin /usr/pgsql-*/bin; do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; then
			best=$(printf '%s\n%s\n' "$best" "$d" | sed '/^$/d' | sort -V | tail -n 1)
		fi
	done
	[ -n "$best" ] && echo "$best"
	return 0
}

ensure_postgres() {
	BIN=$(find_bindir)
	[ -n "$BIN" ] && return 0
	if ! is_root; then
		die "PostgreSQL is not installed (no initdb on PATH or under /usr/lib/postgresql/*/bin) and this script is not root: install it by hand (apt-get install postgresql) or run as root"
	fi
	command -v apt-get >/dev/null 2>&1 ||
		die "PostgreSQL is not installed and there is no apt-get: install PostgreSQL (initdb, pg_ctl, psql) by hand"
	echo "postgres.sh: installing PostgreSQL with apt-get install -y postgresql..." >&2
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2; then
		echo "postgres.sh: apt-get install failed; retrying after apt-get update..." >&2
		{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2; } ||
			die "apt-get install postgresql failed: install it by hand or run as root"
	fi
	BIN=$(find_bindir)
	[ -n "$BIN" ] || die "apt-get installed postgresql, but no initdb was found under /usr/lib/postgresql/*/bin"
}

# port_busy succeeds if something accepts TCP connections on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port prints a port below the usual ephemeral range that nothing listens
# on. Another process may still take it before the server binds: start retries.
free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		if ! port_busy "$p"; then
			echo "$p"
			return 0
		fi
	done
	die "found no free TCP port on 127.0.0.1 in 200 tries"
}

# stop_dir stops the clusters in DIR, if any, and removes DIR.
stop_dir() {
	local dir=$1 c pid
	[ -e "$dir" ] || return 0
	[ -d "$dir" ] || die "$dir exists and is not a directory: refusing to touch it"
	if [ ! -e "$dir/$MARK" ] && [ -n "$(ls -A "$dir")" ]; then
		die "refusing to remove $dir: it is not empty and was not made by postgres.sh (no $MARK)"
	fi
	# The subscriber first, so that the publisher has no walsender to wait for.
	for c in sub pub; do
		[ -f "$dir/$c/postmaster.pid" ] || continue
		if [ -n "${BIN:-}" ] && as_pg "$BIN/pg_ctl" -D "$dir/$c" -m fast -w -t 60 stop >/dev/null 2>&1; then
			continue
		fi
		# No pg_ctl, or it failed: end the postmaster by its pid file.
		pid=$(head -n 1 "$dir/$c/postmaster.pid" 2>/dev/null || true)
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -QUIT "$pid" 2>/dev/null || true
			sleep 1
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	rm -rf -- "$dir"
}

# start_cluster NAME: initdb DIR/NAME, configure it, start it on a free port
# (retrying on a port taken meanwhile) and set PORT.
start_cluster() {
	local c=$1 data="$DIR/$1" try
	as_pg "$BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale --no-sync \
		>"$DIR/$c.initdb.log" 2>&1 || {
		tail -n 20 "$DIR/$c.initdb.log" >&2
		die "initdb of the $c cluster failed (log above, in $DIR/$c.initdb.log)"
	}
	{
		echo "# lienthong bench peers"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = ''"
		echo "max_wal_senders = 10"
		echo "max_replication_slots = 10"
		if [ "$c" = pub ]; then echo "wal_level = logical"; fi
	} >>"$data/postgresql.conf"
	for try in 1 2 3 4 5; do
		PORT=$(free_port)
		echo "port = $PORT" >>"$data/postgresql.conf"
		if as_pg "$BIN/pg_ctl" -D "$data" -l "$DIR/$c.log" -w -t 60 start >/dev/null 2>&1; then
			return 0
		fi
		if ! grep -q -i -E "could not bind|address already in use" "$DIR/$c.log" 2>/dev/null; then
			tail -n 20 "$DIR/$c.log" >&2 || true
			die "the $c cluster did not start (log above, in $DIR/$c.log)"
		fi
		echo "postgres.sh: port $PORT was taken, trying another" >&2
	done
	die "the $c cluster could not bind a free port on 127.0.0.1 in 5 tries"
}

start() {
	stop_dir "$DIR" # a leftover of a crashed run
	ensure_postgres
	if is_root; then
		id postgres >/dev/null 2>&1 ||
			die "running as root, but there is no postgres system user to run the clusters (initdb refuses root): create one, or run as an ordinary user"
	fi
	mkdir -p "$DIR"
	touch "$DIR/$MARK"
	STARTED=1
	if is_root; then
		chown postgres "$DIR"
		as_pg test -w "$DIR" -a -x "$DIR" ||
			die "the postgres user cannot write $DIR: choose a directory whose parents it can traverse (e.g. under /tmp)"
	fi
	start_cluster pub
	PUB_PORT=$PORT
	start_cluster sub
	SUB_PORT=$PORT
	{
		echo "PUB_PORT=$PUB_PORT"
		echo "SUB_PORT=$SUB_PORT"
		echo "PSQL=$BIN/psql"
		echo "PGUSER=postgres"
		echo "VERSION=$("$BIN/pg_ctl" --version | sed -E "s/.*\(PostgreSQL\) ([0-9.]+).*/\1/")"
	} >"$DIR/env"
	cat "$DIR/env"
	STARTED=2
}

on_exit() {
	local rc=$?
	if [ "$rc" -ne 0 ] && [ "${STARTED:-0}" = 1 ]; then
		echo "postgres.sh: start failed; stopping what was started and removing $DIR" >&2
		(stop_dir "$DIR") || true
	fi
	exit "$rc"
}

[ $# -eq 2 ] || usage
[ -n "$2" ] || usage
DIR=$(realpath -m -- "$2")
case "$DIR" in
/ | /tmp | /var | /usr | /home | /root | /etc) die "refusing to use $DIR as the clusters' directory" ;;
esac
cd /
BIN=$(find_bindir)
case "$1" in
start)
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	start
	;;
stop) stop_dir "$DIR" ;;
*) usage ;;
esac
