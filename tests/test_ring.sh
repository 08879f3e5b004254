#!/usr/bin/env bash
# The ring all-reduce against MPI_Allreduce at np = 1..5 (oversubscribed), and
# at np = 3 over the TCP transport; then the hierarchical all-reduce on hosts
# of R consecutive ranks (hHxR: H hosts x R ranks, one machine playing them).
# RUNS="2" picks runs (make check: np = 2 and h2x2).
# usage: tests/test_ring.sh OBJDIR
set -u
OBJDIR=${1:-build/obj}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
pass=0 fail=0
# shared memory at np = 1..5, then TCP, where segments arrive out of order
for run in ${RUNS:-1 2 3 4 5 tcp3 h2x2 h3x2 h2x3}; do
    np=${run#tcp}
    btl=() env=()
    [ "$run" != "$np" ] && btl=(--mca btl tcp,self)
    if [[ "$run" == h* ]]; then
        shape=${run#h}
        np=$((${shape%x*} * ${shape#*x}))
        env=(-x RT_ALGORITHM=hierarchical -x RT_RANKS_PER_HOST=${shape#*x})
    fi
    out=$(timeout 300 mpirun -np $np --oversubscribe "${btl[@]}" "${env[@]}" "$OBJDIR/tests/test_ring" 2>&1)
    rc=$?
    echo "$out" | grep -E '^(ok|FAIL)'
    line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n1)
    p=$(echo "$line" | awk '{print $1}')
    f=$(echo "$line" | awk '{print $3}')
    if [ -z "$line" ] || [ $rc -ne 0 ]; then
        echo "FAIL $run: exit $rc"
        echo "$out" | grep -vE '^(ok|FAIL)' | head -n 10 | sed 's/^/    /'
        f=$((${f:-0} + 1))
    fi
    pass=$((pass + ${p:-0}))
    fail=$((fail + ${f:-0}))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
