# tests/lib.sh - sourced by the shell test suites: counters, one result line
# per case, and the closing "N passed, M failed" line run_all.sh reads.
# The suite sets T (its temporary directory) before calling expect_bad.

pass=0 fail=0

# check NAME STATUS DETAIL: STATUS 0 is a pass
check() {
    if [ "$2" -eq 0 ]; then echo "ok   $1: $3"; pass=$((pass + 1)); else echo "FAIL $1: $3"; fail=$((fail + 1)); fi
}

# resume_bitexact NAME DIR STEPS CMD...: CMD (a train command without --run-dir)
# runs STEPS steps whole into DIR/whole, then into DIR/cut stopped after step
# 5 (exit 3) and resumed (--resume auto); every dataset of the two final
# checkpoints must be bitwise equal.
resume_bitexact() {
    local name=$1 dir=$2 steps=$3 rc_stop rc_res out
    shift 3
    "$@" --run-dir "$dir/whole" >/dev/null 2>&1
    RINGTRAIN_STOP_AT_STEP=5 "$@" --run-dir "$dir/cut" >/dev/null 2>&1
    rc_stop=$?
    "$@" --run-dir "$dir/cut" --resume auto >/dev/null 2>&1
    rc_res=$?
    out=$(/usr/bin/python3 - "$dir/whole/ckpt/step_$(printf %08d "$steps").h5" \
        "$dir/cut/ckpt/step_$(printf %08d "$steps").h5" <<'PY' 2>&1
import sys, h5py
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
keys = []
a.visititems(lambda k, v: keys.append(k) if isinstance(v, h5py.Dataset) else None)
same = all(a[k][()].tobytes() == b[k][()].tobytes() for k in keys)
print(f"{len(keys)} datasets bitwise equal: {same}")
sys.exit(0 if same and keys else 1)
PY
)
    [ "$rc_stop" -eq 3 ] && [ "$rc_res" -eq 0 ] && [[ "$out" == *"equal: True" ]]
    check "$name" $? "stop exit $rc_stop, resume exit $rc_res; $out"
}

# expect_bad NAME SUBSTRING CMD...: the command must exit 2 with exactly one
# stderr line "ringtrain: error: ..." that contains SUBSTRING (the file or key),
# within EXPECT_TIMEOUT seconds (default 60)
expect_bad() {
    local name=$1 want=$2
    shift 2
    timeout "${EXPECT_TIMEOUT:-60}" "$@" >"$T/expect.out" 2>"$T/expect.err"
    local rc=$? lines first
    lines=$(wc -l <"$T/expect.err")
    first=$(head -n1 "$T/expect.err")
    [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && [[ "$first" == "ringtrain: error: "* ]] && [[ "$first" == *"$want"* ]]
    local ok=$?
    check "$name" $ok "$([ $ok -eq 0 ] && echo "$first" || echo "exit $rc, $lines stderr lines, wanted \"$want\"")"
    [ $ok -eq 0 ] || sed 's/^/    /' "$T/expect.err" | head -n 8
}

# finish: the closing line, and the suite's exit status
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
