#!/usr/bin/env bash
# The ABI check of `make test` (and `make abi-check`): libringtrain.so against
# the committed baseline made by abidw (`make abi-update`). A removed or
# changed function, variable or type fails it (exit 1); an addition is
# reported and passes, since it breaks no program built against the baseline.
# usage: tests/abi/check.sh BASELINE.abi LIB.so [HEADERS_DIR]
#
# HEADERS_DIR (default include/ringtrain, the headers LIB.so was built from)
# tells public types from private ones: a handle such as rt_trainer is only
# declared in a header, so a field added to its struct in src/ changes no
# program built against the headers, and abidiff leaves it out.
#
# --exported-interfaces-only on both sides: without it, abidw 2.2 ties a
# function's declaration to its ELF symbol only when no other unit of the
# library called it first, and abidiff then misses a changed signature of any
# function the library calls itself (seen with rt_params_find).
set -uo pipefail
base=${1:?usage: tests/abi/check.sh BASELINE.abi LIB.so [HEADERS_DIR]} lib=${2:?usage: tests/abi/check.sh BASELINE.abi LIB.so [HEADERS_DIR]}
headers=${3:-include/ringtrain}
command -v abidiff >/dev/null || { echo "abi: abidiff is not installed (make deps: abigail-tools)" >&2; exit 2; }
[ -f "$base" ] || { echo "abi: $base: no baseline (make abi-update writes it)" >&2; exit 2; }
[ -f "$lib" ] || { echo "abi: $lib: no such library" >&2; exit 2; }
report=$(abidiff --exported-interfaces-only --no-show-locs --hd2 "$headers" "$base" "$lib" 2>&1)
rc=$?
if [ $((rc & 3)) -ne 0 ]; then
    printf '%s\n' "$report" >&2
    echo "abi: abidiff could not compare $base with $lib (exit $rc)" >&2
    exit 2
fi
# "Functions changes summary: 0 Removed, 1 Changed, 2 Added functions" and the
# variables' and symbols' lines alike.
count() { printf '%s\n' "$report" | grep 'changes summary' | grep -o "[0-9]* $1" | awk '{s += $1} END {print s + 0}'; }
removed=$(count Removed) changed=$(count Changed) added=$(count Added)
nfun=$(grep -c "<elf-symbol .*type='func-type'" "$base")
if [ $((removed + changed)) -ne 0 ] || [ $((rc & 8)) -ne 0 ]; then
    printf '%s\n' "$report"
    echo "abi: $lib breaks the baseline $base: $removed removed, $changed changed, $added added"
    echo "abi: restore the interface, or bump the soname and run make abi-update on purpose"
    exit 1
fi
if [ "$added" -ne 0 ]; then
    printf '%s\n' "$report"
    echo "abi: $lib keeps the baseline's $nfun functions and adds $added (compatible; make abi-update records them)"
else
    echo "abi: $lib matches the baseline $base ($nfun functions, no change)"
fi
