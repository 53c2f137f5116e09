"""Training throughput of the candidate networks on this machine: parameters, images/s and seconds per FER2013 epoch.

For each candidate (the study's cnn4 and cnn7, the VGG-style net at 40- and 44-pixel crops, the small ResNet at
40-pixel crops and at full size, a deeper ResNet, and the tuned CNN at full size and at 44-pixel crops), it times
compiled training steps (SGD-Nesterov, default augmentation, float32, batch 128 unless --batch) on real faces from
the shipped sample, after warm-up steps, and prints a table with each network's images/s relative to cnn7. Median
step time over --steps steps; the machine's load average is printed too, since a busy machine slows every row (the
ratios hold up better than the absolutes).
Prints, never asserts.  Usage: python benchmarks/bench_train.py [--batch 128] [--steps 15] [--only resnet_c40,cnn7] [--json PATH]
"""
import argparse, os, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np, keras
from fer_nbdev.models import build_model
from fer_nbdev.data import load_sample
from fer_nbdev.profiles import TUNED_AS_VGG

CANDIDATES = {                        # name: (model, builder arguments)
    "cnn4": ("cnn4", {}),
    "cnn7": ("cnn7", {}),
    "vgg_c40": ("vgg", dict(crop=40)),
    "vgg_c44": ("vgg", dict(crop=44)),
    "resnet_c40": ("resnet", dict(crop=40)),
    "resnet_48": ("resnet", {}),
    "resnet2222_c40": ("resnet", dict(crop=40, blocks=(2, 2, 2, 2))),
    "tuned_48": ("vgg", TUNED_AS_VGG),                     # 04_tuning's winner: a half-width VGG
    "tuned_c44": ("vgg", dict(crop=44, **TUNED_AS_VGG)),
}
TRAIN_FACES = 28_709                  # FER2013 Training

def step_seconds(model, x, y, steps):
    "Median seconds of one compiled training step on the batch (x, y), after 3 warm-up steps."
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True), "categorical_crossentropy")
    for _ in range(3): model.train_on_batch(x, y)
    ts = []
    for _ in range(steps):
        t = time.perf_counter(); model.train_on_batch(x, y); ts.append(time.perf_counter() - t)
    return float(np.median(ts))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--only", default=None, help="comma-separated candidate names")
    ap.add_argument("--json", default=None, help="also write the table here (03b_recipe shows every results/benchmarks/train_throughput*.json, one per machine)")
    a = ap.parse_args(argv)
    names = a.only.split(",") if a.only else list(CANDIDATES)
    faces = load_sample()
    x = np.resize(faces.x, (a.batch, 48, 48, 1)).astype("float32")
    y = np.eye(7, dtype="float32")[np.resize(faces.labels, a.batch)]
    print(f"backend {keras.backend.backend()}, float32, batch {a.batch}, augmentation on, {os.cpu_count()} CPUs, "
          f"load average before: {os.getloadavg()[0]:.2f}")
    rows = []
    for n in names:
        key, kw = CANDIDATES[n]
        keras.utils.set_random_seed(0)
        m = build_model(key, augment=True, **kw)
        s = step_seconds(m, x, y, a.steps)
        rows.append((n, m.count_params(), a.batch / s))
        print(f"  measured {n}: {a.batch / s:.0f} images/s", flush=True)
    ref = dict((n, ips) for n, _, ips in rows).get("cnn7")
    print(f"\n| network | params | images/s | s per epoch | images/s vs cnn7 |\n|---|---|---|---|---|")
    for n, p, ips in rows:
        print(f"| {n} | {p / 1e6:.2f} M | {ips:.0f} | {TRAIN_FACES / ips:.0f} | {ips / ref:.2f}× |" if ref else
              f"| {n} | {p / 1e6:.2f} M | {ips:.0f} | {TRAIN_FACES / ips:.0f} | — |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    if a.json:
        import json
        from fer_nbdev.results import run_info
        out = {"benchmark": "bench_train", "batch": a.batch, "steps": a.steps, **run_info(),
               "load_average": os.getloadavg()[0],
               "rows": [{"network": n, "params": p, "images_per_s": round(ips, 1), "s_per_epoch": round(TRAIN_FACES / ips, 1),
                         "vs_cnn7": round(ips / ref, 3) if ref else None} for n, p, ips in rows]}
        os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
        with open(a.json, "w") as f: json.dump(out, f, indent=1)

if __name__ == "__main__": main()
