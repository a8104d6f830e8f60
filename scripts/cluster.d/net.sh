# shellcheck shell=bash
# scripts/cluster's network mode (`--net`); sourced by scripts/cluster, not run.
#
# On loopback every server shares one network: nothing can be cut off from
# some peers and not from others. In network mode each node — each etcd
# member, the Redis primary and replica, each Sentinel, each of the two
# service instances (i1, i2) — runs in a network namespace of its own,
# joined to the others by a veth link into one bridge, with an address from
# 198.18.0.0/15 (the benchmarking range: never routed on the internet). A
# partition is then what Jepsen makes it: each node of one side drops every
# packet from the other side (nft, inside the node's own namespace), so
# connections go quiet rather than fail — the hardest case for a client.
#
# The namespaces have no default route: a node reaches the other nodes and
# the bridge's own address, nothing else. The bridge's address is the host:
# the load tester reaches the instances from there, and PostgreSQL (on the
# host's loopback) is forwarded onto it, so the resource the locks protect
# stays reachable from every side of every partition.
#
# Everything here needs root (namespaces, links, nft) and runs commands in a
# namespace through `nsenter --net`, after checking that the namespace is one
# we made: `ip netns exec` needs a mount namespace trick that fails in a
# chroot.

# Each node's last address byte; the bridge (the host) is .1.
declare -A NODE_OCTET=([m1]=11 [m2]=12 [m3]=13 [primary]=21 [replica]=22 [s1]=23 [s2]=24 [s3]=25 [i1]=31 [i2]=32)
NODES=(m1 m2 m3 primary replica s1 s2 s3 i1 i2)
# nft table that holds a node's partition rules.
PARTITION_TABLE=stocklock_partition

# host_of NODE: where NODE listens, and where it is reached.
host_of() {
    if [ "$NET" -eq 1 ]; then
        [ -n "${NODE_OCTET[$1]:-}" ] || die "unknown node '$1'"
        echo "$NET_PREFIX.${NODE_OCTET[$1]}"
    else
        echo 127.0.0.1
    fi
}

# Names are short: a network interface's name has at most 15 characters.
ns_of() { echo "sl$NET_INDEX-$1"; }
bridge_name() { echo "sl$NET_INDEX-br"; }
ns_exists() { [ -e "/run/netns/$(ns_of "$1")" ]; }

# enter NODE: the words that run a command in NODE's namespace (network
# mode), or nothing (loopback), in the array ENTER. Dies unless the
# namespace is one `start` made.
enter() {
    ENTER=()
    [ "$NET" -eq 1 ] || return 0
    ns_exists "$1" || die "network namespace $(ns_of "$1") does not exist (scripts/cluster --net start makes it)"
    ENTER=(nsenter --net="/run/netns/$(ns_of "$1")")
}

# in_ns NODE COMMAND...: runs COMMAND in NODE's namespace.
in_ns() {
    enter "$1"
    "${ENTER[@]}" "${@:2}"
}

# launch NODE LOGFILE PIDFILE COMMAND...: starts COMMAND in the background,
# in its own session (a Ctrl-C in the terminal is not for it), in NODE's
# namespace; its PID goes to PIDFILE (setsid and nsenter both exec, so it is
# COMMAND's own).
launch() {
    local node=$1 logfile=$2 pidfile=$3
    shift 3
    enter "$node"
    setsid "${ENTER[@]}" "$@" </dev/null >>"$logfile" 2>&1 &
    echo $! >"$pidfile"
}

require_root_for_net() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/cluster --net needs root (network namespaces, veth links, nft): skipped" >&2
        exit 3
    fi
}

net_running() {
    ip link show "$(bridge_name)" >/dev/null 2>&1 || return 1
    local node
    for node in "${NODES[@]}"; do ns_exists "$node" || return 1; done
}

# Every command but start, stop and env acts on the network: without our
# bridge (and the route it brings), a packet for 198.18.K.x would follow the
# default route off this machine.
require_net() {
    net_running || die "the network $NET_PREFIX.0/24 is not up (scripts/cluster --net start)"
}

# Namespaces and links are the machine's, not the state dir's: a file says
# which state dir's cluster made them, so that a second one (or a test with
# its own state dir) never takes them over, and the leftovers of a run that
# was killed (its state dir gone) can be cleared.
OWNER_FILE=/run/stocklock-net-$NET_INDEX
net_owner() { cat "$OWNER_FILE" 2>/dev/null || true; }
net_ours() { [ "$(net_owner)" = "$DIR" ]; }
net_orphaned() { local owner; owner=$(net_owner); [ -z "$owner" ] || [ ! -d "$owner" ]; }

pg_proxy_running() { alive "$DIR/pg-proxy/socat.pid" socat; }

start_net() {
    if ! net_ours && ! net_orphaned; then
        die "$NET_PREFIX.0/24 belongs to the cluster in $(net_owner): stop it there, or choose another STOCKLOCK_CLUSTER_OFFSET"
    fi
    if net_ours && net_running; then
        log "the network already exists"
        start_pg_proxy
        return 0
    fi
    clear_net
    # Our subnet must be ours alone: an address in it that is not on our
    # bridge belongs to someone else.
    if ip -4 -o addr show | grep -q " $NET_PREFIX\."; then
        die "$NET_PREFIX.0/24 is already in use on this machine; choose another STOCKLOCK_CLUSTER_OFFSET"
    fi
    # With br_netfilter, bridged packets cross the host's iptables FORWARD
    # chain; a DROP policy there (Docker sets one) would silently cut every
    # node off from every other. We do not touch the host's firewall.
    if [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" = 1 ] \
        && command -v iptables >/dev/null && iptables -S FORWARD 2>/dev/null | grep -qx -- '-P FORWARD DROP'; then
        die "this machine's iptables FORWARD policy is DROP and bridged traffic goes through it (net.bridge.bridge-nf-call-iptables=1): the nodes could not reach each other. Allow forwarding on $NET_PREFIX.0/24, or set that sysctl to 0"
    fi
    started net
    mkdir -p "$DIR"
    echo "$DIR" >"$OWNER_FILE"
    # `ip netns add` makes /run/netns a mount point the first time; if it
    # does so for us, we undo it at the end (a mount left behind keeps, say,
    # a chroot from being removed).
    mountpoint -q /run/netns 2>/dev/null || touch "$DIR/run-netns-mounted-by-us"
    local bridge node
    bridge=$(bridge_name)
    log "creating the network $NET_PREFIX.0/24: bridge $bridge, a namespace per node"
    ip link add "$bridge" type bridge
    ip addr add "$NET_PREFIX.1/24" dev "$bridge"
    ip link set "$bridge" up
    for node in "${NODES[@]}"; do add_node "$node" "$bridge"; done
    start_pg_proxy
}

# add_node NODE BRIDGE: NODE's namespace, its veth link into BRIDGE, its address.
add_node() {
    local node=$1 bridge=$2 ns
    ns=$(ns_of "$node")
    ip netns add "$ns"
    ip link add "$ns" type veth peer name eth0 netns "$ns"
    ip link set "$ns" master "$bridge" up
    in_ns "$node" ip addr add "$(host_of "$node")/24" dev eth0
    in_ns "$node" ip link set lo up
    in_ns "$node" ip link set eth0 up
}

start_pg_proxy() {
    pg_proxy_running && return 0
    mkdir -p "$DIR/pg-proxy"
    log "forwarding PostgreSQL onto the network: $NET_PREFIX.1:$STOCKLOCK_PG_PORT -> 127.0.0.1:$STOCKLOCK_PG_PORT"
    setsid socat "TCP-LISTEN:$STOCKLOCK_PG_PORT,bind=$NET_PREFIX.1,reuseaddr,fork" "TCP:127.0.0.1:$STOCKLOCK_PG_PORT" \
        </dev/null >>"$DIR/pg-proxy/socat.log" 2>&1 &
    echo $! >"$DIR/pg-proxy/socat.pid"
    wait_for pg-proxy 10 port_open "$STOCKLOCK_PG_PORT" "$NET_PREFIX.1" || die "the PostgreSQL forwarder does not listen"
}

# Stops the network if it is ours (or nobody's any more).
stop_net() {
    if ! net_ours && ! net_orphaned; then
        log "the network $NET_PREFIX.0/24 belongs to the cluster in $(net_owner): left alone"
        return 0
    fi
    clear_net
}

# Removes the network: the PostgreSQL forwarder, whatever still runs inside
# our namespaces (nothing there can work without them), the namespaces, the
# links, the bridge. Every name is one this script gives.
clear_net() {
    if pg_proxy_running; then
        kill -KILL -- "-$(cat "$DIR/pg-proxy/socat.pid")" 2>/dev/null || true
        wait_for pg-proxy 10 gone "$DIR/pg-proxy/socat.pid" socat || true
    fi
    rm -f "$DIR/pg-proxy/socat.pid"
    # A forwarder of a run that was killed: our command line, exactly.
    pkill -KILL -f "^socat TCP-LISTEN:$STOCKLOCK_PG_PORT,bind=$NET_PREFIX\.1,reuseaddr,fork " 2>/dev/null || true
    local node ns pids
    for node in "${NODES[@]}"; do
        ns=$(ns_of "$node")
        if ns_exists "$node"; then
            pids=$(ip netns pids "$ns" 2>/dev/null || true)
            if [ -n "$pids" ]; then
                log "stopping what still runs in $ns"
                # shellcheck disable=SC2086 # one PID a word
                kill -KILL $pids 2>/dev/null || true
            fi
            ip netns del "$ns"
        fi
        # The namespace's end takes the link with it, a moment later: the
        # host's end may vanish between the two commands.
        if ip link show "$ns" >/dev/null 2>&1; then ip link del "$ns" 2>/dev/null || true; fi
    done
    if ip link show "$(bridge_name)" >/dev/null 2>&1; then ip link del "$(bridge_name)"; fi
    rm -f "$OWNER_FILE"
    if [ -e "$DIR/run-netns-mounted-by-us" ] && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
        umount /run/netns 2>/dev/null || true
    fi
    rm -f "$DIR/run-netns-mounted-by-us"
}

# partition NODE...: the nodes named are cut off from every other node, both
# ways; the host still reaches both sides. `etcd-leader` names whichever
# member leads now.
partition() {
    local side=() node other
    for node in "$@"; do
        if [ "$node" = etcd-leader ]; then
            node=$(etcd3_leader) || die "etcd3 has no leader to cut off"
        fi
        host_of "$node" >/dev/null
        side+=("$node")
    done
    [ ${#side[@]} -gt 0 ] || die "partition what? (nodes: ${NODES[*]}, or etcd-leader)"
    local rest=()
    for other in "${NODES[@]}"; do
        [[ " ${side[*]} " == *" $other "* ]] || rest+=("$other")
    done
    [ ${#rest[@]} -gt 0 ] || die "a partition needs nodes on both sides"
    log "partition: ${side[*]} | ${rest[*]}"
    for node in "${side[@]}"; do drop_from "$node" "${rest[@]}"; done
    for node in "${rest[@]}"; do drop_from "$node" "${side[@]}"; done
}

# drop_from NODE PEER...: NODE drops every packet from the PEERs (on top of
# what it drops already). Only incoming packets, as Jepsen does: a sender
# sees no error, its packets just vanish.
drop_from() {
    local node=$1 peers=() peer
    shift
    for peer in "$@"; do peers+=("$(host_of "$peer")"); done
    in_ns "$node" nft -f - <<NFT
table inet $PARTITION_TABLE {
    chain input {
        type filter hook input priority 0; policy accept;
        ip saddr { $(IFS=,; echo "${peers[*]}") } drop
    }
}
NFT
}

# heal: every node hears every node again.
heal() {
    local node
    log "healing every partition"
    for node in "${NODES[@]}"; do
        ns_exists "$node" || continue
        in_ns "$node" nft delete table inet "$PARTITION_TABLE" 2>/dev/null || true
    done
}
