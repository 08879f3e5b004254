#!/usr/bin/env bash
# Two hosts over TCP: two network namespaces joined by a veth pair, with
# addresses this test owns (10.213.77.1 and .2, reachable only inside them).
# Open MPI starts one rank in each through tests/netns-agent.sh (an ssh
# stand-in that runs `ip netns exec`), with the TCP transport only. The np = 2
# run must end bitwise equal to a local np = 2 run. Then host 2's link goes
# down in the middle of a run: rank 0 must name rank 1 as lost, mpirun must
# return non-zero by itself within dist.timeout_s + 20 s, and nothing may be
# left running on either host. Namespaces are removed at the end.
# usage: tests/test_twohost.sh [BIN] [DATA.h5]
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
T=$(mktemp -d /tmp/rt_2host.XXXXXX)
S=$$
NA=rt_h1_$S NB=rt_h2_$S
cleanup() {
    ip netns del "$NA" 2>/dev/null
    ip netns del "$NB" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
. "$(dirname "$0")/lib.sh"
set -e
ip netns add "$NA"
ip netns add "$NB"
ip link add "rta$S" type veth peer name "rtb$S"
ip link set "rta$S" netns "$NA"
ip link set "rtb$S" netns "$NB"
ip -n "$NA" addr add 10.213.77.1/24 dev "rta$S"
ip -n "$NB" addr add 10.213.77.2/24 dev "rtb$S"
# Each host's TCP gives up on data the peer does not acknowledge after 6 to
# 12 s (tcp_retries2 = 4; the Linux default of 15 waits at least 924.6 s). When
# a host is lost, the ranks abort within dist.timeout_s, but mpirun, and the
# orted on the lost host, only exit once their TCP connection to each other
# fails: Open MPI 4.1 has no timeout of its own for a daemon it cannot reach
# (oob_tcp_keepalive_* only probes idle connections, and the abort has just
# sent on it). See "Losing a host" in README.md.
for ns in "$NA" "$NB"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_retries2=4
done
ip -n "$NA" link set "rta$S" up
ip -n "$NB" link set "rtb$S" up
set +e
export RT_NETNS_MAP="10.213.77.1=$NA,10.213.77.2=$NB"
twohost() { # twohost CMD...: mpirun inside host 1, one rank per host, TCP only
    timeout -k 10 "${CAP:-300}" ip netns exec "$NA" mpirun -np 2 --host 10.213.77.1:1,10.213.77.2:1 \
        --mca plm_rsh_agent "$PWD/tests/netns-agent.sh" --mca btl tcp,self \
        --mca btl_tcp_if_include 10.213.77.0/24 --mca oob_tcp_if_include 10.213.77.0/24 \
        -x OPENBLAS_NUM_THREADS -x RT_NETNS_MAP "$@"
}
# each rank sees only its own host's address
addrs=$(twohost sh -c 'echo "rank $OMPI_COMM_WORLD_RANK: $(ip -o -4 addr show scope global | awk "{print \$4}")"' 2>&1 | sort)
echo "$addrs" | grep -qx "rank 0: 10.213.77.1/24" && echo "$addrs" | grep -qx "rank 1: 10.213.77.2/24"
check "one rank per host" $? "$(echo "$addrs" | tr '\n' ';')"

ARGS=(train configs/fashion_mlp.json --quiet --set "data.train=$DATA" --set "data.test=$DATA"
      --set train.steps=40 --set data.shuffle=true)
twohost "$BIN" "${ARGS[@]}" --run-dir "$T/tcp" >"$T/tcp.out" 2>"$T/tcp.err"
rc1=$?
timeout 300 mpirun -np 2 "$BIN" "${ARGS[@]}" --run-dir "$T/local" >"$T/local.out" 2>&1
rc2=$?
/usr/bin/python3 - "$T" <<'PY'
import sys, h5py, numpy as np
t = sys.argv[1]
a = h5py.File(f"{t}/tcp/ckpt/step_00000040.h5"); b = h5py.File(f"{t}/local/ckpt/step_00000040.h5")
same = all(np.array_equal(a["params"][k][()], b["params"][k][()]) for k in a["params"])
print("two hosts over TCP vs local shared memory, bitwise equal:", same, "| world size", a.attrs["world_size"])
sys.exit(0 if same and a.attrs["world_size"] == 2 else 1)
PY
rc=$?
[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]
check "np=2 across two hosts" $((rc | $?)) "exit $rc1 (two hosts), $rc2 (local); $(tail -n1 "$T/tcp.err")"

# ---- network loss: host 2's link goes down mid-run ----
TMO=3 BOUND=$((TMO + 20)) # dist.timeout_s, and the most mpirun may take after the link goes down
CAP=120 twohost "$BIN" "${ARGS[@]}" --set train.steps=2000 --set train.log_every=5 \
    --set dist.timeout_s=$TMO --run-dir "$T/loss" >"$T/loss.out" 2>"$T/loss.err" &
job=$!
step=0
for _ in $(seq 600); do # mid-run: step 20 logged, at most 60 s
    step=$(grep -o '"step":[0-9]*' "$T/loss/metrics.jsonl" 2>/dev/null | tail -n1 | cut -d: -f2)
    [ "${step:-0}" -ge 20 ] && break
    kill -0 $job 2>/dev/null || break
    sleep 0.1
done
t_down=$EPOCHREALTIME
ip -n "$NB" link set "rtb$S" down
wait $job
rc=$?
t_end=$EPOCHREALTIME
took=$(awk -v a="$t_down" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')
line=$(grep -m1 '^ringtrain: error: rank 0: .*rank 1' "$T/loss.err")
[ "${step:-0}" -ge 20 ] && [ -n "$line" ]
ok=$?
check "link lost mid-run: rank 0 names rank 1" $ok "after step ${step:-none}: ${line:-no such line}"
[ $ok -eq 0 ] || sed 's/^/    /' "$T/loss.err" | head -n 12
awk -v t="$took" -v b=$BOUND 'BEGIN { exit !(t <= b) }' && [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $rc -ne 137 ]
check "link lost mid-run: mpirun exits by itself" $? "exit $rc, $took s after the link went down (bound $BOUND s)"

# nothing of the job may stay on either host: the orted on host 2 exits once
# its own connection to mpirun fails, a few seconds after mpirun at most
left=""
for _ in $(seq 100); do
    left=$(ip netns pids "$NA"; ip netns pids "$NB")
    [ -z "$left" ] && break
    sleep 0.1
done
names=""
for p in $left; do names="$names $p:$(ps -o comm= -p "$p")"; done
[ -z "$left" ]
check "link lost mid-run: nothing left on either host" $? \
    "${names:-no process in either namespace} ($(awk -v a="$t_end" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s after mpirun returned)"
[ -z "$left" ] || kill -9 $left 2>/dev/null

ip netns del "$NA" && ip netns del "$NB" && ! ip netns list | grep -q -E "^($NA|$NB)( |$)"
check "namespaces removed" $? "$NA $NB"

finish
