"""`fer-predict PHOTO` as a whole process, from a cold start: wall time and peak memory, with the classifier's graph
cached (ONNX Runtime alone: no TensorFlow, no Keras) against the way it started before (Keras and the model loaded to
find the cached graph by the model's weights).

    python benchmarks/bench_start.py [PHOTO] [--runs 5] [--model default]

Each run is a new process (`fer-predict PHOTO --quiet`); its peak resident memory is the kernel's (wait4). "cached"
runs find the graph's record (`fer_nbdev.runtime.cached_graph`, keyed by the .keras file's SHA-256); "keras first"
runs have the records removed before each start, so the process loads Keras and the model as before, then writes the
record again. The exported graphs themselves are cached in both. Medians over --runs; the ratio is what carries to
another machine (the targets: ≤ 1.5 s and ≤ 400 MB on 2 cores). Nothing is asserted.
"""
import argparse, os, shutil, statistics, subprocess, sys, time
from pathlib import Path


def one_run(cmd, env):
    "(seconds, peak resident MB) of one process, which must succeed."
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(); p.stderr.close()
    if code != 0: sys.exit(f"{' '.join(map(str, cmd))} failed ({code}):\n{err[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


if __name__ == "__main__":
    import matplotlib.cbook
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("photo", nargs="?", default=matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False),
                    help="a photo (default: matplotlib's portrait of Grace Hopper)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--model", default="default", help="a packaged model's name or a .keras file (default: the packaged default)")
    ap.add_argument("--json", default=None, help="also write the figures here (08a_runtime shows results/benchmarks/start.json)")
    a = ap.parse_args()
    from fer_nbdev.detect import runtime_cache
    from fer_nbdev.runtime import _graph_record
    from fer_nbdev.predict import _model_files
    exe = shutil.which("fer-predict") or sys.exit("fer-predict is not installed (pip install -e .)")
    cmd, env = [exe, str(a.photo), "--model", a.model, "--quiet"], dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    record = _graph_record(_model_files(a.model)[0])
    one_run(cmd, env)                                            # export and record once, as a first use does
    if not record.is_file(): sys.exit(f"no graph was recorded for {a.model} ({record}): it does not run through ONNX here")
    runs = {"cached": [], "keras first": []}
    for _ in range(a.runs):                                      # interleaved: the same load on both
        runs["cached"].append(one_run(cmd, env))
        saved = record.read_bytes(); record.unlink()
        runs["keras first"].append(one_run(cmd, env))
        if not record.is_file(): record.write_bytes(saved)
    print(f"fer-predict {Path(a.photo).name} --model {a.model}: {a.runs} cold starts each, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for k, v in runs.items()}
    for k, (s, mb) in med.items():
        print(f"  {k:<12} {s:6.2f} s  {mb:6.0f} MB peak   (runs: {', '.join(f'{r[0]:.2f}' for r in runs[k])} s)")
    (sc, mc), (sk, mk) = med["cached"], med["keras first"]
    print(f"  cached / keras first: {sc / sk:.2f}x the time, {mc / mk:.2f}x the memory")
    if a.json:
        import json
        from fer_nbdev.results import run_info
        out = {"benchmark": "bench_start", "photo": Path(a.photo).name, "model": a.model, "runs": a.runs, **run_info(),
               "load_average": os.getloadavg()[0],
               "median": {k: {"seconds": round(s, 3), "peak_mb": round(mb, 1)} for k, (s, mb) in med.items()},
               "all": {k: [[round(r[0], 3), round(r[1], 1)] for r in v] for k, v in runs.items()}}
        os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
        with open(a.json, "w") as f: json.dump(out, f, indent=1)
