# tests/lib.sh - sourced by the shell test suites: counters, one result line
# per case, and the closing "N passed, M failed" line run_all.sh reads.
# The suite sets T (its temporary directory) before calling expect_bad.

pass=0 fail=0

# check NAME STATUS DETAIL: STATUS 0 is a pass
check() {
    if [ "$2" -eq 0 ]; then echo "ok   $1: $3"; pass=$((pass + 1)); else echo "FAIL $1: $3"; fail=$((fail + 1)); fi
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
