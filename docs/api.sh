#!/usr/bin/env bash
# `make docs`: the C API reference from include/ringtrain/'s contract comments
# (Doxygen, docs/Doxyfile) into OUT/html. A public function without a contract
# is an error; Doxygen's other remarks (undocumented struct fields, say) are
# counted and kept in OUT/warnings.log.
# usage: docs/api.sh OUT
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: docs/api.sh OUT}
command -v doxygen >/dev/null || { echo "docs/api.sh: doxygen is not installed (make deps)" >&2; exit 2; }
rm -rf "$out" && mkdir -p "$out"
RT_DOCS_OUT=$out RT_VERSION=$(sed -n 's/.*RT_VERSION "\(.*\)"/\1/p' include/ringtrain/common.h) \
    doxygen docs/Doxyfile
log=$out/warnings.log
nfun=$(grep -c '(function) of file .* is not documented' "$log" || true)
nother=$(($(grep -c . "$log" || true) - nfun))
napi=$(cat include/ringtrain/*.h | grep -c '^\(extern \)\?RT_API' || true)
if [ "$nfun" -ne 0 ]; then
    grep '(function) of file .* is not documented' "$log" | sed 's/^/docs: /' >&2
    echo "docs: $nfun public functions have no contract comment" >&2
    exit 1
fi
echo "docs: $out/html/index.html: all $napi RT_API declarations have a contract ($nother other remarks in $log)"
