#!/usr/bin/env bash
# examples/ against the installed library, as a user builds them:
#   - make install PREFIX=<tmp>; the examples build through that prefix's
#     ringtrain.pc, once linked to libringtrain.so.0 and once to the archive
#     (checked in each binary's dynamic section);
#   - custom_mlp trains at np = 2 in its module form and its functional form,
#     with either link: the four runs log the same losses, bit for bit, and
#     save the same parameters;
#   - the loss falls, and the saved checkpoint is one ringtrain reads: infer's
#     accuracy and loss on it equal `ringtrain eval`'s, and the same holds
#     for a checkpoint that `ringtrain train` wrote (a CNN).
# usage: tests/test_examples.sh [BIN] [DATA]
set -u
cd "$(dirname "$0")/.."
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
T=$(mktemp -d /tmp/rt_examples.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
PY=/usr/bin/python3
MPIRUN="mpirun -np 2 --oversubscribe"

# ---- install, then build against the install ----
make -s install PREFIX="$T/prefix" >"$T/install.log" 2>&1
rc=$?
[ $rc -eq 0 ] && [ -f "$T/prefix/lib/libringtrain.so.0" ] && [ -L "$T/prefix/lib/libringtrain.so" ] &&
    [ -f "$T/prefix/lib/libringtrain.a" ] && [ -f "$T/prefix/include/ringtrain/ringtrain.h" ]
check "make install" $? "exit $rc; $(cd "$T/prefix" && ls lib | paste -sd' ')"
export PKG_CONFIG_PATH=$T/prefix/lib/pkgconfig
for link in shared static; do
    make -s -C examples LINK=$link OUT="$T/ex/$link" >"$T/build_$link.log" 2>&1
    rc=$?
    needed=$(readelf -d "$T/ex/$link"/{custom_mlp,infer,tiny_mlp} 2>/dev/null | grep -c 'NEEDED.*libringtrain.so.0')
    want=$([ $link = shared ] && echo 3 || echo 0)
    [ $rc -eq 0 ] && [ "$needed" -eq "$want" ]
    check "examples build, $link" $? "exit $rc; binaries that need libringtrain.so.0: $needed (want $want)"
    [ $rc -eq 0 ] || sed 's/^/    /' "$T/build_$link.log" | tail -5
done

# ---- the custom model, two forms, two links ----
for link in shared static; do
    for form in module functional; do
        flag=$([ $form = functional ] && echo --functional)
        $MPIRUN "$T/ex/$link/custom_mlp" "$DATA" "$T/$link-$form.h5" $flag --steps 60 \
            >"$T/$link-$form.log" 2>&1
        echo $? >"$T/$link-$form.rc"
        grep '^step ' "$T/$link-$form.log" >"$T/$link-$form.losses"
    done
done
rcs=$(cat "$T"/*.rc | paste -sd' ')
nsteps=$(wc -l <"$T/shared-module.losses")
same=0
for f in shared-functional static-module static-functional; do
    cmp -s "$T/shared-module.losses" "$T/$f.losses" || same=1
done
[ "$rcs" = "0 0 0 0" ] && [ "$nsteps" -eq 60 ] && [ $same -eq 0 ]
check "module = functional, bit for bit" $? "exits $rcs; $nsteps losses each, identical in all four runs: $([ $same -eq 0 ] && echo yes || echo no)"
[ $same -eq 0 ] || diff "$T/shared-module.losses" "$T/shared-functional.losses" | head -4 | sed 's/^/    /'

out=$($PY - "$T"/{shared,static}-{module,functional}.h5 <<'PY' 2>&1
import sys, h5py
files = [h5py.File(p, "r") for p in sys.argv[1:]]
names = sorted(files[0]["params"].keys())
same = all(sorted(f["params"].keys()) == names and
           all(f["params"][n][()].tobytes() == files[0]["params"][n][()].tobytes() for n in names)
           for f in files[1:])
print(f"{len(names)} parameters ({', '.join(names)}) bitwise equal in the 4 checkpoints: {same}")
sys.exit(0 if same and names else 1)
PY
)
check "saved parameters equal" $? "$out"

first=$(awk 'NR == 1 {print $4}' "$T/shared-module.losses")
last=$(awk 'END {print $4}' "$T/shared-module.losses")
$PY -c "import sys; sys.exit(0 if float('$last') < 0.6 * float('$first') else 1)" 2>/dev/null
check "it learns" $? "loss $first at step 1, $last at step 60 (want < 0.6x)"

# ---- the smallest one: a regression without MPI or data ----
for link in shared static; do
    out=$("$T/ex/$link/tiny_mlp" 2>&1)
    rc=$?
    check "tiny_mlp, $link" $rc "exit $rc: $(tail -n1 <<<"$out")"
done

# ---- inference on a checkpoint, against ringtrain eval ----
infer_vs_eval() { # NAME CKPT: infer's accuracy and loss equal eval's to 6 digits
    local name=$1 ckpt=$2 inf ev out
    inf=$("$T/ex/shared/infer" "$ckpt" --show 0 2>&1)
    ev=$("$BIN" eval "$ckpt" 2>&1 | tail -n1)
    out=$($PY - "$inf" "$ev" 2>&1 <<'PY'
import json, re, sys
m = re.search(r"accuracy ([0-9.]+), loss ([0-9.]+)", sys.argv[1])
e = json.loads(sys.argv[2])
ok = bool(m) and abs(float(m.group(1)) - e["test_acc"]) < 1e-6 and abs(float(m.group(2)) - e["test_loss"]) < 5e-6
print(f"infer acc {m.group(1) if m else '?'} loss {m.group(2) if m else '?'}; "
      f"eval test_acc {e.get('test_acc')} test_loss {e.get('test_loss', 0):.6f}")
sys.exit(0 if ok else 1)
PY
)
    check "$name" $? "$out"
}
infer_vs_eval "infer = eval: the custom model's checkpoint" "$T/shared-module.h5"
$MPIRUN "$BIN" train configs/fashion_cnn.json --run-dir "$T/cnn" --set train.steps=20 --quiet >/dev/null 2>&1
infer_vs_eval "infer = eval: a ringtrain train checkpoint (cnn)" "$T/cnn/ckpt/step_00000020.h5"

finish
