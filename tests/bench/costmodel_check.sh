#!/usr/bin/env bash
# The ring's cost model against the emulated cluster (tests/cluster): fits it
# on one configuration (FIT_SHAPE hosts x ranks at RATES' first rate), then
# measures the all-reduce on every configuration (H = 2 and 4 hosts, R = 1
# and 2 ranks each, every rate in RATES, SIZES; the flat host-major ring,
# and the hierarchical stages where R > 1) and prints each measurement beside
# `bench predict --sizes` for it, with the relative error; the goal is every
# one within 15%. The fitting configuration's rows are marked: the others
# are predictions of what the fit never saw. Where R = 1 the bf16 ring
# (dist.compress) is measured and predicted too. BURST is the links' tbf
# bucket in kB (cluster.sh up --burst); FIT_OUT keeps the fit, KEEP the
# directory of every measurement. Each timed round carries at least 8 MiB
# (ITERS calls, or more at small sizes), as the fit's rounds do, so that the
# bucket's credit is spread over a round rather than timed alone.
# usage: tests/bench/costmodel_check.sh [BIN]
#        (RATES="400 200" SIZES=1M,4M,16M,64M ITERS=1 FIT_SHAPE=2x2 BURST=256 FIT_OUT=FILE KEEP=DIR)
set -u
BIN=${1:-build/ringtrain}
RATES=${RATES:-400 200} SIZES=${SIZES:-1M,4M,16M,64M} ITERS=${ITERS:-1} FIT_SHAPE=${FIT_SHAPE:-2x2}
BURST=${BURST:-256} FIT_OUT=${FIT_OUT:-} KEEP=${KEEP:-}
export RT_CLUSTER=rtm$$ OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
C=tests/cluster/cluster.sh
T=$(mktemp -d /tmp/rt_cmodel.XXXXXX)
trap '$C down; [ -n "$KEEP" ] && mkdir -p "$KEEP" && cp "$T"/* "$KEEP"/; rm -rf "$T"' EXIT
read -r rate0 _ <<<"$RATES"
up() { $C up "$1" --slots "$2" --rate "$3" --net 85 --burst "$BURST" >/dev/null; }
run() { # run H R CMD...: CMD under mpirun on the H hosts of R ranks that are up
    local h=$1 r=$2
    shift 2
    $C mpirun --hostfile "$($C hostfile)" -np $((h * r)) "$PWD/$BIN" "$@"
}
bytes_of() { # 4M -> 4194304
    local n=${1%[KMG]}
    case $1 in *K) echo $((n << 10)) ;; *M) echo $((n << 20)) ;; *G) echo $((n << 30)) ;; *) echo "$n" ;; esac
}
sweep() { # sweep H R ARGS...: bench allreduce --json at every size, >= 8 MiB a round
    local h=$1 r=$2 size b it
    shift 2
    for size in ${SIZES//,/ }; do
        b=$(bytes_of "$size")
        it=$(((8388608 + b - 1) / b))
        [ "$it" -lt "$ITERS" ] && it=$ITERS
        run "$h" "$r" bench allreduce --json --sizes "$size" --iters "$it" "$@"
    done
}
fh=${FIT_SHAPE%x*} fr=${FIT_SHAPE#*x}
echo "cost model: fit on ${fh} hosts x ${fr} ranks at $rate0 Mbit/s"
up "$fh" "$fr" "$rate0"
run "$fh" "$fr" bench allreduce --fit "$T/fit.json" \
    --link "$(awk -v r="$rate0" 'BEGIN {print r / 1000}')" --iters "$ITERS" >"$T/fit.out" 2>&1 ||
    { cat "$T/fit.out"; exit 1; }
$C down
cat "$T/fit.out"
[ -n "$FIT_OUT" ] && cp "$T/fit.json" "$FIT_OUT"
for rate in $RATES; do
    for h in 2 4; do
        for r in 1 2; do
            name="h${h}r${r}_$rate"
            up "$h" "$r" "$rate"
            sweep "$h" "$r" >"$T/$name.ring" 2>&1
            [ "$r" -gt 1 ] && sweep "$h" "$r" --algorithm hierarchical >"$T/$name.hier" 2>&1
            [ "$r" -eq 1 ] && sweep "$h" "$r" --compress bf16 >"$T/$name.bf16" 2>&1
            $C down
            for comp in none bf16; do
                "$BIN" bench predict --sizes "$SIZES" --fit "$T/fit.json" --hosts "$h" --ranks-per-host "$r" \
                    --link "$(awk -v x="$rate" 'BEGIN {print x / 1000}')" --compress $comp >"$T/$name.pred_$comp" 2>&1
            done
        done
    done
done
/usr/bin/python3 - "$T" "$RATES" "$fh" "$fr" "$rate0" <<'PY'
import json, os, sys
d, rates, fh, fr, rate0 = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def rows(p):
    return [json.loads(l) for l in open(p) if l.startswith("{")] if os.path.exists(p) else []
print(f"{'hosts':>5} {'R':>2} {'Mbit/s':>6} {'algorithm':>12} {'bytes':>10} {'measured s':>11} {'model s':>10} {'error':>7}  fit")
n = ok = 0
for rate in rates:
    for h in (2, 4):
        for r in (1, 2):
            name = f"h{h}r{r}_{rate}"
            for algo, key, meas, comp in (("ring", "ring_s", "ring", "none"), ("hierarchical", "hierarchical_s", "hier", "none"),
                                          ("ring bf16", "ring_s", "bf16", "bf16")):
                pred = {p["bytes"]: p for p in rows(f"{d}/{name}.pred_{comp}")}
                for m in rows(f"{d}/{name}.{meas}"):
                    p = pred.get(m["bytes"])
                    if not p:
                        continue
                    e = p[key] / m["ring_s"] - 1.0
                    n += 1
                    ok += abs(e) <= 0.15
                    fit = "yes" if (h, r, rate) == (fh, fr, rate0) else ""
                    print(f"{h:>5} {r:>2} {rate:>6} {algo:>12} {m['bytes']:>10} {m['ring_s']:>11.5f} {p[key]:>10.5f} "
                          f"{100 * e:+6.1f}%  {fit}")
print(f"{ok} of {n} predictions within 15% of the measurement")
PY
