#!/usr/bin/python3
"""make bench's record of the performance goals (issue 7): each section adds
its figure, its peer, the ratio and the goal to the file named by $GOALS;
`table` prints them as one table at the end of the run.
usage: tests/bench/goals.py add GOAL FIGURE PEER RATIO TARGET MET(1|0)
       tests/bench/goals.py ring RING_NP2.jsonl ...: prints the ring tables
           from `ringtrain bench allreduce --json`, records goal 3
       tests/bench/goals.py ring-vs-ompi-ring DEFAULT_NP2.jsonl FORCED_NP2.jsonl ...:
           prints, per size, the ring's ratio to MPI_Allreduce as Open MPI
           chooses it and as forced to Open MPI's own ring (not a goal)
       tests/bench/goals.py table"""
import json
import os
import sys


def add(goal, figure, peer, ratio, target, met):
    with open(os.environ["GOALS"], "a") as f:
        f.write(json.dumps({"goal": goal, "figure": figure, "peer": peer, "ratio": ratio,
                            "target": target, "met": bool(int(met))}) + "\n")


def global_batch(metrics):
    """train.global_batch of the run whose metrics.jsonl is `metrics` (its
    run directory keeps the config it ran)."""
    with open(os.path.join(os.path.dirname(metrics), "config.json")) as f:
        return json.load(f)["train"]["global_batch"]


def bench_rows(path):
    """The JSON rows of `ringtrain bench allreduce --json` saved in path."""
    return [json.loads(l) for l in open(path) if l.startswith("{")]


def ring(files):
    worst, worst_at, at64 = None, "", []
    for name in files:
        rows = bench_rows(name)
        if not rows:
            sys.exit(f"goals.py: {name}: no results from ringtrain bench allreduce")
        n = rows[0]["ranks"]
        print(f"ring all-reduce vs MPI_Allreduce, {n} ranks, segment {rows[0]['segment_bytes'] >> 10} KiB "
              f"(busbw = 2(N-1)/N x bytes / time, best of {rows[0]['rounds']} rounds each)")
        print(f"{'bytes':>12} {'iters':>8} {'ring GB/s':>14} {'MPI GB/s':>14} {'ratio':>8}")
        for r in rows:
            print(f"{r['bytes']:>12} {r['iters']:>8} {r['ring_busbw_gbs']:>14.3f} {r['mpi_busbw_gbs']:>14.3f} "
                  f"{r['ratio']:>7.2f}x")
            if r["bytes"] >= 1 << 20 and (worst is None or r["ratio"] < worst):
                worst, worst_at = r["ratio"], f"np={n} {r['bytes'] >> 20} MiB"
            if r["bytes"] == 64 << 20:
                at64.append((r["ratio"], n))
    add("3", f"ring busbw, worst at >= 1 MiB ({worst_at})", "MPI_Allreduce", worst,
        ">= 1.0x", worst >= 1.0)
    low, n = min(at64)
    add("3", f"ring busbw at 64 MiB, lowest (np={n})", "MPI_Allreduce", low, ">= 1.3x", low >= 1.3)


def ring_vs_ompi_ring(files):
    """Files in pairs, one pair per np: a default run, then a run under
    `--mca coll_tuned_allreduce_algorithm 4`, where MPI_Allreduce is Open MPI's
    own ring (reduce-scatter then all-gather, as ours): the ring against a ring."""
    print(f"{'ranks':>5} {'bytes':>10} {'vs MPI_Allreduce':>17} {'vs Open MPI ring':>17} "
          f"{'Open MPI ring GB/s':>19}")
    for default, forced in zip(files[::2], files[1::2]):
        ratio = {r["bytes"]: r["ratio"] for r in bench_rows(default)}
        for r in bench_rows(forced):
            d = f"{ratio[r['bytes']]:.2f}x" if r["bytes"] in ratio else "-"
            print(f"{r['ranks']:>5} {r['bytes']:>10} {d:>17} {r['ratio']:>16.2f}x {r['mpi_busbw_gbs']:>19.3f}")


def table():
    rows = sorted((json.loads(l) for l in open(os.environ["GOALS"])), key=lambda r: r["goal"])  # stable: run order within a goal
    fw, pw = max(len(r["figure"]) for r in rows), max(len(r["peer"]) for r in rows)
    print(f"{'goal':<5} {'figure':<{fw}}  {'peer':<{pw}}  {'ratio':>7}  {'target':<8} met")
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f}"
        print(f"{r['goal']:<5} {r['figure']:<{fw}}  {r['peer']:<{pw}}  {ratio:>7}  {r['target']:<8} "
              f"{'yes' if r['met'] else 'NO'}")
    goals = {}
    for r in rows:
        goals[r["goal"]] = goals.get(r["goal"], True) and r["met"]
    missed = [g for g in sorted(goals) if not goals[g]]
    print(f"goals met in this run: {sum(goals.values())} of {len(goals)}"
          + (f"; missed: {', '.join(missed)}" if missed else ""))


if __name__ == "__main__":
    verb, rest = sys.argv[1], sys.argv[2:]
    if verb == "add":
        goal, figure, peer, ratio, target, met = rest
        add(goal, figure, peer, None if ratio == "" else float(ratio), target, met)
    elif verb == "ring":
        ring(rest)
    elif verb == "ring-vs-ompi-ring":
        ring_vs_ompi_ring(rest)
    elif verb == "table":
        table()
    else:
        sys.exit(__doc__)
