"""Loading FER2013: the study's per-row parser against fer_nbdev's, first load and cached load.

    python benchmarks/bench_load.py [PATH]   (default: the lookup chain of load_fer2013)

Prints seconds and the ratio naive ÷ ours. Timings are printed, never asserted.
"""
import os, sys, tempfile, time
import numpy as np, pandas as pd
from fer_nbdev.data import find_fer2013, load_fer2013

def naive(path):
    "The study's way: pandas, then a Python split per row."
    df = pd.read_csv(path)
    images = np.array([np.array(p.split(), dtype="float32").reshape(48, 48) for p in df["pixels"]])
    return images.astype(np.uint8), df["emotion"].to_numpy()

def best_of(f, n):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); out = f(); ts.append(time.perf_counter() - t)
    return min(ts), out

if __name__ == "__main__":
    path = find_fer2013(sys.argv[1] if len(sys.argv) > 1 else None)
    print(f"source: {path} ({path.stat().st_size / 1e6:.1f} MB), {os.cpu_count()} cores")
    t_naive, (img_n, lab_n) = best_of(lambda: naive(path), 1)
    with tempfile.TemporaryDirectory() as d:
        os.environ["FER_NBDEV_CACHE"] = d
        def first():
            for p in os.scandir(d): __import__("shutil").rmtree(p.path)
            return load_fer2013(path)
        t_first, ds = best_of(first, 3)
        t_cached, ds2 = best_of(lambda: load_fer2013(path), 5)
    assert np.array_equal(ds.images, img_n) and np.array_equal(ds.labels, lab_n), "parsers disagree"
    assert np.array_equal(ds2.images, ds.images)
    print(f"naive per-row parse : {t_naive:7.2f} s")
    print(f"ours, first load    : {t_first:7.2f} s   naive/ours = {t_naive / t_first:5.1f}x")
    print(f"ours, cached load   : {t_cached:7.3f} s   naive/ours = {t_naive / t_cached:5.0f}x")
