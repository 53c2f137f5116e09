"""Throughput of on-the-fly augmentation (fer_nbdev.augment) per Keras backend, and its cost relative to a training step.

For each installed backend (a subprocess each: the backend is fixed per process) it times, on batches of 48×48×1 faces:
  - the augmentation alone (default pipeline, and with a 44-px random crop) inside a compiled training step of a
    model that is only augmentation + pooling + a 7-way dense layer: images/s of augmentation;
  - a cnn7 training step with and without the default augmentation: the ratio is what on-the-fly augmentation adds
    to training, and the per-epoch numbers are for the 28,709 FER2013 training faces.
Prints, never asserts.  Usage: python benchmarks/bench_augment.py [--batch 128] [--steps 20] [--backends tensorflow,jax]
"""
import argparse, importlib.util, json, os, subprocess, sys, textwrap

CHILD = textwrap.dedent(r'''
    import json, sys, time
    import numpy as np, keras
    from fer_nbdev.augment import augmentation
    from fer_nbdev.models import cnn7
    from fer_nbdev.data import load_sample
    batch, steps = int(sys.argv[1]), int(sys.argv[2])
    faces = load_sample().x
    x = np.resize(faces, (batch, 48, 48, 1)).astype("float32")        # raw 0-255 pixels, what the models take
    y = np.eye(7, dtype="float32")[np.resize(load_sample().labels, batch)]

    def step_time(model):
        "Median seconds of a compiled training step on one batch (after warm-up steps that compile it)."
        model.compile("adam", "categorical_crossentropy")
        for _ in range(3): model.train_on_batch(x, y)
        ts = []
        for _ in range(steps):
            t = time.perf_counter(); model.train_on_batch(x, y); ts.append(time.perf_counter() - t)
        return float(np.median(ts))

    def aug_only(aug):
        inp = keras.Input((48, 48, 1))
        h = keras.layers.Rescaling(1 / 255)(inp)
        h = keras.layers.GlobalAveragePooling2D()(aug(h) if aug is not None else h)
        return keras.Model(inp, keras.layers.Dense(7, activation="softmax")(h))

    keras.utils.set_random_seed(0)
    base = step_time(aug_only(None))                                   # the step's fixed cost without augmentation
    out = {"backend": keras.backend.backend(), "batch": batch}
    for name, aug in (("aug", augmentation(seed=0)), ("aug+crop44", augmentation(crop=44, seed=0))):
        t = step_time(aug_only(aug))
        out[name + "_img_s"] = batch / max(t - base, 1e-9)
        out[name + "_step_s"] = t
    out["empty_step_s"] = base
    out["cnn7_step_s"] = step_time(cnn7(seed=0))
    out["cnn7_aug_step_s"] = step_time(cnn7(augment=True, seed=0))
    print("RESULT " + json.dumps(out))
''')


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--backends", default="tensorflow,jax,torch")
    a = ap.parse_args()
    n_train = 28_709
    print(f"augmentation throughput, batches of {a.batch} faces of 48x48x1, median of {a.steps} compiled steps")
    for backend in a.backends.split(","):
        if importlib.util.find_spec(backend) is None:
            print(f"{backend:>10}: not installed, skipped"); continue
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        r = subprocess.run([sys.executable, "-c", CHILD, str(a.batch), str(a.steps)], env=env, capture_output=True, text=True)
        line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
        if r.returncode or not line:
            print(f"{backend:>10}: failed\n{r.stderr[-2000:]}"); continue
        d = json.loads(line[0][7:])
        steps_per_epoch = -(-n_train // a.batch)
        extra = d["cnn7_aug_step_s"] - d["cnn7_step_s"]
        print(f"{backend:>10}: augmentation {d['aug_img_s']:,.0f} images/s, with 44-px crop {d['aug+crop44_img_s']:,.0f} images/s")
        print(f"{'':>10}  cnn7 training step: {d['cnn7_step_s'] * 1e3:.1f} ms without augmentation, "
              f"{d['cnn7_aug_step_s'] * 1e3:.1f} ms with it (x{d['cnn7_aug_step_s'] / d['cnn7_step_s']:.2f}; "
              f"augmentation = {max(extra, 0) / d['cnn7_aug_step_s']:.0%} of the step)")
        print(f"{'':>10}  per epoch of {n_train:,} faces: augmentation {n_train / d['aug_img_s']:.1f} s alone, "
              f"cnn7 epoch {steps_per_epoch * d['cnn7_step_s']:.0f} s -> {steps_per_epoch * d['cnn7_aug_step_s']:.0f} s with it; "
              f"ratio on-the-fly cost / training epoch = {(n_train / d['aug_img_s']) / (steps_per_epoch * d['cnn7_step_s']):.2f}")


if __name__ == "__main__":
    main()
