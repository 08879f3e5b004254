#!/usr/bin/env bash
# An emulated cluster on one machine: H hosts are network namespaces on one
# bridge, each reached through its own veth link capped with tc tbf. The
# addresses (10.213.NET.1 .. H/24) exist only inside the namespaces; the
# bridge has none, so no traffic leaves them. mpirun reaches a host through
# tests/netns-agent.sh (an ssh stand-in that runs `ip netns exec`); ranks on
# one host share memory, and hosts talk over TCP. Each host owns an equal
# share of this machine's cores (one each in turn when there are more hosts
# than cores), as a real host owns its own, so one host's ranks never take
# the cores of another's.
#
# usage: tests/cluster/cluster.sh COMMAND ...
#   up H [--rate MBIT] [--slots R] [--net N] [--burst KB]
#                                              (re)create H hosts, R slots each; KB is
#                                              tbf's bucket (256: the first 256 kB after
#                                              a pause leave at once, as no wire would)
#   down                                       kill what runs in them, remove all
#   link I down|up                             take host I's link down or up
#   status                                     hosts, links, rates and processes
#   hostfile                                   path of the mpirun hostfile
#   probe ADDR                                 exit 0 if host 1 reaches ADDR over TCP
#   mpirun ARGS...                             mpirun from host 1 across the hosts
#                                              (pass --hostfile "$(cluster.sh hostfile)")
# The cluster's name is RT_CLUSTER (default rtc); its state is kept in
# /run/ringtrain-cluster/NAME. Every command is idempotent.
set -u
NAME=${RT_CLUSTER:-rtc}
STATE=/run/ringtrain-cluster/$NAME
HERE=$(cd "$(dirname "$0")" && pwd)
AGENT=$(cd "$HERE/.." && pwd)/netns-agent.sh

die() { echo "cluster: $*" >&2; exit 1; }

# The cores host h of H owns: an equal share of the cores this script may
# use, or one of them in turn when there are more hosts than cores.
cpus_of() {
    local h=$1 H=$2 list=() part
    IFS=, read -ra parts <<<"$(sed -n 's/^Cpus_allowed_list:\s*//p' /proc/self/status)"
    for part in "${parts[@]}"; do
        if [ "${part#*-}" != "$part" ]; then list+=($(seq "${part%-*}" "${part#*-}")); else list+=("$part"); fi
    done
    local n=${#list[@]}
    if [ "$H" -gt "$n" ]; then
        echo "${list[$(((h - 1) % n))]}"
        return
    fi
    local per=$((n / H)) i out=""
    for i in $(seq $(((h - 1) * per)) $((h * per - 1))); do out="$out${out:+,}${list[$i]}"; done
    echo "$out"
}
ns_of() { echo "${NAME}_h$1"; }
nhosts() { cat "$STATE/hosts" 2>/dev/null || echo 0; }
net() { cat "$STATE/net" 2>/dev/null || echo 78; }
addr_of() { echo "10.213.$(net).$1"; }

down() {
    local h n
    n=$(nhosts)
    for h in $(seq 1 "$n"); do
        local ns
        ns=$(ns_of "$h")
        if ip netns list | grep -qw "$ns"; then
            ip netns pids "$ns" | xargs -r kill -9 2>/dev/null
            ip netns del "$ns"
        fi
    done
    ip link del "${NAME}br" 2>/dev/null
    rm -rf "$STATE"
    return 0
}

up() {
    local H=$1 rate=1000 slots=1 netn=78 burst=256
    shift
    while [ $# -gt 0 ]; do
        case $1 in
        --rate) rate=$2; shift 2 ;;
        --slots) slots=$2; shift 2 ;;
        --net) netn=$2; shift 2 ;;
        --burst) burst=$2; shift 2 ;;
        *) die "up: unknown option $1" ;;
        esac
    done
    [[ "$H" =~ ^[0-9]+$ ]] && [ "$H" -ge 1 ] && [ "$H" -le 16 ] || die "up: H must be 1..16, not $H"
    [[ "$burst" =~ ^[0-9]+$ ]] && [ "$burst" -ge 2 ] || die "up: --burst must be a size in kB >= 2, not $burst"
    down
    mkdir -p "$STATE"
    echo "$H" >"$STATE/hosts"
    echo "$netn" >"$STATE/net"
    echo "$rate" >"$STATE/rate"
    set -e
    ip link add "${NAME}br" type bridge
    ip link set "${NAME}br" up
    : >"$STATE/hostfile"
    local map="" h
    for h in $(seq 1 "$H"); do
        local ns out in
        ns=$(ns_of "$h") out="${NAME}o$h" in="${NAME}i$h"
        ip netns add "$ns"
        ip link add "$out" type veth peer name "$in"
        ip link set "$in" netns "$ns"
        ip -n "$ns" link set "$in" name eth0
        ip link set "$out" master "${NAME}br"
        ip link set "$out" up
        ip -n "$ns" addr add "$(addr_of "$h")/24" dev eth0
        ip -n "$ns" link set lo up
        ip -n "$ns" link set eth0 up
        # the link's rate both ways: the host's sends, and what the bridge sends to it
        ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "${rate}mbit" burst "${burst}kb" latency 50ms
        tc qdisc add dev "$out" root tbf rate "${rate}mbit" burst "${burst}kb" latency 50ms
        # a lost host is given up on in seconds, not the default 15 minutes
        # (README "Losing a host")
        ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_retries2=4
        echo "$(addr_of "$h") slots=$slots" >>"$STATE/hostfile"
        map="$map${map:+,}$(addr_of "$h")=$ns@$(cpus_of "$h" "$H")"
    done
    echo "$map" >"$STATE/map"
    set +e
    echo "cluster $NAME: $H hosts, $slots slots each, ${rate} Mbit/s links, $(addr_of 1)..$(addr_of "$H")"
}

link() {
    local h=$1 how=$2
    [ "$h" -ge 1 ] && [ "$h" -le "$(nhosts)" ] || die "link: no host $h"
    [ "$how" = up ] || [ "$how" = down ] || die "link: down or up, not $how"
    ip -n "$(ns_of "$h")" link set eth0 "$how"
}

status() {
    local n h
    n=$(nhosts)
    [ "$n" -gt 0 ] || { echo "cluster $NAME: down"; return 0; }
    echo "cluster $NAME: $n hosts, $(cat "$STATE/rate") Mbit/s links"
    for h in $(seq 1 "$n"); do
        local ns state procs
        ns=$(ns_of "$h")
        state=$(ip -n "$ns" -o link show eth0 2>/dev/null | grep -q "state UP\|,UP" && echo up || echo down)
        procs=$(ip netns pids "$ns" 2>/dev/null | wc -l)
        echo "  host $h: $(addr_of "$h") namespace $ns link $state, $procs processes"
    done
}

# A host answers when a TCP connection to it from host 1 is accepted or
# refused (port 7 has no listener); a lost link gives a timeout or no route.
probe() {
    local out
    out=$(ip netns exec "$(ns_of 1)" timeout 3 bash -c "exec 3<>/dev/tcp/$1/7" 2>&1) && return 0
    [[ "$out" == *"Connection refused"* ]]
}

cluster_mpirun() {
    [ "$(nhosts)" -gt 0 ] || die "mpirun: the cluster is down (cluster.sh up H first)"
    local subnet
    subnet="10.213.$(net).0/24"
    # host 1 gets its own hostname too, as the agent gives the others
    # host 1's ranks start here, on host 1's cores (the agent confines the others)
    local map cpus
    map=$(cat "$STATE/map")
    cpus=${map%%,*}
    cpus=${cpus#*@}
    exec taskset -c "$cpus" ip netns exec "$(ns_of 1)" unshare --uts env RT_NETNS_MAP="$map" \
        /bin/sh -c 'hostname "$0" && exec "$@"' "$(ns_of 1 | tr _ -)" \
        mpirun --mca plm_rsh_agent "$AGENT" --bind-to none --mca btl tcp,vader,self \
        --mca btl_tcp_if_include "$subnet" --mca oob_tcp_if_include "$subnet" -x RT_NETNS_MAP "$@"
}

cmd=${1:-}
[ -n "$cmd" ] && shift
case $cmd in
up) [ $# -ge 1 ] || die "usage: up H [--rate MBIT] [--slots R] [--net N] [--burst KB]"; up "$@" ;;
down) down ;;
link) [ $# -eq 2 ] || die "usage: link I down|up"; link "$@" ;;
status) status ;;
hostfile) echo "$STATE/hostfile" ;;
probe) [ $# -eq 1 ] || die "usage: probe ADDR"; probe "$1" ;;
mpirun) cluster_mpirun "$@" ;;
*) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; [ -z "$cmd" ] || [ "$cmd" = --help ] || exit 2 ;;
esac
