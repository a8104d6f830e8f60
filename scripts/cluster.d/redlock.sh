# shellcheck shell=bash
# scripts/cluster's redlock topology; sourced by scripts/cluster, not run.

# --- redlock -------------------------------------------------------------------
# On loopback only: it has no partition lesson.

redlock_running() {
    local r
    for r in "${REDLOCK[@]}"; do redis_on "redlock-$r" ping | grep -q PONG || return 1; done
}

start_redlock() {
    if redlock_running; then
        log "the Redlock masters already run"
        return 0
    fi
    started redlock
    local r
    for r in "${REDLOCK[@]}"; do start_redis_node "redlock-$r"; done
}

stop_redlock() {
    local r
    for r in "${REDLOCK[@]}"; do stop_pid "$DIR/redis-redlock-$r/redis.pid" redis-server; done
    rm -rf "$DIR"/redis-redlock-*
}

# kill_redlock redlock-A[..B]: SIGKILL masters A to B — all at once, then
# waits for them to be gone (a process can take a moment to die).
kill_redlock() {
    local spec=${1#redlock-} first last n pidfile
    first=${spec%%..*} last=${spec##*..}
    [[ $first =~ ^[1-5]$ && $last =~ ^[1-5]$ && $first -le $last ]] || die "kill redlock-A or redlock-A..B, with 1 <= A <= B <= 5"
    for ((n = first; n <= last; n++)); do
        alive "$DIR/redis-redlock-r$n/redis.pid" redis-server || die "Redlock master $n is not running (or not ours)"
    done
    log "killing Redlock masters $first to $last (SIGKILL)"
    for ((n = first; n <= last; n++)); do kill -KILL "$(cat "$DIR/redis-redlock-r$n/redis.pid")"; done
    for ((n = first; n <= last; n++)); do
        pidfile=$DIR/redis-redlock-r$n/redis.pid
        wait_for "redlock $n" 10 gone "$pidfile" redis-server || die "Redlock master $n did not die"
        rm -f "$pidfile"
    done
}
