#!/usr/bin/env bash
# Provenance, `ringtrain reproduce` and `ringtrain diff`:
#   - a checkpoint's /provenance: the versions, kernels, world size and
#     command line, and each data file's rows and content digest, the digest
#     recomputed here from the arrays h5py reads;
#   - reproduce of a 120-step fashion_mlp run from jobs/ at np = 2, of one
#     of its mid-run checkpoints, and of a chain (stopped at 60 at np = 2,
#     resumed at np = 3 to 120): bitwise identical, exit 0;
#   - one thing changed at a time, the verdict names it and exits 1: --np 1
#     for the np = 2 run (and says the bits were expected to differ), and for
#     a short run at np = 1 of a copy of the data: a config override, other
#     OpenBLAS kernels (where the CPU allows one), OpenBLAS's sgemm in place
#     of ringtrain's kernel (and, where the CPU has AVX-512, the AVX2 kernel
#     reproducing the AVX-512 one bit for bit), a data file with one row
#     edited;
#   - diff of two checkpoints of one run names the steps, every tensor
#     differs; a checkpoint against itself is identical;
#   - bad input, one line and exit 2: a checkpoint without provenance (the
#     older format), a data file that is gone.
# usage: tests/test_reproduce.sh [BIN] [DATA]
set -u
cd "$(dirname "$0")/.."
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
T=$(mktemp -d /tmp/rt_repro.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
PY=/usr/bin/python3

# verdict FILE: the JSON line of a reproduce or diff output, as "key=value" words
verdict() { grep '^{"event":"\(reproduce\|diff\)"' "$1" | tail -n1; }
field() { # field FILE EXPR: a Python expression over the verdict v
    $PY -c "import json, sys; v = json.loads(sys.argv[1]); print($2)" "$(verdict "$1")" 2>/dev/null
}

# ---- a run from jobs/, and its provenance ----
NP=2 jobs/fashion_mlp.sh --set train.steps=120 --set train.checkpoint_every=40 \
    --run-dir "$T/a" --quiet >"$T/a.log" 2>&1
A=$T/a/ckpt/step_00000120.h5
out=$($PY - "$A" "$DATA" <<'PY' 2>&1
import sys, json, h5py, numpy as np
ckpt, data = sys.argv[1:3]
M = (1 << 64) - 1
def mix(h, w):
    h ^= (w * 0x9e3779b97f4a7c15) & M
    h = (((h << 27) | (h >> 37)) & M) * 0xbf58476d1ce4e5b9 & M
    return h ^ (h >> 31)
def digest(arrays):
    b = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)
    h = 0xcbf29ce484222325
    words = np.frombuffer(b[: len(b) // 8 * 8], dtype="<u8")
    for w in words.tolist():
        h = mix(h, w)
    tail = int.from_bytes(b[len(b) // 8 * 8:].ljust(8, b"\0"), "little")
    return f"{mix(mix(h, tail), len(b)):016x}"
f = h5py.File(ckpt, "r")
p = f["provenance"].attrs
get = lambda k: p[k].decode() if isinstance(p[k], bytes) else p[k]
files = json.loads(get("files"))
d = h5py.File(data, "r")
bad = []
for role in ("data.train", "data.test"):
    e = [x for x in files if x["role"] == role][0]
    for split in ("train", "test"):
        g = d[split]
        want = digest([g[k][()] for k in ("x", "y") if k in g])
        got = e["splits"][split]
        if got["digest"] != want or got["rows"] != g["x"].shape[0]:
            bad.append(f"{role} {split}: {got} vs {want}")
ok = (not bad and int(f.attrs["format_version"]) == 3 and get("world_size") == 2 and get("launcher") == "mpirun"
      and "train.steps=120" in get("command") and get("step_from") == 0 and get("step_to") == 120
      and get("ringtrain_version") and get("openblas_kernel") and get("mpi_version").startswith("Open MPI"))
print(f"format {f.attrs['format_version']}, np {get('world_size')} by {get('launcher')}, steps "
      f"{get('step_from')}-{get('step_to')}, {get('openblas_kernel')} kernels, {get('mpi_version')}; "
      f"digests of 4 splits recomputed: {'equal' if not bad else bad}")
sys.exit(0 if ok else 1)
PY
)
check "provenance in the checkpoint" $? "$out"
"$BIN" inspect "$A" >"$T/inspect" 2>&1
grep -q '^provenance' "$T/inspect" && grep -q 'data.train .*digest' "$T/inspect"
check "inspect shows it" $? "$(grep -c . "$T/inspect") lines, $(grep -A1 '^provenance' "$T/inspect" | tail -n1 | xargs)"

# ---- reproductions that must be bitwise identical ----
identical() { # identical NAME OUTFILE CMD...
    local name=$1 out=$2 rc
    shift 2
    "$@" >"$out" 2>&1
    rc=$?
    [ $rc -eq 0 ] && [ "$(field "$out" 'v["verdict"]')" = "bitwise identical" ] &&
        [ "$(field "$out" 'v["tensors"]')" -ge 6 ] && [ "$(field "$out" 'len(v["changed"])')" = 0 ]
    check "$name" $? "exit $rc: $(field "$out" '"%s, %d tensors, %d changes" % (v["verdict"], v["tensors"], len(v["changed"]))')"
    [ $rc -eq 0 ] || tail -n5 "$out" | sed 's/^/    /'
}
identical "reproduce, 120 steps at np=2" "$T/r_a.out" "$BIN" reproduce "$T/a" --run-dir "$T/r_a"
identical "reproduce, a mid-run checkpoint (step 40)" "$T/r_a100.out" \
    "$BIN" reproduce "$T/a/ckpt/step_00000040.h5" --run-dir "$T/r_a100"

RINGTRAIN_STOP_AT_STEP=60 NP=2 jobs/fashion_mlp.sh --set train.steps=120 --run-dir "$T/c" --quiet >"$T/c1.log" 2>&1
rc1=$?
NP=3 jobs/fashion_mlp.sh --set train.steps=120 --run-dir "$T/c" --quiet --resume auto >"$T/c2.log" 2>&1
rc2=$?
chain=$($PY -c "import h5py, json, sys; print(json.loads(h5py.File(sys.argv[1], 'r')['provenance'].attrs['chain']))" \
    "$T/c/ckpt/step_00000120.h5" 2>&1)
[ $rc1 -eq 3 ] && [ $rc2 -eq 0 ] && [[ "$chain" == *"'step': 60, 'world_size': 2"* ]]
check "a chain: 60 steps at np=2, resumed at np=3" $? "exits $rc1, $rc2; chain $chain"
identical "reproduce the chain" "$T/r_c.out" "$BIN" reproduce "$T/c" --run-dir "$T/r_c"
segments=$(grep -c '^reproduce: steps' "$T/r_c.out")
grep -q 'steps 0 -> 60 at np 2' "$T/r_c.out" && grep -q 'steps 60 -> 120 at np 3' "$T/r_c.out"
check "the chain replayed as it ran" $? "$segments parts: $(grep '^reproduce: steps' "$T/r_c.out" | cut -d: -f2 | paste -sd';')"

# ---- one thing changed at a time: the verdict names it ----
cp "$DATA" "$T/copy.h5"
RINGTRAIN_TRACE_ROWS=$T/trace "$BIN" train configs/fashion_mlp.json --set train.steps=40 \
    --set "data.train=$T/copy.h5" --set "data.test=$T/copy.h5" --run-dir "$T/s" --quiet >"$T/s.log" 2>&1
S=$T/s/ckpt/step_00000040.h5
names() { # names NAME OUTFILE FIELD CMD...: exit 1 and FIELD among the changed fields
    local name=$1 out=$2 want=$3 rc
    shift 3
    "$@" >"$out" 2>&1
    rc=$?
    local fields
    fields=$(field "$out" '", ".join(c["field"] for c in v["changed"])')
    [ $rc -eq 1 ] && [ "$(field "$out" 'v["verdict"]')" = differs ] && [[ ", $fields," == *", $want,"* ]]
    check "$name" $? "exit $rc, $(field "$out" '"%d of %d tensors differ, max rel %.2g" % (v["differing"], v["tensors"], v["max_rel_diff"])'); changed: $fields"
    [ $rc -eq 1 ] || tail -n5 "$out" | sed 's/^/    /'
}
names "names the world size (--np 1 for the 120-step run at np=2)" "$T/r_np.out" world_size \
    "$BIN" reproduce "$A" --np 1 --run-dir "$T/r_np"
expected=$(field "$T/r_np.out" 'v.get("expected", "")')
[[ "$expected" == *"expected to differ"* ]]
check "says the last bits were expected to differ" $? "$expected"
names "names a config override" "$T/r_lr.out" "config optim.lr" \
    "$BIN" reproduce "$S" --set optim.lr=0.002 --run-dir "$T/r_lr"

now=$("$BIN" --version | sed -n 's/^blas: OpenBLAS \([A-Za-z0-9]*\) kernels.*/\1/p')
other=""
for k in Haswell Sandybridge; do
    flag=$([ $k = Haswell ] && echo avx2 || echo avx)
    [ "$k" != "$now" ] && grep -qw "$flag" /proc/cpuinfo && { other=$k; break; }
done
if [ -n "$other" ]; then
    OPENBLAS_CORETYPE=$other "$BIN" reproduce "$S" --run-dir "$T/r_k" >"$T/r_k.out" 2>&1
    rc=$?
    fields=$(field "$T/r_k.out" '", ".join(c["field"] for c in v["changed"])')
    [ $rc -le 1 ] && [[ "$fields" == *openblas_kernel* ]]
    check "names the OpenBLAS kernels ($now -> $other)" $? \
        "exit $rc, $(field "$T/r_k.out" 'v["verdict"]'); changed: $fields"
else
    echo "skip OpenBLAS kernels: this CPU offers no kernel family besides $now (needs AVX2 or AVX)"
fi

# the sgemm: OpenBLAS sums in another order than ringtrain's kernels, which
# share one, so an AVX-512 run reproduces on the AVX2 kernel bit for bit
gemm=$($PY -c 'import h5py, sys
v = h5py.File(sys.argv[1], "r")["provenance"].attrs["gemm"]
print(v.decode() if isinstance(v, bytes) else v)' "$S")
if [ "$gemm" != openblas ]; then
    names "names the sgemm ($gemm -> openblas)" "$T/r_g.out" gemm \
        env RINGTRAIN_GEMM=openblas "$BIN" reproduce "$S" --run-dir "$T/r_g"
    expected=$(field "$T/r_g.out" 'v.get("expected", "")')
    [[ "$expected" == *"another sgemm"* ]]
    check "says OpenBLAS's last bits were expected to differ" $? "$expected"
else
    echo "skip the sgemm: this CPU runs none of ringtrain's kernels"
fi
if [ "$gemm" = avx512 ]; then
    RINGTRAIN_GEMM=avx2 "$BIN" reproduce "$S" --run-dir "$T/r_g2" >"$T/r_g2.out" 2>&1
    rc=$?
    fields=$(field "$T/r_g2.out" '", ".join(c["field"] for c in v["changed"])')
    [ $rc -eq 0 ] && [[ "$fields" == *gemm* ]] && [ -z "$(field "$T/r_g2.out" 'v.get("expected", "")')" ]
    check "the AVX2 kernel reproduces an AVX-512 run bit for bit" $? \
        "exit $rc, $(field "$T/r_g2.out" 'v["verdict"]'); changed: $fields"
else
    echo "skip AVX-512 against AVX2: the run's sgemm was $gemm"
fi

row=$(awk -F': ' '$1 == "0 0" {split($2, r, " "); print r[1]}' "$T/trace.rank0")
$PY - "$T/copy.h5" "${row:-0}" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:  # the first row step 1 read, inverted
    r = int(sys.argv[2])
    f["train/x"][r] = 255 - f["train/x"][r]
PY
names "names an edited data file (row $row)" "$T/r_data.out" "data.train content" \
    "$BIN" reproduce "$S" --run-dir "$T/r_data"

# ---- diff ----
"$BIN" diff "$T/a/ckpt/step_00000040.h5" "$A" >"$T/diff.out" 2>&1
rc=$?
steps=$(field "$T/diff.out" '[c for c in v["changed"] if c["field"] == "step"]')
[ $rc -eq 1 ] && [[ "$steps" == *"'a': '40', 'b': '120'"* ]] &&
    [ "$(field "$T/diff.out" 'v["differing"] == v["tensors"] > 0')" = True ]
check "diff: two steps of one run" $? "exit $rc, $(field "$T/diff.out" '"%d of %d tensors differ" % (v["differing"], v["tensors"])'); step change $steps"
"$BIN" diff "$A" "$T/a" >"$T/same.out" 2>&1
rc=$?
[ $rc -eq 0 ] && [ "$(field "$T/same.out" 'v["verdict"]')" = "bitwise identical" ]
check "diff: a checkpoint and its run's latest" $? "exit $rc, $(field "$T/same.out" 'v["verdict"]')"

# ---- bad input ----
cp "$A" "$T/old.h5"
$PY - "$T/old.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    del f["provenance"]
    f.attrs["format_version"] = 2
PY
"$BIN" seal "$T/old.h5" >/dev/null 2>&1
expect_bad "no provenance (format 2)" "no /provenance (format version 2" "$BIN" reproduce "$T/old.h5"
rm -f "$T/copy.h5"
expect_bad "a data file that is gone" "data.train: $T/copy.h5" "$BIN" reproduce "$S" --run-dir "$T/r_gone"
expect_bad "a --set key the config lacks" "optim.lrr" "$BIN" reproduce "$A" --set optim.lrr=1 --run-dir "$T/r_key"
expect_bad "a run directory already used" "already holds a run" "$BIN" reproduce "$A" --run-dir "$T/r_a"
[ ! -e "$T/r_gone" ] && [ ! -e "$T/r_key" ]
check "nothing made for a refused reproduction" $? "$T/r_gone and $T/r_key: $([ -e "$T/r_gone" ] || [ -e "$T/r_key" ] && echo one exists || echo absent)"

finish
