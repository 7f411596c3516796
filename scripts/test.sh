#!/usr/bin/env bash
# The one test command of the project (`make test`, `.ci/run`).
#
#   scripts/test.sh                       # everything: vet, then go test -race ./...
#   scripts/test.sh -run TestMesh ./e2e   # extra arguments replace ./...
#
# It installs Debian's Chromium when it is missing, downloads the modules, runs
# go vet, and then runs every test -- Go, Pion and browser tests -- inside a
# private network namespace (`unshare -n`) whose only interface is lo, so that
# no WebRTC, mDNS or STUN traffic can leave the machine. The browser tests
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

chromium="${MEET_CHROMIUM:-/usr/bin/chromium}"
if [ -z "${MEET_CHROMIUM:-}" ] && [ ! -x "$chromium" ]; then
	step "installing Debian's chromium (browser tests; $chromium is missing)"
	# Wait for another apt/dpkg run rather than fail on its lock.
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium
fi
if [ -x "$chromium" ]; then
	"$chromium" --version 2>/dev/null || true
else
	echo "test.sh: no Chromium at $chromium: the browser tests will fail with CI set, and skip otherwise" >&2
fi

step "go mod download (needs the network: before the namespace)"
go version
go mod download

step "go vet ./..."
go vet ./...

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
step "go test -race -p 1 -count=1 -timeout 20m $* (in a private network namespace: ${ns[*]})"
# Inside, nothing can be downloaded: make a missing module a clear error.
GOPROXY=off "${ns[@]}" sh -c 'ip link set lo up && exec "$@"' sh \
	go test -race -p 1 -count=1 -timeout 20m "$@"

step "all tests passed in $((SECONDS - started)) s"
