"""Frozen-base transfer training: head on cached features vs end-to-end through the frozen base, seconds per epoch.

    python benchmarks/bench_transfer.py [--model vgg16] [--size 32] [--n 2000] [--epochs 3] [--batch-size 64]

Faces: a stratified draw of n training faces from the full FER2013 when it is found, else the shipped sample
(repeated up to n). Both paths use fer_nbdev.train.fit with the same head, batch size and optimizer; the first
epoch (graph tracing) is excluded from the per-epoch time. The one-off feature extraction is reported separately,
with the number of epochs after which caching has paid for itself. Timings are printed, never asserted.
"""
import argparse, os, time
import numpy as np
import keras
from fer_nbdev.data import FERDataset, load_fer2013, load_sample, split_usage, stratified_sample
from fer_nbdev.transfer import build_transfer, extract_features, set_mode, transfer_parts
from fer_nbdev.train import fit

class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None): self.times = []
    def on_epoch_begin(self, epoch, logs=None): self.t = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None): self.times.append(time.perf_counter() - self.t)

def faces(n, seed=0):
    try: ds = split_usage(load_fer2013()).train
    except FileNotFoundError: ds = split_usage(load_sample()).train
    if len(ds) >= n: return stratified_sample(ds, n // 7 + 1, seed)[:n]
    reps = -(-n // len(ds))
    return FERDataset(np.tile(ds.images, (reps, 1, 1))[:n], np.tile(ds.labels, reps)[:n], np.tile(ds.usage, reps)[:n], ds.source)

def per_epoch(model, train, val, epochs, batch_size):
    timer = EpochTimer()
    fit(model, train, val, epochs=epochs, batch_size=batch_size, patience=epochs + 1, schedule="constant",
        mixed_precision=False, verbose=0, callbacks=[timer])
    return float(np.median(timer.times[1:])) if len(timer.times) > 1 else timer.times[0]

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="vgg16", choices=["vgg16", "resnet50", "inceptionv3"])
    ap.add_argument("--size", type=int, default=None, help="input size (default 32; 75 for inceptionv3)")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    a = ap.parse_args()
    size = a.size or (75 if a.model == "inceptionv3" else 32)
    train = faces(a.n)
    val = train[: max(len(train) // 10, 32)]
    print(f"{a.model} at {size} px, {len(train)} training faces ({train.source}), batch {a.batch_size}, "
          f"{os.cpu_count()} cores, backend {keras.backend.backend()}")

    keras.utils.set_random_seed(0)
    model = build_transfer(a.model, weights=None, input_size=size, mode="frozen")
    e2e = per_epoch(model, train, val, a.epochs, a.batch_size)

    keras.utils.set_random_seed(0)
    model = build_transfer(a.model, weights=None, input_size=size, mode="frozen")
    t = time.perf_counter()
    ftr, fva = extract_features(model, train), extract_features(model, val)
    t_feat = time.perf_counter() - t
    head = transfer_parts(model)[2]
    cached = per_epoch(head, (ftr, train.labels), (fva, val.labels), a.epochs, a.batch_size)

    print(f"end-to-end, frozen base : {e2e:8.3f} s/epoch")
    print(f"head on cached features : {cached:8.3f} s/epoch   (+ {t_feat:.2f} s once to extract {ftr.shape[1]} features per face)")
    print(f"speed-up per epoch      : {e2e / cached:8.1f}x")
    be = t_feat / max(e2e - cached, 1e-9)
    print(f"caching pays for itself after {be:.1f} epochs; for 30 epochs: {30 * e2e:.1f} s vs {t_feat + 30 * cached:.1f} s "
          f"({30 * e2e / (t_feat + 30 * cached):.1f}x)")
