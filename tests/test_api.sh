#!/usr/bin/env bash
# The library as others link it (include/ringtrain/api.h):
#   - libringtrain.so.0 exports exactly the RT_API names of include/ringtrain/*.h,
#     under the version node RINGTRAIN_0, and no name an internal header declares;
#   - a second name (RT_API_ALIAS) is the same function, and using it warns;
#   - abidiff against the committed baseline is clean, and a throwaway build
#     with a changed signature, a removed function or an added one is judged
#     as it should be (fail, fail, pass with a report);
#   - make docs documents every public function.
# usage: tests/test_api.sh [BUILD]
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SO=$BUILD/libringtrain.so.0
T=$(mktemp -d /tmp/rt_api.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
PY=/usr/bin/python3

# ---- the exported set against the headers ----
# Declared names, read from the headers independently of the compiler: the
# name before the first "(" (a function) or before "[" or ";" (a variable)
# of each RT_API declaration, and the first argument of RT_API_ALIAS.
$PY - include/ringtrain src >"$T/declared" 2>"$T/internal" <<'PY'
import glob, os, re, sys
inc, src = sys.argv[1:3]
names = set()
for p in glob.glob(os.path.join(inc, "*.h")):
    text = re.sub(r"/\*.*?\*/", " ", open(p).read(), flags=re.S)
    text = "\n".join(l for l in text.split("\n") if not l.lstrip().startswith("#"))
    for m in re.finditer(r"\bRT_API_ALIAS\(\s*(\w+)", text):
        names.add(m.group(1))
    for m in re.finditer(r"\bRT_API\b([^;]*);", text):
        decl = m.group(1)
        if "(" in decl:
            names.add(re.search(r"(\w+)\s*\(", decl).group(1))
        else:
            names.add(re.search(r"(\w+)\s*(\[[^\]]*\])?\s*$", decl).group(1))
print("\n".join(sorted(names)))
internal = set()
for p in glob.glob(os.path.join(src, "**", "*.h"), recursive=True):
    text = re.sub(r"/\*.*?\*/", " ", open(p).read(), flags=re.S)
    text = "\n".join(l for l in text.split("\n") if not l.lstrip().startswith("#"))
    for m in re.finditer(r"^(?!static|typedef)[A-Za-z_][\w \t\*]*?\b(\w+)\s*\(", text, flags=re.M):
        internal.add(m.group(1))
print("\n".join(sorted(internal)), file=sys.stderr)
PY
nm -D --defined-only "$SO" | awk '$3 != "RINGTRAIN_0" {print $3}' >"$T/versioned"
sed 's/@.*//' "$T/versioned" | sort -u >"$T/exported"
ndecl=$(wc -l <"$T/declared") nexp=$(wc -l <"$T/exported")
extra=$(comm -13 "$T/declared" "$T/exported" | head -5 | paste -sd' ')
lost=$(comm -23 "$T/declared" "$T/exported" | head -5 | paste -sd' ')
[ "$ndecl" -gt 250 ] && [ -z "$extra" ] && [ -z "$lost" ]
check "exports = RT_API names" $? "$nexp exported, $ndecl declared RT_API${extra:+; exported but not declared: $extra}${lost:+; declared but not exported: $lost}"

unversioned=$(grep -vc '@@RINGTRAIN_0$' "$T/versioned")
[ "$unversioned" -eq 0 ] && [ -s "$T/versioned" ]
check "version node" $? "$((nexp - unversioned)) of $nexp symbols are name@@RINGTRAIN_0"

leaked=$(comm -12 "$T/internal" "$T/exported" | paste -sd' ')
nint=$(wc -l <"$T/internal")
[ "$nint" -ge 10 ] && [ -z "$leaked" ]
check "internal names hidden" $? "$nint functions declared in src/**/*.h, none exported${leaked:+; exported: $leaked}"

soname=$(readelf -d "$SO" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
link=$(readlink "$BUILD/libringtrain.so")
[ "$soname" = libringtrain.so.0 ] && [ "$link" = libringtrain.so.0 ]
check "soname" $? "SONAME $soname, $BUILD/libringtrain.so -> $link"

missing=""
for h in include/ringtrain/*.h; do
    b=$(basename "$h")
    [ "$b" = ringtrain.h ] || grep -q "#include \"ringtrain/$b\"" include/ringtrain/ringtrain.h || missing="$missing $b"
done
[ -z "$missing" ]
check "the umbrella header" $? "ringtrain/ringtrain.h includes every public header${missing:+; not:$missing}"

# ---- a second public name ----
addr() { nm -D --defined-only "$SO" | awk -v n="$1@@RINGTRAIN_0" '$3 == n {print $1}'; }
a_old=$(addr rt_cfg_changes_text) a_new=$(addr rt_config_changes_text)
cat >"$T/alias.c" <<'EOF'
#include "ringtrain/ringtrain.h"
int main(void) { char buf[8]; rt_cfg_changes_text(0, 0, true, buf, sizeof buf); return buf[0]; }
EOF
LC_ALL=C cc -std=c11 -D_GNU_SOURCE -Iinclude $(pkg-config --cflags ompi-c hdf5 libcjson) -c "$T/alias.c" \
    -o "$T/alias.o" 2>"$T/alias.err"
warned=$(grep -c "'rt_cfg_changes_text' is deprecated: renamed rt_config_changes_text" "$T/alias.err")
[ -n "$a_old" ] && [ "$a_old" = "$a_new" ] && [ "$warned" -ge 1 ]
check "RT_API_ALIAS" $? "rt_cfg_changes_text at ${a_old:-?}, rt_config_changes_text at ${a_new:-?}; a caller of the old name is warned ($warned)"

# ---- the ABI ----
out=$(tests/abi/check.sh tests/abi/libringtrain.abi "$SO" 2>&1)
rc=$?
[ $rc -eq 0 ] && [[ "$out" == *"no change"* ]]
check "abidiff against the baseline" $? "$(tail -n1 <<<"$out")"

# Throwaway builds of the library at -O0 from a copy of the sources, each
# judged against the committed baseline. The unchanged copy shows that the
# optimisation level alone changes nothing the check sees.
mkdir -p "$T/src"
cp -r Makefile src include "$T/src/"
throwaway() { # throwaway NAME: builds $T/src's library, prints check.sh's verdict, returns its exit
    make -s -C "$T/src" OPT="-O0 -g" build/libringtrain.so.0 >"$T/$1.build" 2>&1 ||
        { sed 's/^/    /' "$T/$1.build" | tail -5; return 2; }
    tests/abi/check.sh tests/abi/libringtrain.abi "$T/src/build/libringtrain.so.0" "$T/src/include/ringtrain" \
        >"$T/$1.abi" 2>&1
}
throwaway same; rc=$?
check "abidiff: an unchanged -O0 build" $([ $rc -eq 0 ] && echo 0 || echo 1) "exit $rc: $(tail -n1 "$T/same.abi")"

sed -i 's/^RT_API int rt_params_find(/RT_API long rt_params_find(/' "$T/src/include/ringtrain/nn.h"
sed -i 's/^int rt_params_find(/long rt_params_find(/' "$T/src/src/nn.c"
throwaway changed; rc=$?
grep -q "rt_params_find" "$T/changed.abi" && grep -q "type name changed from 'int' to 'long int'" "$T/changed.abi"
named=$?
check "abidiff: a changed signature fails" $([ $rc -eq 1 ] && [ $named -eq 0 ] && echo 0 || echo 1) \
    "rt_params_find int -> long: exit $rc: $(tail -n2 "$T/changed.abi" | head -n1)"
cp include/ringtrain/nn.h "$T/src/include/ringtrain/nn.h" && cp src/nn.c "$T/src/src/nn.c"

sed -i 's/^RT_API double rt_now(void);/double rt_now(void);/' "$T/src/include/ringtrain/common.h"
throwaway removed; rc=$?
check "abidiff: a removed function fails" $([ $rc -eq 1 ] && grep -q "1 removed" "$T/removed.abi" && echo 0 || echo 1) \
    "rt_now unexported: exit $rc: $(tail -n2 "$T/removed.abi" | head -n1)"
cp include/ringtrain/common.h "$T/src/include/ringtrain/common.h"

$PY - "$T/src/include/ringtrain/common.h" <<'PY'
import sys
p = sys.argv[1]; t = open(p).read(); i = t.rindex("#endif")
open(p, "w").write(t[:i] + "/** A function the baseline does not have. */\nRT_API int rt_abi_probe(void);\n" + t[i:])
PY
printf '\nint rt_abi_probe(void) { return 42; }\n' >>"$T/src/src/common.c"
throwaway added; rc=$?
check "abidiff: an added function passes, reported" \
    $([ $rc -eq 0 ] && grep -q "rt_abi_probe" "$T/added.abi" && grep -q "adds 1" "$T/added.abi" && echo 0 || echo 1) \
    "exit $rc: $(tail -n1 "$T/added.abi")"
cp include/ringtrain/common.h "$T/src/include/ringtrain/common.h" && cp src/common.c "$T/src/src/common.c"

$PY - "$T/src/include/ringtrain/ckpt.h" <<'PY'
import sys
p = sys.argv[1]; t = open(p).read()
t = t.replace("int64_t skipped_steps;\n    char optim_type[16];", "int64_t skipped_steps, probe;\n    char optim_type[16];", 1)
open(p, "w").write(t)
PY
throwaway public; rc=$?
check "abidiff: a field added to a public struct fails" \
    $([ $rc -eq 1 ] && grep -q "rt_ckpt_info" "$T/public.abi" && echo 0 || echo 1) \
    "rt_ckpt_info + probe: exit $rc: $(tail -n2 "$T/public.abi" | head -n1)"
cp include/ringtrain/ckpt.h "$T/src/include/ringtrain/ckpt.h"

sed -i 's/^struct rt_trainer {$/struct rt_trainer {\n    int probe;/' "$T/src/src/train.c"
throwaway private; rc=$?
check "abidiff: a field added to an opaque handle passes" $([ $rc -eq 0 ] && echo 0 || echo 1) \
    "struct rt_trainer (declared only in train.h) + probe: exit $rc: $(tail -n1 "$T/private.abi")"
cp src/train.c "$T/src/src/train.c"

# ---- the reference ----
out=$(docs/api.sh "$T/docs" 2>&1)
rc=$?
[ $rc -eq 0 ] && [ -f "$T/docs/html/index.html" ] && [ -f "$T/docs/html/ring_8h.html" ]
check "make docs" $? "$(tail -n1 <<<"$out")"

finish
