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

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
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
    as_root apt-get update -qq
    # apt's post-install scripts try to start the distribution's own servers;
    # where no init system runs (containers, CI) they are refused, which is
    # fine: we start our own on our own ports.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The packages our servers and our build need (etcd-client generates its
# gRPC code with protoc at build time). Used by the scripts that source this.
# shellcheck disable=SC2034
SERVER_PACKAGES=(postgresql redis-server etcd-server)
# shellcheck disable=SC2034
BUILD_PACKAGES=(protobuf-compiler)

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

# True when something listens on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
