#!/usr/bin/env python3
"""The chaos soak's supervisor (tests/test_chaos.sh).

Trains fashion_mlp at np = 2 with `--resume auto`, and injects faults of nine
kinds at steps drawn from a printed seed. After each fault it checks the exit
code against the documented one, that no process of the run is left, and that
a checkpoint is there to resume from, then restarts. At the end the final
parameters and optimizer state must be bitwise equal to an uninterrupted run.

usage: chaos.py BIN DATA SEED WORK_DIR DISK_DIR
  WORK_DIR  scratch space (the reference run goes here)
  DISK_DIR  a small filesystem of its own, for the run under test (the full
            disk fault fills it)
"""
import errno
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time

import h5py
import numpy as np

STEPS, CKPT_EVERY, NP = 600, 20, 2
# exit codes (README "Verbs"): mpirun reports a rank killed by a signal as
# 128 + the signal; a killed mpirun is itself killed (-9 from Popen); a
# damaged checkpoint is damaged after a preemption (3) wrote it
EXPECT = {
    "kill -9 rank": 137,
    "kill -9 mpirun": -9,
    "SIGSTOP rank": 4,
    "SIGTERM every rank": 3,
    "SIGUSR1 rank": 3,
    "disk full at checkpoint": 1,
    "read fails on one rank": 1,
    "crash inside checkpoint write": 137,
    "SIGTERM, then newest checkpoint truncated": 3,
    "SIGTERM, then newest checkpoint bit-flipped": 3,
}


def args(bin_, data, run_dir):
    return ["mpirun", "-np", str(NP), "--oversubscribe", bin_, "train", "configs/fashion_mlp.json",
            "--run-dir", run_dir, "--quiet", "--resume", "auto",
            "--set", f"data.train={data}", "--set", f"data.test={data}",
            "--set", f"train.steps={STEPS}", "--set", f"train.checkpoint_every={CKPT_EVERY}",
            "--set", "train.keep_checkpoints=3", "--set", "train.log_every=10",
            "--set", "dist.timeout_s=3"]


def flight(run_dir, rank):
    """(step, pid) from a rank's flight record, or None."""
    try:
        with open(f"{run_dir}/flight/rank-{rank:05d}", "rb") as f:
            b = f.read(64)
    except OSError:
        return None
    if len(b) < 32 or not b.startswith(b"RTFLT01"):
        return None
    _, _, pid, _ = struct.unpack_from("<4i", b, 8)
    (step,) = struct.unpack_from("<q", b, 24)
    return step, pid


def leftovers(run_dir):
    out = subprocess.run(["pgrep", "-f", f"ringtrain train .*{run_dir}( |$)"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def newest_ckpt(run_dir):
    try:
        with open(f"{run_dir}/ckpt/latest") as f:
            name = f.read().strip()
    except OSError:
        return None
    path = os.path.join(run_dir, "ckpt", os.path.basename(name))
    return path if os.path.exists(path) else None


def ckpt_step(path):
    return int(os.path.basename(path)[5:13])


def damage(path, how, rng):
    size = os.path.getsize(path)
    if how == "truncate":
        os.truncate(path, size // 2)
        return f"truncated to {size // 2} of {size} bytes"
    with open(path, "r+b") as f:
        at = rng.randrange(size // 4, size - 64)
        f.seek(at)
        b = bytearray(f.read(8))
        f.seek(at)
        f.write(bytes(x ^ 0x5A for x in b))
    return f"8 bytes flipped at offset {at}"


def fill_disk(disk, keep_bytes):
    """Leave about keep_bytes free on disk. The run writes while this fills, so
    free space can shrink between the look and the allocation: on ENOSPC look
    again and grow the filler by what is free now."""
    path = os.path.join(disk, "filler")
    with open(path, "wb") as f:
        for _ in range(20):
            st = os.statvfs(disk)
            free = st.f_bavail * st.f_frsize
            n = os.fstat(f.fileno()).st_size + max(0, free - keep_bytes)
            try:
                os.posix_fallocate(f.fileno(), 0, n)
                return path
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
    raise RuntimeError(f"{disk}: could not fill to {keep_bytes} bytes free in 20 tries")


def plan(rng):
    kinds = list(EXPECT)
    kinds += rng.sample(["kill -9 rank", "SIGSTOP rank", "SIGUSR1 rank", "kill -9 mpirun"], 3)
    rng.shuffle(kinds)
    lo, hi = 2 * CKPT_EVERY, STEPS - CKPT_EVERY
    span = (hi - lo) / len(kinds)
    return [(kinds[i], int(lo + span * i + rng.uniform(0.2, 0.8) * span)) for i in range(len(kinds))]


class Soak:
    def __init__(self, bin_, data, seed, work, disk):
        self.bin, self.data, self.seed = bin_, data, seed
        self.run_dir = os.path.join(disk, "run")
        self.work, self.disk = work, disk
        self.rng = random.Random(seed)
        self.log, self.errors = [], []

    def launch(self, env_extra=None):
        env = dict(os.environ, **(env_extra or {}))
        # an earlier attempt's records (ranks outlive a killed mpirun by a few
        # steps) must not be taken for this attempt's progress
        for r in range(NP):
            try:
                os.unlink(f"{self.run_dir}/flight/rank-{r:05d}")
            except OSError:
                pass
        self.attempt = getattr(self, "attempt", 0) + 1
        err = open(os.path.join(self.work, f"attempt{self.attempt}.err"), "w")
        return subprocess.Popen(args(self.bin, self.data, self.run_dir), env=env, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)

    def wait_step(self, proc, step, limit=120):
        """Waits until rank 0 computes `step`; False if the run ended first."""
        t0 = time.time()
        while time.time() - t0 < limit:
            if proc.poll() is not None:
                return False
            rec = flight(self.run_dir, 0)
            if rec and rec[0] >= step:
                return True
            time.sleep(0.02)
        return False

    def finish(self, proc, limit=90):
        try:
            return proc.wait(limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return "timeout"

    def inject(self, kind, step):
        env, note, filler, stopped = {}, "", None, None
        resume_ckpt = newest_ckpt(self.run_dir)
        # ranks may outlive a killed mpirun by a few steps, and checkpoint
        # past the next fault's step: it then comes a little later
        if resume_ckpt and step <= ckpt_step(resume_ckpt) + 5:
            step = ckpt_step(resume_ckpt) + 5 + self.rng.randrange(1, CKPT_EVERY)
            step = min(step, STEPS - 3)
        if kind == "read fails on one rank":
            rank = self.rng.randrange(NP)
            env["RINGTRAIN_FAULT_READ"] = f"{rank}:{step}"
            note = f"rank {rank}"
        if kind == "crash inside checkpoint write":
            step = -(-step // CKPT_EVERY) * CKPT_EVERY
            env["RINGTRAIN_FAULT_CKPT_CRASH"] = str(step)
        proc = self.launch(env)
        if not env and not self.wait_step(proc, step):
            self.errors.append(f"{kind}: the run ended before step {step}")
        if kind in ("kill -9 rank", "SIGSTOP rank", "SIGUSR1 rank"):
            rank = self.rng.randrange(NP)
            rec = flight(self.run_dir, rank)
            sig = {"kill -9 rank": signal.SIGKILL, "SIGSTOP rank": signal.SIGSTOP,
                   "SIGUSR1 rank": signal.SIGUSR1}[kind]
            if rec:
                os.kill(rec[1], sig)
                stopped = rec[1] if sig == signal.SIGSTOP else None
            note = f"rank {rank}"
        elif kind == "kill -9 mpirun":
            proc.send_signal(signal.SIGKILL)
        elif kind.startswith("SIGTERM"):  # as Slurm preempts: every task still running
            for r in range(NP):
                rec = flight(self.run_dir, r)
                if rec:
                    try:  # the first task's SIGTERM may already have ended the job
                        os.kill(rec[1], signal.SIGTERM)
                    except ProcessLookupError:
                        pass
        elif kind == "disk full at checkpoint":
            filler = fill_disk(self.disk, 256 << 10)
        rc = self.finish(proc)
        if stopped:
            try:
                os.kill(stopped, signal.SIGCONT)
            except ProcessLookupError:
                pass
        if filler:
            os.unlink(filler)
        at = flight(self.run_dir, 0)
        if kind.endswith("truncated") or kind.endswith("bit-flipped"):
            path = newest_ckpt(self.run_dir)
            note = f"{os.path.basename(path)} " + damage(path, "truncate" if kind.endswith("truncated") else "flip",
                                                          self.rng)
        self.check_after(kind, step, rc, note, resume_ckpt, at)

    def check_after(self, kind, step, rc, note, resume_ckpt, at):
        t0 = time.time()
        while leftovers(self.run_dir) and time.time() - t0 < 15:
            time.sleep(0.2)
        left = leftovers(self.run_dir)
        ckpt = newest_ckpt(self.run_dir)
        ok = rc == EXPECT[kind] and not left and ckpt is not None
        self.log.append((step, kind, rc, EXPECT[kind], note, ok))
        if left:
            self.errors.append(f"{kind}: processes left running: {left}")
            for p in left:
                os.kill(p, signal.SIGKILL)
        if rc != EXPECT[kind]:
            self.errors.append(f"{kind} at step {step}: exit {rc}, expected {EXPECT[kind]} "
                               f"(see {self.work}/attempt{self.attempt}.err)")
        if ckpt is None:
            self.errors.append(f"{kind}: no checkpoint to resume from")

    def resumed_steps(self):
        """The step every attempt started from, from the start events."""
        out = []
        with open(f"{self.run_dir}/metrics.jsonl") as f:
            for line in f:
                if '"event":"start"' in line:
                    out.append(json.loads(line)["step"])
        return out

    def run(self):
        faults = plan(self.rng)
        print(f"chaos soak: seed {self.seed}, {len(faults)} faults of {len(set(k for k, _ in faults))} kinds "
              f"over {STEPS} steps, np = {NP}", flush=True)
        for kind, step in faults:
            self.inject(kind, step)
        proc = self.launch()
        rc = self.finish(proc, 300)
        if rc != 0:
            self.errors.append(f"the last attempt exited {rc}")
        starts = self.resumed_steps()
        if any(s == 0 for s in starts[1:]):
            self.errors.append(f"an attempt started from step 0: {starts}")
        return rc

    def reference(self):
        ref = os.path.join(self.work, "reference")
        a = args(self.bin, self.data, ref)
        subprocess.run(a, check=True, stdout=subprocess.DEVNULL)
        return os.path.join(ref, "ckpt", f"step_{STEPS:08d}.h5")


def same_state(a, b):
    with h5py.File(a) as fa, h5py.File(b) as fb:
        for g in ("params", "optim/m", "optim/v"):
            for k in fa[g]:
                if not np.array_equal(fa[g][k][()], fb[g][k][()]):
                    return f"{g}/{k} differs"
    return None


def main():
    bin_, data, seed, work, disk = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    soak = Soak(bin_, data, seed, work, disk)
    t0 = time.time()
    ref = soak.reference()
    soak.run()
    print("fault log (step, kind, exit code, expected):")
    for step, kind, rc, want, note, ok in soak.log:
        print(f"  step {step:4d}  {kind:44s} exit {rc!s:>4} (expected {want}){'  ' + note if note else ''}"
              f"{'' if ok else '  FAILED'}")
    print(f"attempts started from steps {soak.resumed_steps()}")
    final = os.path.join(soak.run_dir, "ckpt", f"step_{STEPS:08d}.h5")
    diff = same_state(ref, final) if os.path.exists(final) else "no final checkpoint"
    if diff:
        soak.errors.append(f"final state against the uninterrupted run: {diff}")
    else:
        print("final params and optimizer state: bitwise equal to the uninterrupted run")
    print(f"{len(soak.log)} faults, {time.time() - t0:.0f} s")
    for e in soak.errors:
        print("error:", e)
    return 1 if soak.errors else 0


if __name__ == "__main__":
    sys.exit(main())
