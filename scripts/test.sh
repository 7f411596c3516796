#!/usr/bin/env bash
# The one test command of the project (`make test`, `.ci/run`).
#
#   scripts/test.sh                       # everything: vet, then go test -race ./...
#   scripts/test.sh -run TestMesh ./e2e   # extra arguments replace ./...
#
# It installs what the tests need when it is missing (Debian's Chromium and
# Firefox ESR, PostgreSQL, Node.js and the npm test tools), downloads the
# modules, runs go vet, and then runs every test -- Go, Pion and browser
# tests -- inside a private network namespace (`unshare -n`) whose only
# interface is lo, so that no WebRTC, mDNS or STUN traffic can leave the
# machine. In that namespace it first starts a throwaway PostgreSQL cluster
# (stopped and removed at the end) and hands it to the store's tests as
# MEET_TEST_POSTGRES, so that every store test runs on SQLite and on
# PostgreSQL; a MEET_TEST_POSTGRES already set is used instead (reach it
# through a Unix socket, ?host=/dir: the namespace has no network). The browser tests
# refuse to run outside such a namespace. The environment (CI among it) passes
# through: with CI set, a test that would skip for lack of Chromium or of the
# namespace fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
step() { printf '\n==> [%ds] %s\n' "$((SECONDS - started))" "$*"; }

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		echo "test.sh: need root (or sudo) to run: $*" >&2
		return 1
	fi
}

# Debian packages the tests need, installed when missing: the browsers
# (Chromium, Firefox ESR), Node.js with npm (test tools from npm), iproute2
# (the namespace's routes), iptables (the NATs and firewalls of the network
# tests, e2e/netns_test.go), ffmpeg (ffprobe and ffmpeg judge the recordings),
# postgresql (the store's tests run on it too).
chromium="${MEET_CHROMIUM:-/usr/bin/chromium}"
firefox="${MEET_FIREFOX:-/usr/bin/firefox-esr}"
missing=()
[ -z "${MEET_CHROMIUM:-}" ] && [ ! -x "$chromium" ] && missing+=(chromium)
[ -z "${MEET_FIREFOX:-}" ] && [ ! -x "$firefox" ] && missing+=(firefox-esr)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
# ffmpeg (ffprobe with it) judges the recordings' files (record/).
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "${MEET_TEST_POSTGRES:-}" ] && [ ! -x "$(pg_bin)/initdb" ]; then
	missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
	step "installing Debian packages the tests need: ${missing[*]}"
	# Wait for another apt/dpkg run rather than fail on its lock.
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}"
fi
for b in "$chromium" "$firefox"; do
	if [ -x "$b" ]; then
		"$b" --version 2>/dev/null || true
	else
		echo "test.sh: no browser at $b: its browser tests will fail with CI set, and skip otherwise" >&2
	fi
done

# Test tools from npm (package.json: axe-core, TypeScript), installed from
# the lock file.
if [ ! -d node_modules/axe-core ] || [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	step "npm ci (test tools: package.json)"
	npm ci --no-audit --no-fund
fi

step "go mod download (needs the network: before the namespace)"
go version
go mod download

step "go vet ./..."
go vet ./...

step "tsc --checkJs over the frontend (types of the JSDoc; no output, no build step)"
node_modules/.bin/tsc -p frontend/jsconfig.json

step "node --test frontend/test/ (the frontend's pure logic)"
node --test --test-reporter=spec frontend/test/

# unshare -n needs root (CAP_SYS_ADMIN). Without root, a user namespace
# (unshare -r) gives the same private network if the kernel allows it.
if unshare -n true 2>/dev/null; then
	ns=(unshare -n)
elif unshare -r -n true 2>/dev/null; then
	ns=(unshare -r -n)
else
	cat >&2 <<'MSG'

test.sh: cannot create a private network namespace: `unshare -n` is not permitted here.
The tests open real WebRTC connections and must only ever see the loopback
interface, so they run inside `unshare -n` (as root) or `unshare -r -n` (with
unprivileged user namespaces). Run this script as root, or enable user
namespaces (sysctl kernel.unprivileged_userns_clone=1, or
user.max_user_namespaces > 0), or, in a container, give it CAP_SYS_ADMIN
(docker run --cap-add SYS_ADMIN ...).
MSG
	exit 1
fi

if [ $# -eq 0 ]; then
	set -- ./...
fi
# -p 1: one test binary at a time. The media tests assert zero loss on
# loopback, and two -race binaries pushing RTP through two cores at once
# starve each other's sockets; the suite is small enough to run in series.
step "go test -race -p 1 -count=1 -timeout 35m $* (in a private network namespace: ${ns[*]})"
# Inside, nothing can be downloaded: make a missing module a clear error.
# Firefox finds its own address by routing towards the internet: without a
# default route it gathers no ICE candidate. The route points at lo, so
# nothing can leave the namespace.
#
# The store's tests get a PostgreSQL cluster started inside the same
# namespace (one outside it would be unreachable: the namespace has a
# loopback of its own), as the postgres user when we are root (initdb
# refuses root), trusting local connections, on a port that is free there
# since nothing else listens in a new namespace. It is stopped and removed
# when the command ends.
pg_setup='
if [ -n "$MEET_PG_BIN" ]; then
	pg_dir=$(mktemp -d) && chmod 777 "$pg_dir" || exit 1
	as_pg() { if [ "$MEET_PG_SU" = 1 ]; then su postgres -c "cd $pg_dir && $*"; else sh -c "cd $pg_dir && $*"; fi; }
	pg_stop() { as_pg "$MEET_PG_BIN/pg_ctl -D $pg_dir/pg stop -m fast" >/dev/null 2>&1; rm -rf "$pg_dir"; }
	trap pg_stop EXIT
	trap "exit 130" INT TERM
	as_pg "$MEET_PG_BIN/initdb -D $pg_dir/pg -A trust -U meet" >"$pg_dir/initdb.log" 2>&1 || { cat "$pg_dir/initdb.log"; exit 1; }
	as_pg "$MEET_PG_BIN/pg_ctl -D $pg_dir/pg -w -o \"-p 25432 -k $pg_dir -c listen_addresses=127.0.0.1\" -l $pg_dir/pg.log start" >/dev/null || { cat "$pg_dir/pg.log"; exit 1; }
	as_pg "$MEET_PG_BIN/psql -h 127.0.0.1 -p 25432 -U meet -d postgres -qc \"create database meet\"" || exit 1
	export MEET_TEST_POSTGRES="postgres://meet@127.0.0.1:25432/meet?sslmode=disable"
	echo "test.sh: PostgreSQL $("$MEET_PG_BIN/postgres" --version | awk "{print \$3}") for the store tests: $MEET_TEST_POSTGRES"
fi
'
MEET_PG_BIN=
MEET_PG_SU=0
if [ -z "${MEET_TEST_POSTGRES:-}" ]; then
	MEET_PG_BIN=$(pg_bin)
	[ "$(id -u)" = 0 ] && MEET_PG_SU=1
fi
export MEET_PG_BIN MEET_PG_SU
in_namespace() {
	GOPROXY=off "${ns[@]}" sh -c 'ip link set lo up && ip route add default dev lo src 127.0.0.1 || exit 1
'"$pg_setup"'
"$@"' sh "$@"
}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
in_namespace go test -race -p 1 -count=1 -timeout 35m "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# The browser tests measure real video on a machine they share: frame gaps,
# layer switches, keyframe requests. Two busy cores sometimes starve a tab
# past a limit for a run. A browser test that failed is run once more,
# alone, and the suite passes only if each passes then; a test that fails
# twice fails the suite, and so does any failure outside the browser
# tests, a panic, a timeout, or more than four failed browser tests.
if [ "$status" -ne 0 ]; then
	failed=$(grep -E '^--- FAIL: Test' "$log" | awk '{print $3}' | sort -u | tr '\n' ' ')
	count=$(echo "$failed" | wc -w)
	other=$(grep -E '^FAIL[[:space:]]+meet/' "$log" | grep -vE '^FAIL[[:space:]]+meet/e2e[[:space:]]+[0-9.]+s$' || true)
	if [ -n "$other" ] || grep -qE '^panic:|test timed out' "$log" || [ "$count" -eq 0 ] || [ "$count" -gt 4 ]; then
		exit "$status"
	fi
	pattern="^($(echo $failed | tr ' ' '|'))\$"
	step "the browser tests that failed, once more, alone: $failed"
	in_namespace go test -race -p 1 -count=1 -timeout 15m -v -run "$pattern" ./e2e
	step "passed when run again: $failed (their first failures are printed above)"
fi

step "all tests passed in $((SECONDS - started)) s"
