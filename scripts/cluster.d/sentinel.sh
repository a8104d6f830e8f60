# shellcheck shell=bash
# scripts/cluster's sentinel topology; sourced by scripts/cluster, not run.

# --- sentinel ------------------------------------------------------------------

# The port of a Redis node: primary, replica, s1..s3 (the Sentinels), or
# redlock-r1..r5 (the redlock topology's masters).
redis_port_of() {
    case "$1" in
        primary) echo "$PRIMARY_PORT" ;;
        replica) echo "$REPLICA_PORT" ;;
        s[1-3]) sentinel_port "$1" ;;
        redlock-r[1-5]) redlock_port "${1#redlock-}" ;;
        *) die "no Redis node '$1'" ;;
    esac
}

# redis_on NODE ARGS...: redis-cli against NODE.
redis_on() { redis-cli -h "$(host_of "$1")" -p "$(redis_port_of "$1")" "${@:2}" 2>/dev/null; }

start_redis_node() {
    local name=$1 port host
    shift
    port=$(redis_port_of "$name") host=$(host_of "$name")
    redis_on "$name" ping | grep -q PONG && return 0
    port_open "$port" "$host" && die "$host:$port is taken by something that is not our Redis $name"
    mkdir -p "$DIR/redis-$name"
    log "starting Redis $name on $host:$port"
    # No persistence, as in scripts/services: a restart forgets every lock.
    # Protected mode (no password: loopback clients only) would refuse the
    # other namespaces of network mode, a private network with no way out.
    in_ns "$name" redis-server --bind "$host" --port "$port" --protected-mode no --save '' --appendonly no \
        --daemonize yes --dir "$DIR/redis-$name" --pidfile "$DIR/redis-$name/redis.pid" \
        --logfile "$DIR/redis-$name/redis.log" "${REDIS_LIMITS[@]}" "$@"
    wait_for "redis $name" 10 redis_on "$name" ping || die "Redis $name does not answer"
}

link_running() { alive "$DIR/link/link.pid" socat; }

start_link() {
    link_running && return 0
    mkdir -p "$DIR/link"
    log "starting the replication link 127.0.0.1:$LINK_PORT -> $PRIMARY_PORT"
    setsid socat "TCP-LISTEN:$LINK_PORT,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$PRIMARY_PORT" \
        </dev/null >>"$DIR/link/link.log" 2>&1 &
    echo $! >"$DIR/link/link.pid"
    wait_for link 10 port_open "$LINK_PORT" || die "the replication link does not listen"
}

start_sentinel_node() {
    local s=$1 port host
    port=$(sentinel_port "$s") host=$(host_of "$s")
    redis_on "$s" ping | grep -q PONG && return 0
    mkdir -p "$DIR/sentinel-$s"
    # A Sentinel rewrites its config file as the topology changes: one each.
    # failover-timeout is long on purpose: a Sentinel "fixes" a replica that
    # replicates from another address than the master's — ours, through the
    # link — once that long has passed, which would bypass the link.
    cat >"$DIR/sentinel-$s/sentinel.conf" <<CONF
bind $host
port $port
protected-mode no
daemonize yes
pidfile $DIR/sentinel-$s/sentinel.pid
logfile $DIR/sentinel-$s/sentinel.log
dir $DIR/sentinel-$s
sentinel monitor $MASTER_NAME $(host_of primary) $PRIMARY_PORT 2
sentinel down-after-milliseconds $MASTER_NAME 1000
sentinel failover-timeout $MASTER_NAME 60000
sentinel parallel-syncs $MASTER_NAME 1
CONF
    log "starting Sentinel $s on $host:$port"
    in_ns "$s" redis-server "$DIR/sentinel-$s/sentinel.conf" --sentinel
    wait_for "sentinel $s" 10 redis_on "$s" ping || die "Sentinel $s does not answer"
}

# The master as the Sentinels name it: "HOST PORT" (from the first that
# answers).
sentinel_master() {
    local s
    for s in "${SENTINELS[@]}"; do
        redis_on "$s" sentinel get-master-addr-by-name "$MASTER_NAME" | paste -sd ' ' | grep . && return 0
    done
    return 1
}

replica_in_sync() {
    redis_on replica info replication | grep -q '^master_link_status:up'
}

sentinels_see_everyone() {
    local s
    for s in "${SENTINELS[@]}"; do
        redis_on "$s" sentinel replicas "$MASTER_NAME" | grep -qx "$REPLICA_PORT" || return 1
        [ "$(redis_on "$s" sentinel sentinels "$MASTER_NAME" | grep -c '^ip$')" -ge 2 ] || return 1
    done
}

sentinel_running() {
    redis_on primary ping | grep -q PONG && redis_on replica ping | grep -q PONG \
        && redis_on s1 ping | grep -q PONG
}

start_sentinel() {
    if sentinel_running; then
        log "the Sentinel topology already runs"
        return 0
    fi
    started sentinel
    start_redis_node primary
    # On loopback, replication goes through the link that `cut redis-link`
    # cuts; in network mode, straight to the primary: a partition cuts it.
    local upstream=("$(host_of primary)" "$PRIMARY_PORT")
    if [ "$NET" -eq 0 ]; then
        start_link
        upstream=(127.0.0.1 "$LINK_PORT")
    fi
    start_redis_node replica --replicaof "${upstream[@]}" \
        --replica-announce-ip "$(host_of replica)" --replica-announce-port "$REPLICA_PORT"
    wait_for "replication" 15 replica_in_sync || die "the replica does not sync; see $DIR/redis-replica/redis.log"
    local s
    for s in "${SENTINELS[@]}"; do start_sentinel_node "$s"; done
    wait_for "sentinels" 30 sentinels_see_everyone || die "the Sentinels do not see the replica and each other"
}

stop_sentinel() {
    local s
    for s in "${SENTINELS[@]}"; do stop_pid "$DIR/sentinel-$s/sentinel.pid" redis-server; done
    stop_pid "$DIR/redis-replica/redis.pid" redis-server
    stop_link
    stop_pid "$DIR/redis-primary/redis.pid" redis-server
    rm -rf "$DIR"/sentinel-* "$DIR/redis-primary" "$DIR/redis-replica"
}

stop_link() {
    if link_running; then
        # Its children (one per connection) share its process group.
        kill -KILL -- "-$(cat "$DIR/link/link.pid")" 2>/dev/null || true
        wait_for link 10 gone "$DIR/link/link.pid" socat || true
    fi
    rm -f "$DIR/link/link.pid"
}

cut_link() {
    link_running || die "the replication link is not running (or not ours)"
    log "cutting replication: the link stops, then dies with what it held"
    # Stopped first, so nothing more gets through; killed, so what the
    # primary already sent into it never arrives.
    kill -STOP -- "-$(cat "$DIR/link/link.pid")"
    stop_link
}

failover_redis() {
    local before
    before=$(sentinel_master)
    log "asking the Sentinels to fail over (master now at $before)"
    redis_on s1 sentinel failover "$MASTER_NAME" | grep -q OK \
        || die "SENTINEL FAILOVER was refused"
    master_moved() {
        local now
        now=$(sentinel_master) && [ "$now" != "$before" ] || return 1
        redis-cli -h "${now% *}" -p "${now#* }" role 2>/dev/null | head -1 | grep -qx master
    }
    wait_for failover 20 master_moved || die "the failover did not complete"
    log "the master is now at $(sentinel_master)"
}
