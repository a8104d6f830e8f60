# shellcheck shell=bash
# scripts/cluster's etcd3 topology; sourced by scripts/cluster, not run.

# --- etcd3 ---------------------------------------------------------------------

initial_cluster() {
    local m out=()
    for m in "${MEMBERS[@]}"; do out+=("$m=http://$(host_of "$m"):$(etcd_peer_port "$m")"); done
    (IFS=,; echo "${out[*]}")
}

member_running() {
    port_open "$(etcd_client_port "$1")" "$(host_of "$1")" && alive "$DIR/etcd-$1/etcd.pid" etcd
}

start_member() {
    local m=$1 client peer
    member_running "$m" && return 0
    client="http://$(host_of "$m"):$(etcd_client_port "$m")" peer="http://$(host_of "$m"):$(etcd_peer_port "$m")"
    port_open "$(etcd_client_port "$m")" "$(host_of "$m")" && die "$client is taken by something that is not our etcd $m"
    mkdir -p "$DIR/etcd-$m"
    # A member's data remembers the cluster's peer URLs; data from a cluster
    # on other ports (another offset, older defaults) would never elect a
    # leader. It only holds locks: start afresh.
    if [ "$(cat "$DIR/etcd-$m/cluster" 2>/dev/null)" != "$(initial_cluster)" ]; then
        rm -rf "$DIR/etcd-$m/data"
        initial_cluster >"$DIR/etcd-$m/cluster"
    fi
    # --pre-vote (the default from etcd 3.5 on): a member cut off from the
    # others keeps calling elections it cannot win, and without pre-vote
    # each raises its term — so when the partition heals, its term deposes
    # the healthy leader and the cluster stalls for another election.
    log "starting etcd member $m on $client"
    launch "$m" "$DIR/etcd-$m/etcd.log" "$DIR/etcd-$m/etcd.pid" etcd --name "$m" --data-dir "$DIR/etcd-$m/data" \
        --listen-client-urls "$client" --advertise-client-urls "$client" \
        --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
        --initial-cluster "$(initial_cluster)" --initial-cluster-state new \
        --initial-cluster-token "stocklock-$OFFSET" \
        --pre-vote "${ETCD_LIMITS[@]}" \
        --logger=zap --log-outputs=stderr
}

# The cluster answers once a member serves a linearizable read (it has a
# leader): the HTTP gateway's range request goes through Raft.
etcd3_has_leader() {
    local m
    for m in "${MEMBERS[@]}"; do
        curl -sf -m 1 -X POST "http://$(host_of "$m"):$(etcd_client_port "$m")/v3/kv/range" \
            -d '{"key":"c3RvY2tsb2Nr"}' >/dev/null && return 0
    done
    return 1
}

start_etcd3() {
    local m any=0
    for m in "${MEMBERS[@]}"; do member_running "$m" || any=1; done
    [ $any -eq 1 ] || { log "etcd3 already runs"; return 0; }
    started etcd3
    for m in "${MEMBERS[@]}"; do start_member "$m"; done
    wait_for etcd3 30 etcd3_has_leader || die "etcd3 has no leader; see $DIR/etcd-*/etcd.log"
}

stop_etcd3() {
    local m
    for m in "${MEMBERS[@]}"; do stop_pid "$DIR/etcd-$m/etcd.pid" etcd; done
}

# The member that leads now, from the status of any member that answers.
etcd3_leader() {
    local m status id leader
    for m in "${MEMBERS[@]}"; do
        member_running "$m" || continue
        status=$(curl -sf -m 1 -X POST "http://$(host_of "$m"):$(etcd_client_port "$m")/v3/maintenance/status" -d '{}') || continue
        leader=$(sed -n 's/.*"leader":"\([0-9]*\)".*/\1/p' <<<"$status")
        id=$(sed -n 's/.*"member_id":"\([0-9]*\)".*/\1/p' <<<"$status")
        if [ -n "$leader" ] && [ "$leader" = "$id" ]; then
            echo "$m"
            return 0
        fi
    done
    return 1
}

kill_etcd_leader() {
    local leader
    leader=$(etcd3_leader) || die "etcd3 has no leader to kill"
    log "killing etcd leader $leader (SIGKILL)"
    kill -KILL "$(cat "$DIR/etcd-$leader/etcd.pid")"
    wait_for "etcd $leader" 10 gone "$DIR/etcd-$leader/etcd.pid" etcd || die "etcd $leader did not die"
    rm -f "$DIR/etcd-$leader/etcd.pid"
    echo "$leader"
}
