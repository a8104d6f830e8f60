# shellcheck shell=bash
# Shared helpers for the scripts in this folder; sourced, not run.
#
# Everything here is idempotent: installing what is already installed, or
# creating what already exists, does nothing.

STOCKLOCK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export STOCKLOCK_ROOT

# Our own servers listen on loopback, on ports nobody uses by default, so they
# never clash with a PostgreSQL, Redis or etcd the user already runs.
: "${STOCKLOCK_STATE_DIR:=$STOCKLOCK_ROOT/.stocklock}"
: "${STOCKLOCK_PG_PORT:=55432}"
: "${STOCKLOCK_REDIS_PORT:=56379}"
: "${STOCKLOCK_ETCD_PORT:=52379}"
: "${STOCKLOCK_ETCD_PEER_PORT:=52380}"

# Bounded state, the same for every Redis and etcd we start. Redis gets a
# memory limit and refuses writes past it (noeviction) rather than evicting:
# an evicted lock key would admit a second holder. etcd compacts its history
# (auto-compaction, periodic, keeping an hour: longer than any wait for a
# lock) so that its space quota is never reached by old revisions.
# shellcheck disable=SC2034
REDIS_LIMITS=(--maxmemory 256mb --maxmemory-policy noeviction)
# shellcheck disable=SC2034
ETCD_LIMITS=(--auto-compaction-mode periodic --auto-compaction-retention 1h)

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root to run: $* (install sudo, or run this as root once)"
    fi
}

# ensure_packages PKG...: installs the Debian packages that are missing.
ensure_packages() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "missing packages: ${missing[*]} (and no apt-get to install them)"
    log "installing ${missing[*]}"
    as_root apt-get update -qq >&2
    # apt's post-install scripts try to start the distribution's own servers;
    # where no init system runs (containers, CI) they are refused, which is
    # fine: we start our own on our own ports.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The packages our servers and our build need. Used by the scripts that source
# this. etcd-client generates its gRPC code at build time: protoc comes from
# protobuf-compiler, and the well-known types its .proto files import
# (google/protobuf/descriptor.proto, ...) from libprotobuf-dev, which
# protobuf-compiler only *recommends* — so with --no-install-recommends it must
# be named. Verify changes here with ../shared/tools/fresh-machine: a machine
# that installed a package earlier hides its absence from this list.
# shellcheck disable=SC2034
SERVER_PACKAGES=(postgresql redis-server etcd-server)
# shellcheck disable=SC2034
BUILD_PACKAGES=(protobuf-compiler libprotobuf-dev)
# scripts/cluster's: socat carries the Redis replication it cuts, curl asks
# etcd who leads.
# shellcheck disable=SC2034
CLUSTER_PACKAGES=(etcd-server redis-server socat curl)
# Its network mode's (`--net`): ip makes the namespaces and links, nft the
# partitions.
# shellcheck disable=SC2034
NET_PACKAGES=(iproute2 nftables)
# The dashboard's browser test: headless Chromium, driven through WebDriver
# (chromium-driver), with a font for the verdicts' icons and a small CJK
# font (1.6 MB, not the 56 MB Noto set) for the Chinese page.
# shellcheck disable=SC2034
BROWSER_PACKAGES=(chromium chromium-driver fonts-noto-color-emoji fonts-wqy-microhei)

# --- Stopping only what this run started ------------------------------------
# `scripts/services start` prints the name of each server it starts itself (one
# a line) and leaves alone any that already answered. A script that needs the
# servers calls start_servers_for_this_run; its EXIT trap then calls
# stop_servers_started_by_this_run, which stops those names and nothing else:
# a PostgreSQL that served the user's own instances before we ran still serves
# them after.
STARTED_SERVERS=()

# started NAME: how scripts/services and scripts/cluster tell the caller (on
# stdout) that this run starts NAME. Said just before the server is launched,
# so a start that then fails still counts as ours and is stopped by a caller
# that cleans up.
started() { echo "$1"; }

start_servers_for_this_run() {
    local out rc=0
    out=$("$STOCKLOCK_ROOT/scripts/services" start "$@") || rc=$?
    # Recorded before we look at the status: a start that failed half-way
    # (PostgreSQL up, etcd not) must still stop the half it started.
    local name
    while IFS= read -r name; do
        [ -n "$name" ] && STARTED_SERVERS+=("$name")
    done <<<"$out"
    [ $rc -eq 0 ] || die "could not start the servers (scripts/services start exited $rc)"
}

stop_servers_started_by_this_run() {
    [ ${#STARTED_SERVERS[@]} -gt 0 ] || return 0
    "$STOCKLOCK_ROOT/scripts/services" stop "${STARTED_SERVERS[@]}"
}

ensure_cargo() {
    command -v cargo >/dev/null && return 0
    [ -x "$HOME/.cargo/bin/cargo" ] && { export PATH="$HOME/.cargo/bin:$PATH"; return 0; }
    die "cargo not found: install Rust (https://rustup.rs), version 1.94 or newer, then run this again"
}

# wait_for WHAT SECONDS COMMAND...: polls COMMAND until it succeeds; WHAT
# only documents the call.
wait_for() {
    local seconds=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

# port_open PORT [HOST]: true when something listens on HOST:PORT
# (127.0.0.1 by default).
port_open() {
    (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null
}

# --- Processes we start ourselves ---------------------------------------------
# We keep each one's PID in a file. Before we signal a PID we check that it is
# still the program we started: PIDs are reused, and an exited child can
# linger as a zombie for a moment, which `kill -0` would call alive.

# alive PIDFILE NAME: true if the PID in PIDFILE is a live process named NAME.
alive() {
    local pidfile=$1 name=$2 pid stat
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    # Field 2 is "(comm)", field 3 the state; Z means already exited.
    [[ $stat == "$pid ($name"* ]] || return 1
    [[ $(awk '{print $3}' <<<"${stat#*) }") != Z ]]
}

gone() { ! alive "$@"; }

# stop_pid PIDFILE NAME: SIGTERM, wait up to 10 s, then SIGKILL.
stop_pid() {
    local pidfile=$1 name=$2
    if alive "$pidfile" "$name"; then
        log "stopping $name"
        kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
        wait_for "$name" 10 gone "$pidfile" "$name" \
            || kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}
