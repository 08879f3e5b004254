#!/usr/bin/env bash
# Remote-shell agent for Open MPI (--mca plm_rsh_agent): runs the command for
# host ADDR inside the network namespace that owns ADDR, as ssh would on a real
# host, with the namespace's name as its hostname (a UTS namespace of its own:
# Open MPI tells nodes apart by hostname, and ranks it took for one node's
# would try shared memory across hosts). Namespaces are found through
# RT_NETNS_MAP="addr=ns,addr=ns". An entry "addr=ns@CPUS" also confines the
# host to those cores (taskset -c CPUS): each emulated host owns its share of
# the machine, as a real host owns its cores, so that its launcher does not
# bind its first rank to the core every other host's first rank is bound to.
# usage (by mpirun): netns-agent.sh [ssh-style options] HOST COMMAND...
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done
host=$1
shift
ns=""
IFS=, read -ra pairs <<<"${RT_NETNS_MAP:-}"
for p in "${pairs[@]}"; do [ "${p%%=*}" = "$host" ] && ns=${p#*=}; done
[ -n "$ns" ] || { echo "netns-agent: no namespace for host $host" >&2; exit 255; }
pin=()
if [ "${ns#*@}" != "$ns" ]; then
    pin=(taskset -c "${ns#*@}")
    ns=${ns%%@*}
fi
exec "${pin[@]}" ip netns exec "$ns" unshare --uts /bin/sh -c "hostname ${ns//_/-} && $*"
