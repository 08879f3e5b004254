#!/usr/bin/env bash
# What users see: plain logs without control characters, the live bar, per-rank
# metrics and `report`, a real PNG from `plot`, --help and --version, the
# README reference, and `make install` with a C program built against the
# installed library through pkg-config.
# usage: tests/test_ux.sh BIN DATA.h5 OBJDIR
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
OBJDIR=${3:-build/obj}
T=$(mktemp -d /tmp/rt_ux.XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
. "$(dirname "$0")/lib.sh"
ARGS=(train configs/fashion_mlp.json --set "data.train=$DATA" --set "data.test=$DATA" --set train.steps=60
      --set train.log_every=10 --set train.eval_every=30)

# ---- a real np=2 run into a file: lines, no escape codes ----
timeout 300 mpirun -np 2 "$BIN" "${ARGS[@]}" --run-dir "$T/run" --per-rank-metrics >"$T/log" 2>&1
rc=$?
lines=$(grep -c '^step ' "$T/log")
ctl=$(LC_ALL=C grep -c $'[\x1b\r]' "$T/log")
[ $rc -eq 0 ] && [ "$lines" -eq 6 ] && [ "$ctl" -eq 0 ] && grep -q '^eval  step 30 ' "$T/log"
check "non-TTY log" $? "exit $rc, $lines step lines, $ctl lines with escape codes or carriage returns, eval lines of their own"

# ---- the bar, forced (a pty of its own would need a terminal size) ----
RINGTRAIN_PROGRESS=bar timeout 300 "$BIN" "${ARGS[@]}" --run-dir "$T/bar" >"$T/bar.log" 2>&1
n=$(LC_ALL=C grep -o $'\r\x1b\\[Kepoch 0 \\[' "$T/bar.log" | wc -l)
[ "$n" -ge 2 ] && grep -q $'\x1b\\[Keval  step 30' "$T/bar.log"
check "live bar" $? "$n redraws of one line (epoch, step/total, loss, samples/s, eta); eval on its own line"

# ---- per-rank metrics and report ----
"$BIN" report "$T/run" >"$T/report" 2>&1
rc=$?
[ $rc -eq 0 ] && [ -s "$T/run/metrics.rank0.jsonl" ] && [ -s "$T/run/metrics.rank1.jsonl" ] &&
    grep -q "^throughput  *median [0-9]* samples/s" "$T/report" && grep -q "slowest rank [01]: .* over the median" "$T/report" &&
    grep -q '^final .*"event":"done","step":60' "$T/report" && grep -q "compute .* waiting" "$T/report" &&
    [ "$(tail -c 1 "$T/report" | od -An -c | tr -d ' ')" = '\n' ]
check "report (its last line ends with a newline)" $? "$(tr '\n' '|' <"$T/report" | cut -c1-220)"
grep -q '"t_compute_s"' "$T/run/metrics.jsonl" && grep -q '"t_comm_s"' "$T/run/metrics.jsonl" && grep -q '"t_wait_s"' "$T/run/metrics.jsonl"
check "time split in metrics.jsonl" $? "compute, comm and wait per logged step"

# ---- plot: a real PNG that decodes at the right size ----
"$BIN" plot "$T/run" -o "$T/run.png" >/dev/null 2>"$T/plot.err"
rc=$?
out=$("$OBJDIR/tests/test_pngdecode" "$T/run.png" 1200 900 | head -n1)
[ $rc -eq 0 ] && [[ "$out" == ok* ]]
check "plot" $? "exit $rc; $out"

# ---- --help and --version ----
bad=""
for v in train eval prep sample inspect seal report plot bench; do
    h=$("$BIN" $v --help 2>&1)
    [[ "$h" == *"usage: ringtrain $v"* && "$h" == *"example:"* ]] || bad="$bad $v"
done
h=$("$BIN" --help)
[ -z "$bad" ] && [[ "$h" == *"verbs:"* ]]
check "--help" $? "every verb shows usage and an example${bad:+ (missing:$bad)}"
ver=$("$BIN" --version | head -n1)
[[ "$ver" =~ ^ringtrain\ [0-9]+\.[0-9]+\.[0-9]+\ \(git\ [0-9a-f]{7,}\)$ ]]
check "--version" $? "$ver"

# ---- OpenBLAS kernels. Two questions, and neither computes on kernels the
# environment's settings exclude (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are
# set on some machines because older OpenBLAS builds compute wrongly there):
#  1. ringtrain's own choice, from the CPU's features when OpenBLAS takes the
#     CPU for an older one: asked of `--version` and of OpenBLAS's core name
#     alone (ctypes), with OPENBLAS_CORETYPE unset, so nothing runs a product;
#  2. the np=2 run above: it computes on the environment's OPENBLAS_CORETYPE
#     when one is set (ringtrain keeps a user's setting), else on the choice
#     of 1. Its oracle is OpenBLAS's core name under that same environment. ----
corename() { # what OpenBLAS loads in this environment, by name only
    /usr/bin/python3 -c 'import ctypes; l = ctypes.CDLL("libopenblas.so.0")
l.openblas_get_corename.restype = ctypes.c_char_p; print(l.openblas_get_corename().decode())'
}
want=$(env -u OPENBLAS_CORETYPE /usr/bin/python3 - <<'PY'
import ctypes
flags = set()
for line in open("/proc/cpuinfo"):
    if line.startswith("flags"):
        flags = set(line.split(":", 1)[1].split())
        break
cpu = 3 if {"avx512f", "avx512vl", "avx512bw", "avx512dq"} <= flags else \
      2 if {"avx2", "fma"} <= flags else 1 if "avx" in flags else 0
lib = ctypes.CDLL("libopenblas.so.0")
lib.openblas_get_corename.restype = ctypes.c_char_p
took = lib.openblas_get_corename().decode()
cls = {"skylakex": 3, "cooperlake": 3, "sapphirerapids": 3, "haswell": 2, "zen": 2, "excavator": 2,
       "sandybridge": 1, "bulldozer": 1, "piledriver": 1, "steamroller": 1}.get(took.lower(), 0)
family = [None, "Sandybridge", "Haswell", "SkylakeX"][cpu]
print(f"{family} {took}" if cpu > cls else took)
PY
)
kern=${want%% *} took=${want#* }
line=$(env -u OPENBLAS_CORETYPE "$BIN" --version | sed -n 2p)
if [ "$kern" != "$took" ]; then
    expect="blas: OpenBLAS $kern kernels (chosen by ringtrain from the CPU's features: OpenBLAS took it for $took)"
else
    expect="blas: OpenBLAS $kern kernels"
fi
[ "$line" = "$expect" ]
check "OpenBLAS kernels: ringtrain's choice" $? "oracle: $want; --version with OPENBLAS_CORETYPE unset: $line"
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
    run_kern=$(corename) why="the environment's OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"
else
    run_kern=$kern why="ringtrain's choice"
fi
started=$(head -n1 "$T/run/metrics.jsonl" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("blas_kernels"))')
[ "$started" = "$run_kern" ] && grep -q "^blas: OpenBLAS $run_kern kernels" "$T/log"
check "OpenBLAS kernels: the run" $? "expected $run_kern ($why); the np=2 run started on $started"
if grep -qw avx /proc/cpuinfo; then
    line=$(OPENBLAS_CORETYPE=Sandybridge "$BIN" --version | sed -n 2p)
    [ "$line" = "blas: OpenBLAS Sandybridge kernels" ]
    check "OPENBLAS_CORETYPE kept" $? "$line"
fi

# ---- README reference covers every config key ----
"$OBJDIR/tests/test_docs" README.md >"$T/docs" 2>&1
check "README reference" $? "$(tail -n1 "$T/docs")"

# ---- make install, then a C program against the installed library ----
make -s install PREFIX="$T/prefix" >"$T/install.log" 2>&1
rc1=$?
export PKG_CONFIG_PATH="$T/prefix/lib/pkgconfig"
cc -std=c11 -Wall -Wextra -Werror examples/tiny_mlp.c $(pkg-config --cflags --libs ringtrain) -lm \
    -Wl,-rpath,"$T/prefix/lib" -o "$T/tiny_mlp" >"$T/cc.log" 2>&1
rc2=$?
out=$("$T/tiny_mlp" 2>&1)
rc3=$?
out=$(tail -n1 <<<"$out")
[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ $rc3 -eq 0 ] && [ -x "$T/prefix/bin/ringtrain" ] &&
    [ -f "$T/prefix/share/ringtrain/slurm/train.sbatch" ] && [ -f "$T/prefix/share/ringtrain/jobs/fashion_mlp.sh" ] &&
    [ -f "$T/prefix/share/ringtrain/configs/fashion_mlp.json" ]
check "install and build against the library" $? "install $rc1, cc $rc2, run $rc3: $out"

finish
