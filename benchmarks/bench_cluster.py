"""What a Dask cluster buys `fer-run`: the same N independent training steps in one process, on `local:1` and on `local:2`.

    python benchmarks/bench_cluster.py [--steps 4] [--json results/benchmarks/cluster.json]

Each step is `03_cnn` on the shipped sample (cnn4, 1 epoch, each with its own seed): a whole notebook, kernel start
included, as a profile's step is. The steps do not read each other's results, so a cluster may run them at once.

- **one process**: `run_profile`, the steps one after another on this machine (each kernel with all the cores);
- **local:1**: `run_on_cluster` with one worker: the same order, plus what the cluster path costs (sending a step
  and its inputs, running it in a folder of its own, sending back and writing what it made);
- **local:2**: two single-threaded workers (`--cluster local:2` gives each kernel half the cores).

It prints the wall times, the speed-up of local:2 over local:1, and the cluster path's overhead per step: on
local:1, (wall time - the steps' own times on the worker) / N, i.e. sending each step and its inputs, scheduling it,
and sending back and writing what it made (the cluster's start is printed apart: once per run). Beside it, the same
for one process (papermill's own bookkeeping), and local:1's wall time against one process's. Targets on a 2-core machine: speed-up >= 1.6x, overhead <= 2 s per step. Nothing is
asserted: the machine may be shared (the load average is recorded beside the times).
"""
import argparse, json, os, tempfile, time
from pathlib import Path
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def bench_profile(n):
    "A profile of `n` independent 1-epoch cnn4 steps on the shipped sample."
    from fer_nbdev.profiles import check_profile
    return check_profile("bench", {"description": f"{n} independent 1-epoch cnn4 steps on the sample",
                                   "parameters": {"data_path": "sample", "epochs": 1, "batch_size": 32, "patience": 1},
                                   "steps": [{"notebook": "03_cnn", "label": f"cnn4-seed{i}",
                                              "parameters": {"model_name": "cnn4", "protocol": "usage", "seed": i,
                                                             "run_name": f"cnn4-seed{i}", "tta": None}} for i in range(n)]})


def summarise(runs, n):
    "The figures from the three runs' wall times and step times."
    one, l1, l2 = runs
    return {"speedup_local2_over_local1": round(l1["wall_s"] / l2["wall_s"], 2),
            "overhead_s_per_step": round((l1["wall_s"] - l1["step_s_sum"]) / n, 2),
            "one_process_overhead_s_per_step": round((one["wall_s"] - one["step_s_sum"]) / n, 2),
            "local1_over_one_process": round(l1["wall_s"] / one["wall_s"], 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4, help="independent steps (default 4)")
    ap.add_argument("--json", default=None, help="also write the times here (09b_cluster shows results/benchmarks/cluster.json)")
    a = ap.parse_args()
    from fer_nbdev.pipeline import run_profile
    from fer_nbdev.cluster import connect, run_on_cluster
    prof = bench_profile(a.steps)
    load_before = os.getloadavg()[0]
    runs = []
    for where in ("one process", "local:1", "local:2"):
        tmp = Path(tempfile.mkdtemp(prefix="fer_bench_cluster_"))
        kw = dict(results_dir=tmp / "results", runs_dir=tmp / "runs")
        t0 = time.time()
        client, close = connect(where) if where != "one process" else (None, lambda: None)
        start = time.time() - t0   # starting the cluster: once per run, not per step
        t0 = time.time()
        try: s = run_profile(prof, progress=False, **kw) if client is None else run_on_cluster(prof, client, **kw)
        finally: close()
        wall = time.time() - t0
        if not s.ok or len(s.ran) != a.steps: raise SystemExit(f"{where}: not every step ran:\n{s}")
        runs.append({"where": where, "wall_s": round(wall, 1), "cluster_start_s": round(start, 1),
                     "step_s_sum": round(sum(r["seconds"] for r in s.steps), 1)})
        print(f"{where:>12}: {wall:6.1f} s for {a.steps} steps" + (f" (and {start:.1f} s to start the cluster)" if client else ""))
    out = {"n_steps": a.steps, "step": "03_cnn cnn4, 1 epoch, shipped sample", "runs": runs, **summarise(runs, a.steps)}
    print(f"local:2 over local:1: {out['speedup_local2_over_local1']:.2f}x (target >= 1.6x); cluster overhead: "
          f"{out['overhead_s_per_step']:.2f} s per step (target <= 2 s; one process's own: {out['one_process_overhead_s_per_step']:.2f} s); "
          f"local:1 / one process: {out['local1_over_one_process']:.2f}")
    if a.json:
        from fer_nbdev.results import run_info
        out = {**out, **run_info(), "load_average": [load_before, os.getloadavg()[0]]}
        os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
        Path(a.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
