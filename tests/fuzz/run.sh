#!/usr/bin/env bash
# Runs each libFuzzer harness for a bounded time against a seed corpus
# (the shipped configs; real and malformed datasets and a real checkpoint).
# Any crash, leak, sanitizer report or timeout fails.
# usage: tests/fuzz/run.sh FUZZ_DIR SECONDS
set -u
DIR=${1:-build/fuzz}
SECS=${2:-60}
T=$(mktemp -d /tmp/rt_fuzzrun.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../lib.sh"
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$T/config" "$T/h5"
cp configs/*.json "$T/config/"
printf '{"model":{"type":"sequential","input":[4],"layers":[{"type":"linear","out":2}]}}\noptim.lr=0.5' >"$T/config/with_set"
/usr/bin/python3 tests/make_bad_data.py "$T/bad" >/dev/null && cp "$T"/bad/*.h5 "$T/h5/"
cp tests/fuzz/regress/*.h5 "$T/h5/" # inputs that once crashed libhdf5 (see h5util.h: the probe)
build/ringtrain train configs/fashion_mlp.json --run-dir "$T/run" --quiet --set "data.train=$T/bad/good.h5" \
    --set "data.test=$T/bad/good.h5" --set train.steps=1 --set train.global_batch=8 \
    --set model.layers.0.out=4 --set model.layers.2.out=4 >/dev/null 2>&1 && cp "$T/run/ckpt/step_00000001.h5" "$T/h5/ckpt.h5"
# the same edited by h5py (a variable-length config): its seal no longer matches
cp "$T/h5/ckpt.h5" "$T/h5/ckpt_vlen.h5" &&
    /usr/bin/python3 -c "import h5py,sys; f=h5py.File(sys.argv[1],'a'); f.attrs['config'] = str(f.attrs['config'].decode())" "$T/h5/ckpt_vlen.h5"
for name in config h5; do
    bin="$DIR/fuzz_$name"
    # libhdf5 sizes some buffers from the file and copes with malloc returning
    # NULL, as glibc does for absurd sizes: let ASan return NULL too. On some
    # corrupt files libhdf5 itself leaks cache entries it could not evict;
    # leaks whose stack never enters libhdf5 (ours) are still reported.
    LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan_h5.supp:print_suppressions=0 \
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:fast_unwind_on_malloc=0 timeout $((SECS + 120)) "$bin" -max_total_time="$SECS" -timeout=20 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$T/" "$T/$name" >"$T/$name.log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$T/$name.log" | grep -o '[0-9]*$')
    crash=$(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$T/$name.log")
    check "fuzz $name" $rc "${runs:-0} inputs in ${SECS}s${crash:+: $crash}"
    if [ $rc -ne 0 ]; then
        grep -B2 -A25 -m1 -E 'ERROR|runtime error' "$T/$name.log" | head -n 40 | sed 's/^/    /'
        mkdir -p "$DIR/artifacts"
        for a in "$T"/crash-* "$T"/leak-* "$T"/timeout-* "$T"/oom-*; do
            [ -e "$a" ] && cp "$a" "$DIR/artifacts/" && echo "    kept $DIR/artifacts/${a##*/} (replay: $bin FILE)"
        done
    fi
done
finish
