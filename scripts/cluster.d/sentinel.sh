# shellcheck shell=bash
# scripts/cluster's sentinel topology; sourced by scripts/cluster, not run.

# --- sentinel ------------------------------------------------------------------

redis_at() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}" 2>/dev/null; }

start_redis_node() {
    local name=$1 port=$2
    shift 2
    redis_at "$port" ping | grep -q PONG && return 0
    port_open "$port" && die "port $port is taken by something that is not our Redis $name"
    mkdir -p "$DIR/redis-$name"
    log "starting Redis $name on 127.0.0.1:$port"
    # No persistence, as in scripts/services: a restart forgets every lock.
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        --daemonize yes --dir "$DIR/redis-$name" --pidfile "$DIR/redis-$name/redis.pid" \
        --logfile "$DIR/redis-$name/redis.log" "$@"
    wait_for "redis $name" 10 redis_at "$port" ping || die "Redis $name does not answer"
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
    local s=$1 port
    port=$(sentinel_port "$s")
    redis_at "$port" ping | grep -q PONG && return 0
    mkdir -p "$DIR/sentinel-$s"
    # A Sentinel rewrites its config file as the topology changes: one each.
    # failover-timeout is long on purpose: a Sentinel "fixes" a replica that
    # replicates from another address than the master's — ours, through the
    # link — once that long has passed, which would bypass the link.
    cat >"$DIR/sentinel-$s/sentinel.conf" <<CONF
bind 127.0.0.1
port $port
daemonize yes
pidfile $DIR/sentinel-$s/sentinel.pid
logfile $DIR/sentinel-$s/sentinel.log
dir $DIR/sentinel-$s
sentinel monitor $MASTER_NAME 127.0.0.1 $PRIMARY_PORT 2
sentinel down-after-milliseconds $MASTER_NAME 1000
sentinel failover-timeout $MASTER_NAME 60000
sentinel parallel-syncs $MASTER_NAME 1
CONF
    log "starting Sentinel $s on 127.0.0.1:$port"
    redis-server "$DIR/sentinel-$s/sentinel.conf" --sentinel
    wait_for "sentinel $s" 10 redis_at "$port" ping || die "Sentinel $s does not answer"
}

sentinel_master_port() {
    redis_at "$(sentinel_port s1)" sentinel get-master-addr-by-name "$MASTER_NAME" | sed -n 2p
}

replica_in_sync() {
    redis_at "$REPLICA_PORT" info replication | grep -q '^master_link_status:up'
}

sentinels_see_everyone() {
    local s
    for s in "${SENTINELS[@]}"; do
        redis_at "$(sentinel_port "$s")" sentinel replicas "$MASTER_NAME" | grep -qx "$REPLICA_PORT" || return 1
        [ "$(redis_at "$(sentinel_port "$s")" sentinel sentinels "$MASTER_NAME" | grep -c '^ip$')" -ge 2 ] || return 1
    done
}

sentinel_running() {
    redis_at "$PRIMARY_PORT" ping | grep -q PONG && redis_at "$REPLICA_PORT" ping | grep -q PONG \
        && redis_at "$(sentinel_port s1)" ping | grep -q PONG
}

start_sentinel() {
    if sentinel_running; then
        log "the Sentinel topology already runs"
        return 0
    fi
    started sentinel
    start_redis_node primary "$PRIMARY_PORT"
    start_link
    start_redis_node replica "$REPLICA_PORT" --replicaof 127.0.0.1 "$LINK_PORT" \
        --replica-announce-ip 127.0.0.1 --replica-announce-port "$REPLICA_PORT"
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
    before=$(sentinel_master_port)
    log "asking the Sentinels to fail over (master now on port $before)"
    redis_at "$(sentinel_port s1)" sentinel failover "$MASTER_NAME" | grep -q OK \
        || die "SENTINEL FAILOVER was refused"
    master_moved() { [ "$(sentinel_master_port)" != "$before" ] && redis_at "$(sentinel_master_port)" role | head -1 | grep -qx master; }
    wait_for failover 20 master_moved || die "the failover did not complete"
    log "the master is now on port $(sentinel_master_port)"
}
