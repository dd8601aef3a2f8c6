#!/usr/bin/env bash
# Two throwaway JetStream servers for `lienthong bench peers`, on 127.0.0.1
# only, on free ports: a hub (server A, JetStream domain "hub") and a leaf node
# connected to it (server B, domain "leaf"). A stream on B can then mirror or
# source a stream on A through the leaf connection, addressing A's JetStream
# API as domain "hub" ($JS.hub.API).
#
#   nats.sh start DIR   install nats-server if missing (apt-get, as root), write
#                       the configurations, start both servers, wait until the
#                       leaf is connected, print HUB_URL=, LEAF_URL=,
#                       HUB_DOMAIN=, LEAF_DOMAIN= lines (also in DIR/env)
#   nats.sh stop DIR    stop both servers and remove DIR
#
# A DIR left by a crashed run is stopped and removed by start. DIR is only ever
# removed if it holds this script's marker file (or is empty).
set -euo pipefail

MARK=.lienthong-bench-nats
HUB_DOMAIN=hub
LEAF_DOMAIN=leaf

die() {
	echo "nats.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: nats.sh start|stop DIR" >&2
	exit 2
}

is_root() { [ "$(id -u)" -eq 0 ]; }

find_server() {
	local p
	if p=$(command -v nats-server 2>/dev/null); then
		echo "$p"
		return 0
	fi
	for p in /usr/sbin/nats-server /usr/bin/nats-server /usr/local/bin/nats-server; do
		if [ -x "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	return 0
}

ensure_nats() {
	SERVER=$(find_server)
	[ -n "$SERVER" ] && return 0
	if ! is_root; then
		die "nats-server is not installed and this script is not root: install it by hand (apt-get install nats-server, or a release from https://github.com/nats-io/nats-server) or run as root"
	fi
	command -v apt-get >/dev/null 2>&1 ||
		die "nats-server is not installed and there is no apt-get: install nats-server by hand"
	echo "nats.sh: installing nats-server with apt-get install -y nats-server..." >&2
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y nats-server >&2; then
		echo "nats.sh: apt-get install failed; retrying after apt-get update..." >&2
		{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y nats-server >&2; } ||
			die "apt-get install nats-server failed: install it by hand or run as root"
	fi
	SERVER=$(find_server)
	[ -n "$SERVER" ] || die "apt-get installed nats-server, but no nats-server binary was found"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port prints a port below the usual ephemeral range that nothing listens
# on and that this script has not handed out yet.
TAKEN=" "
free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		case "$TAKEN" in *" $p "*) continue ;; esac
		if ! port_busy "$p"; then
			TAKEN="$TAKEN$p "
			echo "$p"
			return 0
		fi
	done
	die "found no free TCP port on 127.0.0.1 in 200 tries"
}

# alive succeeds if pid $1 runs (a zombie does not count).
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case "$st" in Z*) return 1 ;; esac
	return 0
}

stop_server() {
	local pidfile=$1 pid i
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile" 2>/dev/null || true)
	[ -n "$pid" ] || return 0
	alive "$pid" || return 0
	# Make sure the pid is still a nats-server before signalling it.
	case "$(ps -o comm= -p "$pid" 2>/dev/null)" in nats-server*) ;; *) return 0 ;; esac
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do
		alive "$pid" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

stop_dir() {
	local dir=$1
	[ -e "$dir" ] || return 0
	[ -d "$dir" ] || die "$dir exists and is not a directory: refusing to touch it"
	if [ ! -e "$dir/$MARK" ] && [ -n "$(ls -A "$dir")" ]; then
		die "refusing to remove $dir: it is not empty and was not made by nats.sh (no $MARK)"
	fi
	stop_server "$dir/leaf.pid"
	stop_server "$dir/hub.pid"
	rm -rf -- "$dir"
}

# wait_log FILE PATTERN PIDFILE: wait up to 20 s for PATTERN in FILE while the
# server runs; fail if it exits first.
wait_log() {
	local file=$1 pattern=$2 pidfile=$3 i pid
	for i in $(seq 1 200); do
		if grep -q -- "$pattern" "$file" 2>/dev/null; then
			return 0
		fi
		pid=$(cat "$pidfile" 2>/dev/null || true)
		if [ "$i" -gt 10 ] && { [ -z "$pid" ] || ! alive "$pid"; }; then
			return 1
		fi
		sleep 0.1
	done
	return 1
}

# launch NAME: start nats-server with DIR/NAME.conf, detached, its output in
# DIR/NAME.log.
launch() {
	local n=$1
	rm -f "$DIR/$n.log" "$DIR/$n.pid"
	setsid "$SERVER" -c "$DIR/$n.conf" -P "$DIR/$n.pid" -l "$DIR/$n.log" </dev/null >>"$DIR/$n.out" 2>&1 &
}

start() {
	local try
	stop_dir "$DIR" # a leftover of a crashed run
	ensure_nats
	mkdir -p "$DIR/hub" "$DIR/leaf"
	touch "$DIR/$MARK"
	STARTED=1
	for try in 1 2 3 4 5; do
		HUB_PORT=$(free_port)
		HUB_LEAF_PORT=$(free_port)
		cat >"$DIR/hub.conf" <<EOF
# lienthong bench peers: server A
server_name: hub
listen: 127.0.0.1:$HUB_PORT
jetstream {
  store_dir: "$DIR/hub"
  domain: $HUB_DOMAIN
}
leafnodes {
  listen: 127.0.0.1:$HUB_LEAF_PORT
}
EOF
		launch hub
		if wait_log "$DIR/hub.log" "Server is ready" "$DIR/hub.pid"; then
			break
		fi
		stop_server "$DIR/hub.pid"
		if ! grep -q -i -E "error listening|address already in use" "$DIR/hub.log" "$DIR/hub.out" 2>/dev/null; then
			tail -n 20 "$DIR/hub.log" "$DIR/hub.out" >&2 2>/dev/null || true
			die "nats-server (hub) did not start (log above, in $DIR/hub.log)"
		fi
		echo "nats.sh: a port of the hub was taken, trying others" >&2
		[ "$try" -lt 5 ] || die "nats-server (hub) could not bind free ports on 127.0.0.1 in 5 tries"
	done
	for try in 1 2 3 4 5; do
		LEAF_PORT=$(free_port)
		cat >"$DIR/leaf.conf" <<EOF
# lienthong bench peers: server B, a leaf node of A
server_name: leaf
listen: 127.0.0.1:$LEAF_PORT
jetstream {
  store_dir: "$DIR/leaf"
  domain: $LEAF_DOMAIN
}
leafnodes {
  remotes: [ { url: "nats-leaf://127.0.0.1:$HUB_LEAF_PORT" } ]
}
EOF
		launch leaf
		if wait_log "$DIR/leaf.log" "Server is ready" "$DIR/leaf.pid"; then
			break
		fi
		stop_server "$DIR/leaf.pid"
		if ! grep -q -i -E "error listening|address already in use" "$DIR/leaf.log" "$DIR/leaf.out" 2>/dev/null; then
			tail -n 20 "$DIR/leaf.log" "$DIR/leaf.out" >&2 2>/dev/null || true
			die "nats-server (leaf) did not start (log above, in $DIR/leaf.log)"
		fi
		echo "nats.sh: the leaf's port was taken, trying another" >&2
		[ "$try" -lt 5 ] || die "nats-server (leaf) could not bind a free port on 127.0.0.1 in 5 tries"
	done
	wait_log "$DIR/leaf.log" "Leafnode connection created" "$DIR/leaf.pid" || {
		tail -n 20 "$DIR/leaf.log" >&2 || true
		die "the leaf node did not connect to the hub within 20 s (log above, in $DIR/leaf.log)"
	}
	{
		echo "HUB_URL=nats://127.0.0.1:$HUB_PORT"
		echo "LEAF_URL=nats://127.0.0.1:$LEAF_PORT"
		echo "HUB_DOMAIN=$HUB_DOMAIN"
		echo "LEAF_DOMAIN=$LEAF_DOMAIN"
		echo "VERSION=$("$SERVER" --version | sed -E 's/.*v([0-9][0-9.]*).*/\1/')"
	} >"$DIR/env"
	cat "$DIR/env"
	STARTED=2
}

on_exit() {
	local rc=$?
	if [ "$rc" -ne 0 ] && [ "${STARTED:-0}" = 1 ]; then
		echo "nats.sh: start failed; stopping what was started and removing $DIR" >&2
		(stop_dir "$DIR") || true
	fi
	exit "$rc"
}

[ $# -eq 2 ] || usage
[ -n "$2" ] || usage
DIR=$(realpath -m -- "$2")
case "$DIR" in
/ | /tmp | /var | /usr | /home | /root | /etc) die "refusing to use $DIR as the servers' directory" ;;
esac
cd /
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
