#!/usr/bin/env python3
"""The README's scaling table from the ring's cost model: for each model, link
rate and job size, `ringtrain bench predict --sweep` with float32 and with bf16
gradients, and the best of the flat ring and the hierarchical stages.

usage: tests/bench/sweep_table.py FIT.json [--bin build/ringtrain] [--rph 8] [--latency 10]
       [--links 25,100] [--ranks 8,64,256,1024] [--models fashion_mlp,...]

Each model's compute is timed once (a few steps on one rank of this machine)
and passed to every later prediction, so the rows share it."""
import argparse
import re
import subprocess
import sys

p = argparse.ArgumentParser()
p.add_argument("fit")
p.add_argument("--bin", default="build/ringtrain")
p.add_argument("--rph", type=int, default=8)
p.add_argument("--latency", type=float, default=10.0, help="us per ring step between hosts")
p.add_argument("--links", default="25,100")
p.add_argument("--ranks", default="8,64,256,1024")
p.add_argument("--models", default="fashion_mlp,fashion_cnn,fashion_rectflow_dit")
a = p.parse_args()


def predict(model, link, compress, compute_ms=None):
    cmd = [a.bin, "bench", "predict", "--model", f"configs/{model}.json", "--fit", a.fit, "--link", str(link),
           "--ranks-per-host", str(a.rph), "--sweep", "--compress", compress, "--latency", str(a.latency)]
    if compute_ms is not None:
        cmd += ["--compute-ms", f"{compute_ms:.6f}"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"sweep_table: {' '.join(cmd)}: {out.stderr.strip()}")
    head = out.stdout.splitlines()[0]
    ms = float(re.search(r"compute ([0-9.]+) ms", head).group(1))
    upd = float(re.search(r"update ([0-9.]+) ms", head).group(1))
    rows = {}
    for line in out.stdout.splitlines()[2:]:
        f = line.split()
        if len(f) == 11:
            # ranks hosts R ring hier step +overlap hier-step +overlap eff hidden: the overlapped steps are used
            rows[int(f[0])] = {"ov": float(f[6]), "hov": float(f[8]), "eff": float(f[9].rstrip("%")),
                               "hidden": f[10] == "yes"}
    return ms, upd, rows


print(f"| model | link | ranks | step ms (f32) | efficiency | hidden | best with bf16 | efficiency | what changes it |")
print(f"|---|---|---|---|---|---|---|---|---|")
for model in a.models.split(","):
    compute = None
    for link in (float(x) for x in a.links.split(",")):
        ms, upd, f32 = predict(model, link, "none", compute)
        compute = ms + upd if compute is None else compute
        _, _, b16 = predict(model, link, "bf16", compute)
        for n in (int(x) for x in a.ranks.split(",")):
            r, b = f32[n], b16[n]
            best = min(r["ov"], r["hov"])
            bbest = min(b["ov"], b["hov"])
            notes = []
            if r["hov"] < r["ov"] * 0.95:
                notes.append(f"hierarchical {r['ov']:.1f} → {r['hov']:.1f} ms")
            if bbest < best * 0.95:
                notes.append("bf16 hides it" if b["hidden"] and not r["hidden"] else f"bf16 {100 * (1 - bbest / best):.0f}% faster")
            elif bbest > best * 1.05:
                notes.append(f"bf16 {100 * (bbest / best - 1):.0f}% slower")
            print(f"| {model} | {link:g} Gbit/s | {n} | {best:.1f} | {r['eff']:.0f}% | {'yes' if r['hidden'] else 'no'} "
                  f"| {bbest:.1f} | {b['eff']:.0f}% | {'; '.join(notes) or '—'} |")
    print(f"<!-- {model}: compute {compute:.2f} ms a step per rank, timed on one rank of this machine -->")
