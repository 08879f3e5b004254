#!/usr/bin/env python3
"""The code's shape, held to what STYLE.md asks of it:
- no .c file in src/ over 600 lines, and src/train.c at most 450 (a longer
  file usually holds two jobs);
- no function over 80 lines;
- no switch or if-chain on a model family or a task where the table of
  families should decide: train.c, main.c, config.c and sample.c name no
  family and no task;
- every public header in include/ringtrain/ has its .c in src/ (or is a
  header-only one listed here: api.h, ringtrain.h).
usage: tests/test_layout.py [ROOT]"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
passed = failed = 0


def check(ok, what):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + what)
    if ok:
        passed += 1
    else:
        failed += 1


sources = []
for d, _, files in os.walk(os.path.join(root, "src")):
    sources += [os.path.join(d, f) for f in files if f.endswith(".c")]
sources.sort()

# ---- file sizes ----
limits = {"src/train.c": 450}
over = []
for p in sources:
    rel = os.path.relpath(p, root)
    n = sum(1 for _ in open(p))
    if n > limits.get(rel, 600):
        over.append(f"{rel} {n} > {limits.get(rel, 600)}")
check(not over, f"file sizes: {len(sources)} files in src/, none over 600 lines, train.c at most 450"
      + (": " + "; ".join(over) if over else ""))

# ---- function lengths: a definition opens at column 0 and closes with "}" at column 0 ----
start = re.compile(r"^(?:static\s+|inline\s+|RT_NORETURN\s+)*[A-Za-z_][\w\s\*]*\b(\w+)\s*\([^;]*$")
longest, too_long, nfuncs = ("", 0), [], 0
for p in sources:
    lines = open(p).read().split("\n")
    i = 0
    while i < len(lines):
        m = start.match(lines[i])
        if m and not lines[i].startswith(("typedef", "struct", "enum", "#")):
            j = i
            while j < len(lines) and not lines[j].rstrip().endswith("{") and ";" not in lines[j]:
                j += 1
            if j < len(lines) and lines[j].rstrip().endswith("{") and "=" not in lines[i].split("(")[0]:
                k = j + 1
                while k < len(lines) and lines[k] != "}":
                    k += 1
                n = k - i + 1
                nfuncs += 1
                name = f"{os.path.relpath(p, root)}:{m.group(1)}"
                if n > longest[1]:
                    longest = (name, n)
                if n > 80:
                    too_long.append(f"{name} {n} lines")
                i = k
        i += 1
check(not too_long and longest[1] > 0,
      f"function lengths: {nfuncs} functions, none over 80 lines (longest {longest[0]}, {longest[1]})"
      + (": " + "; ".join(too_long) if too_long else ""))

# ---- the table decides: no family or task named where it should ----
named = re.compile(r"RT_TASK_|RT_MODEL_|rt_family_|\"(sequential|nice|rectified_flow)\"")
for rel in ("src/train.c", "src/main.c", "src/config.c", "src/sample.c"):
    hits = [f"{rel}:{n}" for n, line in enumerate(open(os.path.join(root, rel)), 1)
            if named.search(line) and not line.lstrip().startswith(("/*", "*"))]
    check(not hits, f"{rel} names no model family or task" + (": " + ", ".join(hits) if hits else ""))

# ---- one header per module: include/ringtrain/x.h is src/x.c, or a folder src/x/ or src/xs/ ----
hdrs = sorted(f for f in os.listdir(os.path.join(root, "include/ringtrain")) if f.endswith(".h"))
# api.h (the export macros) and ringtrain.h (the umbrella) declare no module.
header_only = {"api.h", "ringtrain.h"}
missing = [h for h in hdrs if h not in header_only and not os.path.exists(os.path.join(root, "src", h[:-2] + ".c"))
           and not os.path.isdir(os.path.join(root, "src", h[:-2]))
           and not os.path.isdir(os.path.join(root, "src", h[:-2] + "s"))]
check(not missing, f"{len(hdrs)} public headers, each with its module in src/"
      + (": missing " + ", ".join(missing) if missing else ""))

# ---- the checks can fail ----
check(start.match("static int too_long(int a, int b) {") is not None and
      named.search("    switch (rt_model_task(m)) { case RT_TASK_FLOW:") is not None,
      "negative controls: a definition line and a task switch are recognised")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
