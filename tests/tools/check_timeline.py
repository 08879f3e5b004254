#!/usr/bin/env python3
"""Checks a `train --timeline` trace: it parses as JSON, every B has its E
on the same track (same name, properly nested, time never going back), there
is one process (track group) per rank, and, with --overlap, some bucket's
collective on the communication track (this step's reduce-scatter, or the
last step's all-gather) runs while backward runs on the main track.

usage: check_timeline.py FILE.json WORLD [--overlap]
"""
import json
import sys


def main():
    path, world = sys.argv[1], int(sys.argv[2])
    want_overlap = "--overlap" in sys.argv[3:]
    ev = json.load(open(path))["traceEvents"]
    stacks, last, spans, errors = {}, {}, {}, []
    for e in ev:
        if e["ph"] not in "BE":
            continue
        key = (e["pid"], e["tid"])
        if e["ts"] < last.get(key, -1):
            errors.append(f"time goes back on {key} at {e['name']}")
        last[key] = e["ts"]
        st = stacks.setdefault(key, [])
        if e["ph"] == "B":
            st.append(e)
        elif not st or st[-1]["name"] != e["name"]:
            errors.append(f"an E of {e['name']} on {key} has no B")
        else:
            b = st.pop()
            spans.setdefault(key, []).append((b["name"], b["args"]["step"], b["ts"], e["ts"]))
    errors += [f"{len(s)} spans never end on {k}" for k, s in stacks.items() if s]
    pids = sorted({k[0] for k in spans})
    if pids != list(range(world)):
        errors.append(f"tracks for ranks {pids}, expected 0..{world - 1}")
    names = {n for k in spans for n, *_ in spans[k]}
    for need in ("forward", "backward", "optimizer"):
        if need not in names:
            errors.append(f"no {need} span")
    overlapped = 0
    for r in pids:
        back = [s for s in spans.get((r, 0), []) if s[0] == "backward"]
        comm = [s for s in spans.get((r, 1), []) if " b" in s[0]]  # a bucket's collective
        for name, step, t0, t1 in comm:
            if any(t0 < b1 and b0 < t1 for _, bs, b0, b1 in back):
                overlapped += 1
    if want_overlap and overlapped == 0:
        errors.append("no bucket collective overlaps backward")
    n = sum(len(s) for s in spans.values())
    print(f"{n} spans on {len(spans)} tracks of {len(pids)} ranks; {overlapped} bucket collectives overlap "
          f"backward; span kinds: {', '.join(sorted({x.split(' ')[0] for x in names}))}")
    for e in errors[:10]:
        print("error:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
