#!/usr/bin/env bash
# Runs every test suite of `make test` and prints one closing line
# "N passed, M failed" over all of them. Each suite prints its own cases and
# its time; the closing lines give the total. MODE "check" is make check's
# fast tier (under 2 minutes); "sanitize" the suites that run under ASan.
# usage: tests/run_all.sh OBJDIR [sanitize|check]
set -u
OBJDIR=${1:-build/obj}
MODE=${2:-}
BIN=$OBJDIR/ringtrain # this flavour's binary (build/ringtrain is a copy of the plain one)
DATA=data/fashion-mnist.h5
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# What the suites take from the environment they happen to run in, made
# explicit. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are kept as they are: some
# machines set them on purpose (older OpenBLAS builds compute wrongly on some
# processors), and every suite passes with and without them. The rest is fixed:
#  - one OpenBLAS thread per process: the ranks fill the cores, and the
#    zero-allocation claim is made for one thread;
#  - one locale, so that numbers print and sort alike;
#  - no ringtrain testing switch (RINGTRAIN_*), progress mode or scheduler
#    variable (SLURM_*) from the caller's shell, which would change what a
#    run does or how it names its launcher; suites set their own.
export OPENBLAS_NUM_THREADS=1 LC_ALL=C.UTF-8
unset OMP_NUM_THREADS GOTO_NUM_THREADS
for v in $(compgen -e | grep -E '^(RINGTRAIN_|SLURM_)'); do unset "$v"; done
if [ "$MODE" = sanitize ]; then
    # Open MPI and its libraries keep allocations for the life of the process.
    # use_tls=0: on some machines (seen on kernel 6.18, a Xeon of model 207)
    # GCC 12's LeakSanitizer reads a bogus range for the dynamic TLS of a
    # library MPI_Init loads and its tracer dies of SIGSEGV at every exit, so
    # thread-local storage is not scanned; what HDF5 keeps only there is
    # suppressed by name in lsan.supp.
    export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0:use_tls=0"
    # full unwinding, so the suppressions above see the MPI frames of a stack
    # verify_asan_link_order=0: no_dlclose.so, preloaded, comes before libasan
    export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:verify_asan_link_order=0"
    # Open MPI's components stay loaded to exit, so the leak check finds
    # their frames' libraries without re-reading the maps (a second a process)
    if [ -f "$OBJDIR/tests/no_dlclose.so" ]; then export LD_PRELOAD="$(realpath "$OBJDIR/tests/no_dlclose.so")"; fi
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
total_pass=0 total_fail=0 failed_suites=""

suite() { # suite NAME CMD...
    local name=$1
    shift
    echo "==== $name"
    local log
    log=$(mktemp)
    local t0=$SECONDS
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line p f
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
    p=$(echo "$line" | awk '{print $1}')
    f=$(echo "$line" | awk '{print $3}')
    if [ -z "$line" ]; then p=0 f=1; fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    [ "$f" -ne 0 ] && failed_suites="$failed_suites $name"
    echo "---- $name: $p passed, $f failed, exit $rc, $((SECONDS - t0)) s"
    rm -f "$log"
}

t_start=$SECONDS
finish_all() {
    echo
    [ -n "$failed_suites" ] && echo "failed suites:$failed_suites"
    echo "all suites: $((SECONDS - t_start)) s"
    echo "$total_pass passed, $total_fail failed"
    [ "$total_fail" -eq 0 ]
    exit
}

suite "layout" /usr/bin/python3 tests/test_layout.py
suite "ops gradcheck" "$OBJDIR/tests/test_ops"
# the kernel auto picks on this CPU, the AVX2 one too where AVX-512 hides it, and OpenBLAS
gemm_best=openblas
grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && gemm_best=avx2
grep -qw avx512f /proc/cpuinfo && gemm_best=avx512
suite "sgemm ($gemm_best, as auto picks) vs a double reference" "$OBJDIR/tests/test_gemm" $gemm_best
[ $gemm_best = avx512 ] &&
    suite "sgemm on the AVX2 kernel vs a double reference" env RINGTRAIN_GEMM=avx2 "$OBJDIR/tests/test_gemm" avx2
suite "sgemm on OpenBLAS vs a double reference" env RINGTRAIN_GEMM=openblas "$OBJDIR/tests/test_gemm" openblas
suite "model invariants" "$OBJDIR/tests/test_models"
suite "checkpoint datasets vs libhdf5" "$OBJDIR/tests/test_h5" "${TMPDIR:-/tmp}"
suite "the ring's cost model" "$OBJDIR/tests/test_costmodel" "${TMPDIR:-/tmp}"
suite "bench predict" tests/test_predict.sh "$BIN"
if [ "$MODE" = check ]; then
    # the fast tier: the ring at np = 2, bad input at np = 1, one short run end to end
    suite "ring vs MPI_Allreduce at np=2" env RUNS="2 h2x2" tests/test_ring.sh "$OBJDIR"
    suite "bad input" tests/test_bad_input.sh "$BIN"
    suite "one short run" tests/test_smoke.sh "$BIN" "$DATA"
    suite "library exports and ABI" tests/test_api.sh build
    finish_all
fi
suite "ring vs MPI_Allreduce" tests/test_ring.sh "$OBJDIR"
suite "bad input" tests/test_bad_input.sh "$BIN"
suite "end to end" tests/test_e2e.sh "$BIN" "$DATA"
suite "checkpoints and resume" tests/test_ckpt.sh "$BIN" "$DATA"
suite "faults" tests/test_faults.sh "$BIN" "$DATA"
if [ "$MODE" != sanitize ]; then
    # ASan owns malloc, valgrind needs the plain binary, and the rest runs
    # real daemons, namespaces and PyTorch: once, on the plain build
    for cfg in configs/fashion_mlp configs/fashion_cnn configs/fashion_nice configs/fashion_rectflow_conv tests/dit_small; do
        suite "zero allocations: ${cfg#*/}" "$OBJDIR/tests/test_alloc" "$DATA" "$cfg.json"
    done
    suite "make bench's sgemm ceiling" tests/test_ceiling.sh "$OBJDIR" "$DATA"
    suite "seed models at np=2" tests/test_models.sh "$BIN" "$DATA" "$OBJDIR"
    suite "DiT against torch" tests/test_dit.sh "$BIN" "$DATA" "$OBJDIR"
    for head in regress simcc rle; do
        suite "zero allocations: fashion_kp_$head" "$OBJDIR/tests/test_alloc" data/fashion-keypoints.h5 \
            "configs/fashion_kp_$head.json"
    done
    suite "library exports and ABI" tests/test_api.sh build
    suite "examples against the installed library" tests/test_examples.sh "$BIN" "$DATA"
    suite "reproduce and diff" tests/test_reproduce.sh "$BIN" "$DATA"
    suite "EMA of the parameters" tests/test_ema.sh "$BIN" "$DATA"
    suite "bf16 gradients on the wire" tests/test_compress.sh "$BIN" "$DATA"
    suite "FID and class agreement" tests/test_fid.sh "$BIN" "$DATA"
    suite "keypoint heads" tests/test_kp.sh "$BIN" data/fashion-keypoints.h5 "$DATA" "$OBJDIR"
    suite "bad input at np=2" env NP=2 tests/test_bad_input.sh "$BIN"
    suite "multi-rank training" tests/test_mpi.sh "$BIN" "$DATA"
    suite "several-GB set under a memory budget" tests/test_bigdata.sh "$BIN" "$DATA"
    suite "slurm" tests/test_slurm.sh
    suite "slurm across nodes" tests/test_slurm_nodes.sh "$BIN" "$DATA"
    suite "two hosts over TCP" tests/test_twohost.sh "$BIN" "$DATA"
    suite "the ring on emulated clusters" tests/test_cluster.sh "$OBJDIR" "$BIN" "$DATA"
    suite "chaos soak" tests/test_chaos.sh "$BIN" "$DATA"
    suite "elastic restart on emulated hosts" tests/test_elastic.sh "$BIN" "$DATA"
    suite "what users see" tests/test_ux.sh "$BIN" "$DATA" "$OBJDIR"
    suite "valgrind" tests/test_valgrind.sh "$BIN" "$DATA"
    suite "fuzzing" tests/fuzz/run.sh build/fuzz "${FUZZ_SECONDS:-30}"
    suite "pytorch parity: ops" /usr/bin/python3 tests/reference/parity_ops.py "$OBJDIR"
    suite "pytorch parity: training" /usr/bin/python3 tests/reference/parity_mlp.py "$OBJDIR" "$DATA"
fi

finish_all
