#!/usr/bin/env bash
# Two hosts over TCP: two network namespaces joined by a veth pair, with
# addresses this test owns (10.213.77.1 and .2, reachable only inside them).
# Open MPI starts one rank in each through tests/netns-agent.sh (an ssh
# stand-in that runs `ip netns exec`), with the TCP transport only. The np = 2
# run must end bitwise equal to a local np = 2 run. Namespaces are removed at
# exit.  usage: tests/test_twohost.sh [BIN] [DATA.h5]
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
for ns in "$NA" "$NB"; do ip -n "$ns" link set lo up; done
ip -n "$NA" link set "rta$S" up
ip -n "$NB" link set "rtb$S" up
set +e
export RT_NETNS_MAP="10.213.77.1=$NA,10.213.77.2=$NB"
twohost() { # twohost CMD...: mpirun inside host 1, one rank per host, TCP only
    timeout 300 ip netns exec "$NA" mpirun -np 2 --host 10.213.77.1:1,10.213.77.2:1 \
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

finish
