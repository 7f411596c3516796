#!/usr/bin/env bash
# A classroom across several meet nodes on one machine (issue 18,
# docs/BENCHMARKS.md "Several nodes: a classroom across two").
#
#   scripts/cluster-bench.sh NODES CAPACITY VIEWERS [loadtest flags...]
#
# e.g., inside a private network namespace (all traffic on loopback):
#
#   unshare -n sh -c 'ip link set lo up && scripts/cluster-bench.sh 2 400 800 -duration 20s -json'
#
# It starts a throwaway PostgreSQL cluster on 127.0.0.1, builds cmd/meet and
# cmd/loadtest (or takes them from $MEET_BENCH_BIN, a directory holding both),
# starts NODES meet processes (A, B, ...) on that database, each with its own
# HTTP, UDP and metrics ports and -node-capacity CAPACITY, waits for their
# /readyz and for their heartbeats to meet, then runs the load tool's classroom
# of VIEWERS viewers through all of them (the presenter through A), with each
# node's pid and metrics listener, and tears everything down. The nodes' logs
# are copied to $MEET_BENCH_LOGS when it is set.
#
# Before the run it waits until the 1-minute load average is below
# $MEET_BENCH_MAX_LOAD (default 1.2; 0: do not wait), polling every 10 s, for
# at most $MEET_BENCH_LOAD_WAIT seconds (default 600); the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 3 ]; then
	sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
nodes=$1 capacity=$2 viewers=$3
shift 3
case "$nodes$capacity$viewers" in *[!0-9]*) echo "cluster-bench: NODES, CAPACITY and VIEWERS are numbers" >&2; exit 2 ;; esac
[ "$nodes" -ge 1 ] && [ "$nodes" -le 8 ] || { echo "cluster-bench: 1 to 8 nodes" >&2; exit 2; }

# All traffic must stay on loopback: refuse to run where other interfaces are.
if ip -o link show | awk -F': ' '{print $2}' | grep -qv '^lo$'; then
	cat >&2 <<'MSG'
cluster-bench: run it in a private network namespace whose only interface is lo:
  unshare -n sh -c 'ip link set lo up && scripts/cluster-bench.sh NODES CAPACITY VIEWERS ...'
MSG
	exit 1
fi

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ ! -x "$(pg_bin)/initdb" ]; then
	echo "cluster-bench: installing postgresql (needs the network: run it once outside the namespace if this fails)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q postgresql
fi
PG_BIN=$(pg_bin)

work=$(mktemp -d /tmp/cluster-bench.XXXXXX)
chmod 777 "$work"
pids=()
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -c "cd $work && $*"; else sh -c "cd $work && $*"; fi; }
cleanup() {
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	as_pg "$PG_BIN/pg_ctl -D $work/pg stop -m fast" >/dev/null 2>&1 || true
	if [ -n "${MEET_BENCH_LOGS:-}" ]; then
		mkdir -p "$MEET_BENCH_LOGS" && cp "$work"/*.log "$MEET_BENCH_LOGS"/ 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nothing listens on (TCP), from $1 up.
free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

pg_port=$(free_port 25432)
as_pg "$PG_BIN/initdb -D $work/pg -A trust -U meet" >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log"; exit 1; }
as_pg "$PG_BIN/pg_ctl -D $work/pg -w -o \"-p $pg_port -k $work -c listen_addresses=127.0.0.1 -c max_connections=200\" -l $work/postgres.log start" >/dev/null ||
	{ cat "$work/postgres.log"; exit 1; }
as_pg "$PG_BIN/psql -h 127.0.0.1 -p $pg_port -U meet -d postgres -qc \"create database meet\""
db="postgres://meet@127.0.0.1:$pg_port/meet?sslmode=disable"
echo "cluster-bench: PostgreSQL on 127.0.0.1:$pg_port" >&2

if [ -n "${MEET_BENCH_BIN:-}" ]; then
	bin=$MEET_BENCH_BIN
else
	bin=$work/bin
	echo "cluster-bench: building cmd/meet and cmd/loadtest" >&2
	GOPROXY=off go build -o "$bin/meet" ./cmd/meet
	GOPROXY=off go build -o "$bin/loadtest" ./cmd/loadtest
fi

names=(A B C D E F G H)
urls=() metrics=() node_pids=()
for ((i = 0; i < nodes; i++)); do
	name=${names[$i]}
	http_port=$(free_port $((18080 + 10 * i)))
	metrics_port=$(free_port $((19090 + 10 * i)))
	url="http://127.0.0.1:$http_port"
	mkdir -p "$work/node-$name"
	"$bin/meet" -db "$db" -node-id "node-$name" -data-dir "$work/node-$name" \
		-addr "127.0.0.1:$http_port" -public-url "$url" -internal-url "$url" \
		-udp-port $((18443 + i)) -tcp-port 0 -turn-port 0 -metrics-addr "127.0.0.1:$metrics_port" \
		-mesh-max 1 -max-participants 0 -joins-per-minute 0 -rooms-per-minute 0 \
		-node-timeout 10s -node-capacity "$capacity" -log-level warn 2>"$work/node-$name.log" &
	pids+=($!)
	node_pids+=($!)
	urls+=("$url")
	metrics+=("http://127.0.0.1:$metrics_port")
	# The first node alone migrates the schema and seeds the shared secret.
	if [ "$i" = 0 ]; then
		for _ in $(seq 600); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.1; done
	fi
done
for ((i = 0; i < nodes; i++)); do
	ok=
	for _ in $(seq 600); do
		if ! kill -0 "${node_pids[$i]}" 2>/dev/null; then break; fi
		if curl -sf "${urls[$i]}/readyz" >/dev/null; then ok=1; break; fi
		sleep 0.1
	done
	if [ -z "$ok" ]; then
		echo "cluster-bench: node ${names[$i]} not ready:" >&2
		cat "$work/node-${names[$i]}.log" >&2
		exit 1
	fi
	echo "cluster-bench: node ${names[$i]} pid ${node_pids[$i]} at ${urls[$i]}, metrics ${metrics[$i]}, UDP $((18443 + i))" >&2
done
# Each node learns the live nodes from its heartbeats (every third of
# -node-timeout): wait for one round so that the host knows its edges.
[ "$nodes" -gt 1 ] && sleep 4

max_load=${MEET_BENCH_MAX_LOAD:-1.2}
if [ "$max_load" != 0 ]; then
	waited=0
	while awk -v max="$max_load" '{exit !($1 >= max)}' /proc/loadavg && [ "$waited" -lt "${MEET_BENCH_LOAD_WAIT:-600}" ]; do
		[ $((waited % 60)) = 0 ] && echo "cluster-bench: load average $(cut -d' ' -f1-3 /proc/loadavg), waiting for < $max_load" >&2
		sleep 10
		waited=$((waited + 10))
	done
	echo "cluster-bench: load average $(cut -d' ' -f1-3 /proc/loadavg) after ${waited} s of waiting" >&2
fi

join() { local IFS=,; echo "$*"; }
"$bin/loadtest" -url "$(join "${urls[@]}")" -server-pid "$(join "${node_pids[@]}")" \
	-metrics-url "$(join "${metrics[@]}")" -scenario classroom -viewers "$viewers" "$@"
