"""fer_nbdev.predict: every input kind, box geometry on real faces at known places, batching, the CLI's outputs and exit codes."""
import contextlib, csv, io, json, os, shutil, subprocess, sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
cv2 = pytest.importorskip("cv2")
from PIL import Image
import matplotlib.cbook

from fer_nbdev.data import EMOTIONS, load_sample
from fer_nbdev import detect as D, runtime as R, predict as P
from fer_nbdev.detect import ImageError, load_image, to_gray, find_faces, crop_faces
from fer_nbdev.runtime import DEFAULT_MODEL, load_models
from fer_nbdev.predict import EmotionDetector, Face, annotate, main

HOPPER = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def test_opencv_has_the_haar_cascade():
    # OpenCV 5 removed cv2.CascadeClassifier: the project needs opencv-python-headless>=4.8,<5.
    assert hasattr(cv2, "CascadeClassifier"), f"OpenCV {cv2.__version__} has no CascadeClassifier: install opencv-python-headless<5"
    assert Path(cv2.data.haarcascades, D.CASCADE).is_file()


needs_haar = pytest.mark.skipif(not hasattr(cv2, "CascadeClassifier"), reason="OpenCV without Haar cascades (OpenCV 5)")


def iou(a, b):
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy)


def probs(faces):
    return np.array([[f.emotions[e] for e in EMOTIONS] for f in faces])


def canvas(shape, seed=0):
    "A smooth, slightly noisy background (no face-like structure)."
    rng = np.random.default_rng(seed)
    ramp = np.linspace(90, 150, shape[1], dtype=np.float32)[None, :] + np.linspace(0, 20, shape[0], dtype=np.float32)[:, None]
    return (ramp + rng.integers(-4, 5, shape, dtype=np.int8)).clip(0, 255).astype(np.uint8)


# --- fixtures -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    "A tiny model trained for seconds on the shipped sample (the behaviour tested here does not depend on its quality)."
    return R.demo_model(tmp_path_factory.mktemp("model") / "demo.keras", epochs=2, seed=0)


@pytest.fixture(scope="module")
def det(model_path):
    return EmotionDetector(model_path)


@pytest.fixture(scope="module")
def rgb():
    assert HOPPER.is_file(), "matplotlib's sample photo grace_hopper.jpg is missing"
    return load_image(HOPPER)


@pytest.fixture(scope="module")
def hopper_face(rgb):
    "Grace Hopper's face, cut from the portrait with a margin: (face image RGB, face box inside it)."
    (x, y, w, h), = find_faces(rgb)
    m = w // 3
    return rgb[y - m:y + h + m, x - m:x + w + m].copy(), (m, m, w, h)


# --- reading images -----------------------------------------------------------------------------------------------

def test_every_input_kind_gives_the_same_gray_pixels(rgb, tmp_path):
    gray = to_gray(HOPPER)
    assert gray.shape == rgb.shape[:2] and gray.dtype == np.uint8
    np.testing.assert_array_equal(gray, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    np.testing.assert_array_equal(to_gray(str(HOPPER)), gray)
    np.testing.assert_array_equal(to_gray(Image.open(HOPPER)), gray)
    np.testing.assert_array_equal(to_gray(rgb[..., ::-1].copy(), bgr=True), gray)
    np.testing.assert_array_equal(to_gray(np.dstack([rgb, np.zeros(gray.shape, np.uint8)])), gray)            # RGBA
    np.testing.assert_array_equal(to_gray(np.dstack([rgb[..., ::-1], np.zeros(gray.shape, np.uint8)]), bgr=True), gray)
    np.testing.assert_array_equal(to_gray(rgb.astype(np.uint16) * 257), gray)                                 # 16-bit
    np.testing.assert_array_equal(to_gray(gray[..., None]), gray)
    # files: gray, RGBA and 16-bit PNGs
    Image.fromarray(gray).save(tmp_path / "g.png")
    Image.fromarray(np.dstack([rgb, np.full(gray.shape, 128, np.uint8)])).save(tmp_path / "rgba.png")
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    for name in ("g.png", "rgba.png", "g16.png"):
        np.testing.assert_array_equal(to_gray(tmp_path / name), gray, err_msg=name)
    # the BGR flag matters for colour input
    assert (to_gray(rgb, bgr=True) != gray).mean() > 0.5


def test_16bit_scaling_and_floats():
    a16 = np.array([[0, 257, 65535, 32896]], np.uint16)
    np.testing.assert_array_equal(load_image(a16), [[0, 1, 255, 128]])
    np.testing.assert_array_equal(load_image(np.array([[0.0, 0.5, 1.0]])), [[0, 128, 255]])
    np.testing.assert_array_equal(load_image(np.array([[0, 100, 255]], np.int64)), [[0, 100, 255]])


def test_bad_inputs_raise_with_path_and_reason(tmp_path):
    with pytest.raises(ImageError, match="no such file"): load_image(tmp_path / "missing.jpg")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match="empty.png: empty file"): load_image(tmp_path / "empty.png")
    (tmp_path / "text.jpg").write_text("hello")
    with pytest.raises(ImageError, match="text.jpg: not an image"): load_image(tmp_path / "text.jpg")
    (tmp_path / "cut.jpg").write_bytes(HOPPER.read_bytes()[:4000])
    with pytest.raises(ImageError, match="cut.jpg: corrupt"): load_image(tmp_path / "cut.jpg")
    with pytest.raises(ImageError, match="H×W"): load_image(np.zeros((2, 5, 5, 5), np.uint8))
    with pytest.raises(ImageError, match="empty image"): load_image(np.zeros((0, 5), np.uint8))


# --- boxes ---------------------------------------------------------------------------------------------------------

@needs_haar
def test_box_of_a_real_face_pasted_at_a_known_place(hopper_face):
    face, (fx, fy, fw, fh) = hopper_face
    face = to_gray(face)
    img = canvas((700, 900))
    ox, oy = 530, 240
    img[oy:oy + face.shape[0], ox:ox + face.shape[1]] = face
    boxes = find_faces(img)
    assert len(boxes) == 1, boxes
    assert iou(boxes[0], (ox + fx, oy + fy, fw, fh)) > 0.5


@needs_haar
def test_fer_faces_pasted_into_a_canvas_are_found_where_they_were_put(model_path):
    det = EmotionDetector(model_path, detector="haar")             # Haar's boxes: the default detector's are in test_detect
    ds = load_sample()
    idx = [int(np.flatnonzero(ds.labels == k)[0]) for k in range(len(EMOTIONS))]
    img, pasted, size = canvas((520, 1400)), [], 150
    for i, k in enumerate(idx):                                   # upscaled: Haar does not look for 48-px faces
        x, y = 30 + i * (size + 40), 60 + (i % 2) * 200
        img[y:y + size, x:x + size] = cv2.resize(ds.images[k], (size, size), interpolation=cv2.INTER_CUBIC)
        pasted.append((x, y, size, size))
    found = det.detect_emotions(img)
    assert len(found) >= len(pasted) // 2                           # Haar misses about one FER face in four
    for f in found:                                                 # and every box is on a pasted face
        assert max(iou(f.box, p) for p in pasted) > 0.5, f.box
    xs = [f.box[0] for f in found]
    assert xs == sorted(xs)                                         # left to right


@needs_haar
def test_huge_image_boxes_are_in_original_coordinates(hopper_face):
    face, (fx, fy, fw, fh) = hopper_face
    k = 3                                                           # the face ≈ 670 px in a 6000×4000 image
    face = cv2.resize(to_gray(face), None, fx=k, fy=k, interpolation=cv2.INTER_LINEAR)
    img = canvas((4000, 6000))
    ox, oy = 4100, 2600
    img[oy:oy + face.shape[0], ox:ox + face.shape[1]] = face
    boxes = find_faces(img, max_side=1024)
    assert len(boxes) == 1, boxes
    assert iou(boxes[0], (ox + k * fx, oy + k * fy, k * fw, k * fh)) > 0.5
    assert boxes[0][0] + boxes[0][2] <= 6000 and boxes[0][1] + boxes[0][3] <= 4000


@needs_haar
def test_find_faces_from_several_threads_at_once(rgb, hopper_face):
    "A cv2.CascadeClassifier shared between threads crashes OpenCV: each thread must get its own."
    from concurrent.futures import ThreadPoolExecutor
    gray = to_gray(rgb)
    face = cv2.resize(to_gray(hopper_face[0]), None, fx=3, fy=3, interpolation=cv2.INTER_LINEAR)
    big = canvas((2400, 3000)); big[900:900 + face.shape[0], 1500:1500 + face.shape[1]] = face
    images = [gray, big] * 4
    want = [find_faces(im) for im in images]
    with ThreadPoolExecutor(4) as pool: got = list(pool.map(find_faces, images))
    for g, w in zip(got, want): np.testing.assert_array_equal(g, w)


def test_crop_faces_matches_the_training_preprocessing():
    gray = canvas((200, 300))
    x, y, w, h = 50, 40, 100, 100
    np.testing.assert_array_equal(crop_faces(gray, [(x, y, w, h)], padding=0)[0],
                                  cv2.resize(gray[y:y + h, x:x + w], (48, 48), interpolation=cv2.INTER_AREA))
    p = 0.1
    np.testing.assert_array_equal(crop_faces(gray, [(x, y, w, h)], padding=p)[0],
                                  cv2.resize(gray[y - 10:y + h + 10, x - 10:x + w + 10], (48, 48), interpolation=cv2.INTER_AREA))
    edge = crop_faces(gray, [(260, 170, 60, 60)], padding=0.2)     # past the corner: clipped, still a 48×48 face
    assert edge.shape == (1, 48, 48)                                # (42 px high after clipping: enlarged, linearly)
    np.testing.assert_array_equal(edge[0], cv2.resize(gray[158:200, 248:300], (48, 48), interpolation=cv2.INTER_LINEAR))


# --- the detector --------------------------------------------------------------------------------------------------

@needs_haar
def test_every_input_kind_gives_the_same_result(det, rgb, tmp_path):
    ref = det.detect_emotions(HOPPER)
    assert len(ref) == 1
    f = ref[0]
    assert list(f.emotions) == list(EMOTIONS) and abs(sum(f.emotions.values()) - 1) < 1e-4
    assert f.to_dict()["box"] == list(f.box) and f["emotions"] == f.to_dict()["emotions"]
    gray = to_gray(rgb)
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "g16.png")
    Image.fromarray(np.dstack([rgb, np.full(gray.shape, 200, np.uint8)])).save(tmp_path / "rgba.png")
    kinds = {"str": (str(HOPPER), {}), "PIL": (Image.open(HOPPER), {}), "gray": (gray, {}), "RGB": (rgb, {}),
             "BGR": (rgb[..., ::-1].copy(), {"bgr": True}), "RGBA": (np.dstack([rgb, gray]), {}),
             "16-bit": (rgb.astype(np.uint16) * 257, {}), "16-bit PNG": (tmp_path / "g16.png", {}),
             "RGBA PNG": (tmp_path / "rgba.png", {})}
    for name, (img, kw) in kinds.items():
        got = det.detect_emotions(img, **kw)
        assert [g.box for g in got] == [f.box], name
        np.testing.assert_allclose(probs(got), probs(ref), atol=1e-5, err_msg=name)


@needs_haar
def test_batch_agrees_with_single_and_calls_the_model_once_per_batch(model_path, det, rgb):
    ds = load_sample()
    img = canvas((300, 1100))
    for i, k in enumerate([int(np.flatnonzero(ds.labels == e)[0]) for e in (3, 5, 6)]):
        img[60:210, 40 + 350 * i:190 + 350 * i] = cv2.resize(ds.images[k], (150, 150), interpolation=cv2.INTER_CUBIC)
    images = [HOPPER, img, rgb[400:], rgb]
    small = EmotionDetector(det.models, batch_size=2)
    calls = []
    orig = small._predict_batch
    small._predict_batch = lambda x: calls.append(len(x)) or orig(x)
    batch = small.detect_emotions(images)
    n = sum(map(len, batch))
    assert n >= 3 and len(batch) == 4 and batch[2] == []           # rgb[400:] is her uniform: no face
    assert all(c <= 2 for c in calls) and sum(calls) == n and len(calls) == -(-n // 2)   # one call per 2 faces
    for got, image in zip(batch, images):
        single = det.detect_emotions(image)
        assert [f.box for f in got] == [f.box for f in single]
        if single: np.testing.assert_allclose(probs(got), probs(single), atol=1e-5)


def test_batch_counts_model_calls_exactly(det):
    ds = load_sample()
    d = EmotionDetector(det.models, batch_size=32)
    calls = []
    orig = d._predict_batch
    d._predict_batch = lambda x: calls.append(len(x)) or orig(x)
    out = d.detect_emotions(ds.images[:100], gray=True)              # a stack of FER faces: each is one face
    assert calls == [32, 32, 32, 4]
    assert [f[0].box for f in out] == [(0, 0, 48, 48)] * 100
    np.testing.assert_allclose(np.array([probs(f)[0] for f in out]), det.classify(ds.images[:100]), atol=1e-5)


def test_cropped_and_48px_inputs_skip_detection(det):
    ds = load_sample()
    face = ds.images[0]
    one = det.detect_emotions(face)                                 # 48×48: a face, whatever the cascade thinks
    assert len(one) == 1 and one[0].box == (0, 0, 48, 48)
    big = cv2.resize(face, (96, 96), interpolation=cv2.INTER_CUBIC)
    crop = det.detect_emotions(big, cropped=True)
    assert len(crop) == 1 and crop[0].box == (0, 0, 96, 96)
    np.testing.assert_allclose(probs(crop), det.classify(cv2.resize(big, (48, 48), interpolation=cv2.INTER_AREA)), atol=1e-5)


def test_no_face(det, rgb):
    assert det.detect_emotions(rgb[400:]) == []                     # a real photo region without a face
    assert det.top_emotion(canvas((300, 400))) is None


@needs_haar
def test_top_emotion_is_the_most_confident_face(det):
    name, p = det.top_emotion(HOPPER)
    f, = det.detect_emotions(HOPPER)
    assert name in EMOTIONS and p == max(f.emotions.values()) and f.emotions[name] == p


def test_ensemble_averages_probabilities(model_path, det):
    import keras
    from keras import layers
    keras.utils.set_random_seed(1)
    other = keras.Sequential([keras.Input((48, 48, 1)), layers.Rescaling(1 / 255), layers.Flatten(),
                              layers.Dense(len(EMOTIONS), activation="softmax")])     # a loaded keras.Model
    faces = load_sample().images[:20]
    ens = EmotionDetector([model_path, other])
    assert len(ens.models) == 2
    alone = EmotionDetector(other).classify(faces)
    np.testing.assert_allclose(ens.classify(faces), (det.classify(faces) + alone) / 2, atol=1e-5)
    assert np.abs(alone - det.classify(faces)).max() > 1e-3          # the two models do differ


def _with_trained_looking_batchnorms(model, seed=0):
    "Batch-norm statistics far from their initial values (as after training), so that folding them changes the weights."
    import keras
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, n), rng.normal(0, 0.3, n), rng.normal(0, 0.2, n), rng.uniform(0.2, 3, n)])
    return model


def _n_batchnorms(model):
    import keras
    return sum(isinstance(l, keras.layers.BatchNormalization) for l in model._flatten_layers())


def test_folded_batchnorms_give_the_same_probabilities(tmp_path):
    import keras
    from keras import layers
    models = pytest.importorskip("fer_nbdev.models")
    keras.utils.set_random_seed(0)
    cnn = _with_trained_looking_batchnorms(models.cnn7(augment=True, seed=0))
    cnn.save(tmp_path / "cnn7.keras")                              # saved and loaded, as EmotionDetector gets it
    inner = _with_trained_looking_batchnorms(keras.Sequential(
        [keras.Input((48, 48, 1)), layers.Rescaling(1 / 255), layers.Conv2D(8, 3), layers.BatchNormalization(),
         layers.Activation("relu"), layers.Flatten(), layers.Dense(16, use_bias=False), layers.BatchNormalization(),
         layers.Activation("relu"), layers.Dense(len(EMOTIONS), activation="softmax")]), seed=1)
    inp = keras.Input((48, 48, 1))
    nested = keras.Model(inp, inner(inp))                           # a Sequential inside a functional model
    faces = load_sample().images[:40]
    for model in (tmp_path / "cnn7.keras", nested):
        fast, plain = EmotionDetector(model, runtime="keras"), EmotionDetector(model, runtime="keras", fold_bn=False)
        original = plain.models[0]
        folded = fast._inference_models()[0]
        assert _n_batchnorms(original) > 0 and _n_batchnorms(folded) == 0 and plain._inference_models()[0] is original
        p = fast.classify(faces)
        np.testing.assert_allclose(p, plain.classify(faces), atol=1e-5)
        np.testing.assert_allclose(p, np.asarray(original.predict_on_batch(faces[..., None])), atol=1e-5)
        assert np.abs(p - 1 / len(EMOTIONS)).max() > 0.01           # not a trivially uniform output
        # batches agree with single faces through the folded model too
        np.testing.assert_allclose(np.concatenate([fast.classify(f) for f in faces[:5]]), p[:5], atol=1e-5)
    # the detector refolds when its models are replaced
    d = EmotionDetector(nested, runtime="keras")
    d.models = [inner]
    assert _n_batchnorms(d._inference_models()[0]) == 0
    np.testing.assert_allclose(d.classify(faces[:4]), np.asarray(inner.predict_on_batch(faces[:4, ..., None])), atol=1e-5)


def test_fold_batchnorm_leaves_alone_what_it_cannot_fold():
    import keras
    from keras import layers
    keras.utils.set_random_seed(0)
    after_relu = _with_trained_looking_batchnorms(keras.Sequential(   # batch norm after the activation: not foldable
        [keras.Input((48, 48, 1)), layers.Rescaling(1 / 255), layers.Conv2D(8, 3, activation="relu"),
         layers.BatchNormalization(), layers.Flatten(), layers.Dense(len(EMOTIONS), activation="softmax")]))
    assert R.fold_batchnorm(after_relu) is after_relu
    conv_bn = _with_trained_looking_batchnorms(keras.Sequential(
        [keras.Input((48, 48, 1)), layers.Rescaling(1 / 255), layers.Conv2D(8, 3), layers.BatchNormalization(),
         layers.Activation("relu"), layers.Flatten(), layers.Dense(len(EMOTIONS), activation="softmax")]))
    assert R.fold_batchnorm(conv_bn) is not conv_bn
    assert R.fold_batchnorm(conv_bn, atol=0) is conv_bn             # a copy that is not exact enough is not used


def test_model_errors(tmp_path):
    import keras
    from keras import layers
    with pytest.raises(FileNotFoundError, match="no such model"): load_models(tmp_path / "nope.keras")
    logits = keras.Sequential([keras.Input((48, 48, 1)), layers.Flatten(), layers.Dense(7)])
    with pytest.raises(ValueError, match="softmax"): load_models(logits)
    wrong = keras.Sequential([keras.Input((64, 64, 1)), layers.Flatten(), layers.Dense(7, activation="softmax")])
    with pytest.raises(ValueError, match="48"): load_models(wrong)
    (tmp_path / "bad.keras").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.keras: cannot load"): load_models(tmp_path / "bad.keras")


def test_packaged_models_by_name(model_path, tmp_path, monkeypatch):
    "A packaged model is picked by its name (here a stand-in file); a name this install does not ship is a clear error, and fer-predict takes the name too."
    monkeypatch.setitem(R.PACKAGED_MODELS, "fast", tmp_path / "fer_fast.keras")
    with pytest.raises(FileNotFoundError, match="'fast' .*fer_fast.keras.* not in this install"): load_models("fast")
    assert main([str(HOPPER), "--model", "fast", "--quiet", "--detector", "blazeface"]) == 2
    import shutil
    shutil.copy(model_path, tmp_path / "fer_fast.keras")
    [m] = load_models("fast")
    x = load_sample().images[:4][..., None]
    np.testing.assert_allclose(m.predict_on_batch(x), load_models(model_path)[0].predict_on_batch(x), atol=1e-6)
    assert main([str(HOPPER), "--model", "fast", "--quiet", "--json", str(tmp_path / "out.json")]) == 0


def test_default_model():
    if DEFAULT_MODEL.is_file():
        d = EmotionDetector()
        p = d.classify(load_sample().images[:8])
        assert p.shape == (8, len(EMOTIONS)) and np.allclose(p.sum(1), 1, atol=1e-4)
    else:
        with pytest.raises(FileNotFoundError, match="--model"): EmotionDetector()


@needs_haar
def test_annotate_draws_on_a_copy(det, rgb):
    faces = det.detect_emotions(rgb)
    out = annotate(rgb, faces)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    x, y, w, h = faces[0].box
    assert (out[y + h // 2, x] != rgb[y + h // 2, x]).any()          # the box's left edge is drawn
    np.testing.assert_array_equal(out[-20:, :50], rgb[-20:, :50])    # far from it, nothing changes
    assert annotate(to_gray(rgb), faces).shape == rgb.shape           # gray in, colour boxes out


# --- the command line ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def folder(tmp_path_factory, rgb):
    d = tmp_path_factory.mktemp("photos")
    (d / "sub" / "deeper").mkdir(parents=True)
    shutil.copy(HOPPER, d / "hopper.jpg")
    gray = to_gray(rgb)
    Image.fromarray(gray).save(d / "sub" / "gray.png")
    Image.fromarray(np.dstack([rgb, np.full(gray.shape, 255, np.uint8)])).save(d / "sub" / "rgba.png")
    Image.fromarray(gray.astype(np.uint16) * 257).save(d / "sub" / "deeper" / "g16.png")
    Image.fromarray(rgb[400:]).save(d / "noface.jpg")
    (d / "readme.txt").write_text("not an image extension: skipped in folders")
    return d


def run_cli(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@needs_haar
def test_cli_good_files_exit_0_with_json_csv_and_annotations(folder, model_path, tmp_path):
    code, out, err = run_cli([folder, "--model", model_path, "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv",
                              "--annotate", tmp_path / "ann"])
    assert code == 0, err
    recs = json.loads((tmp_path / "r.json").read_text())
    names = sorted(Path(r["file"]).name for r in recs)
    assert names == ["g16.png", "gray.png", "hopper.jpg", "noface.jpg", "rgba.png"]
    by = {Path(r["file"]).name: r for r in recs}
    assert by["noface.jpg"]["status"] == "no face" and by["noface.jpg"]["faces"] == []
    for n in ("g16.png", "gray.png", "hopper.jpg", "rgba.png"):
        r = by[n]
        assert r["status"] == "ok" and r["error"] is None and len(r["faces"]) == 1
        f = r["faces"][0]
        assert f["top_emotion"] == max(f["emotions"], key=f["emotions"].get) and list(f["emotions"]) == list(EMOTIONS)
    assert by["g16.png"]["faces"] == by["gray.png"]["faces"]
    # the table: one line per face, and the no-face file
    assert "hopper.jpg" in out and "no face" in out and by["hopper.jpg"]["faces"][0]["top_emotion"] in out
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert len(rows) == 5 and {r["status"] for r in rows} == {"ok", "no face"} and all(r["error"] == "" for r in rows)
    h = next(r for r in rows if r["file"].endswith("hopper.jpg"))
    assert [int(h[k]) for k in "xywh"] == by["hopper.jpg"]["faces"][0]["box"]
    assert abs(sum(float(h[e]) for e in EMOTIONS) - 1) < 1e-3
    # annotated copies, mirroring the folder, same size as the originals
    ann = sorted(p.relative_to(tmp_path / "ann").as_posix() for p in (tmp_path / "ann").rglob("*.*"))
    root = folder.name
    assert ann == sorted(f"{root}/{p}" for p in ["hopper.jpg", "noface.jpg", "sub/gray.png", "sub/rgba.png", "sub/deeper/g16.png"])
    assert Image.open(tmp_path / "ann" / root / "hopper.jpg").size == Image.open(HOPPER).size


@needs_haar
def test_cli_bad_files_are_reported_and_do_not_stop_the_others(folder, model_path, tmp_path):
    bad = tmp_path / "bad"; bad.mkdir()
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "corrupt.jpg").write_bytes(HOPPER.read_bytes()[:3000])
    (bad / "text.png").write_text("hello")
    shutil.copy(HOPPER, bad / "zz_good.jpg")                         # after the bad ones, still processed
    code, out, err = run_cli([bad, folder / "hopper.jpg", tmp_path / "missing.jpg", "--model", model_path,
                              "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv"])
    assert code == 1
    for path in (bad / "empty.jpg", bad / "corrupt.jpg", bad / "text.png", tmp_path / "missing.jpg"):
        assert str(path) in err                                     # every failure named with its path
    recs = {Path(r["file"]).name: r for r in json.loads((tmp_path / "r.json").read_text())}
    assert {k: r["status"] for k, r in recs.items()} == {"empty.jpg": "error", "corrupt.jpg": "error", "text.png": "error",
                                                         "zz_good.jpg": "ok", "hopper.jpg": "ok", "missing.jpg": "error"}
    assert "empty" in recs["empty.jpg"]["error"] and "not an image" in recs["text.png"]["error"]
    assert "corrupt" in recs["corrupt.jpg"]["error"] and "no such file" in recs["missing.jpg"]["error"]
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    errs = {Path(r["file"]).name: r["error"] for r in rows if r["status"] == "error"}
    assert set(errs) == {"empty.jpg", "corrupt.jpg", "text.png", "missing.jpg"} and all(errs.values())


def test_cli_usage_errors_exit_2(model_path, tmp_path):
    assert run_cli([])[0] == 2
    assert run_cli(["--no-such-option", tmp_path])[0] == 2
    code, _, err = run_cli([tmp_path, "--model", tmp_path / "nope.keras"])
    assert code == 2 and "nope.keras" in err
    assert run_cli(["--help"])[0] == 0


def test_cli_cropped_faces_and_ensemble(model_path, tmp_path):
    ds = load_sample()
    d = tmp_path / "faces"; d.mkdir()
    for i in range(5): Image.fromarray(cv2.resize(ds.images[i], (96, 96))).save(d / f"f{i}.png")
    code, out, err = run_cli([d, "--cropped", "--model", model_path, "--model", model_path, "--json", tmp_path / "r.json", "--quiet"])
    assert code == 0 and out == ""
    recs = json.loads((tmp_path / "r.json").read_text())
    assert len(recs) == 5 and all(len(r["faces"]) == 1 and r["faces"][0]["box"] == [0, 0, 96, 96] for r in recs)


def test_cli_flip_tta_averages_each_face_with_its_mirror(model_path, tmp_path):
    "`--tta flip`: each face's probabilities are the mean of the face's and its mirror image's; an unknown TTA, or ten crops for a model trained without crops, is a usage error."
    ds = load_sample()
    d = tmp_path / "faces"; d.mkdir()
    for i in range(4): Image.fromarray(ds.images[i]).save(d / f"f{i}.png")
    for name, extra in (("plain", []), ("flip", ["--tta", "flip"])):
        assert run_cli([d, "--cropped", "--model", model_path, "--json", tmp_path / f"{name}.json", "--quiet", *extra])[0] == 0
    probs = lambda n: np.array([list(r["faces"][0]["emotions"].values()) for r in json.loads((tmp_path / f"{n}.json").read_text())])
    mirrored = EmotionDetector(model_path).classify(ds.images[:4, :, ::-1])
    np.testing.assert_allclose(probs("flip"), (probs("plain") + mirrored) / 2, atol=1e-4)
    assert run_cli([d, "--cropped", "--model", model_path, "--tta", "mirror"])[0] == 2
    code, _, err = run_cli([d, "--cropped", "--model", model_path, "--tta", "tencrop"])   # the demo model saw no crops
    assert code == 2 and "no crop layer" in err, err


def test_cli_tencrop_tta_scores_a_crop_trained_model_as_its_evaluation_does(tmp_path):
    "`--model fast --tta tencrop` (and `auto`, which picks ten crops for it): the probabilities of `train.predict_proba(tta='tencrop')`."
    from fer_nbdev.train import predict_proba
    ds = load_sample()
    d = tmp_path / "faces"; d.mkdir()
    for i in range(4): Image.fromarray(ds.images[i]).save(d / f"f{i}.png")
    want = predict_proba(R.load_models("fast")[0], ds.images[:4, ..., None], tta="tencrop")
    for tta in ("tencrop", "auto"):
        assert run_cli([d, "--cropped", "--model", "fast", "--tta", tta, "--json", tmp_path / f"{tta}.json", "--quiet"])[0] == 0
        got = np.array([list(r["faces"][0]["emotions"].values()) for r in json.loads((tmp_path / f"{tta}.json").read_text())])
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_cli_huge_image_beyond_pillow_limit_is_an_error_not_a_crash(model_path, tmp_path, monkeypatch):
    Image.fromarray(canvas((600, 800))).save(tmp_path / "big.png")
    Image.fromarray(canvas((60, 80))).save(tmp_path / "small.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)          # 480,000 px > 2 × the limit: a decompression bomb
    code, out, err = run_cli([tmp_path, "--model", model_path, "--json", tmp_path / "r.json"])
    assert code == 1 and "big.png" in err and "too large" in err
    recs = {Path(r["file"]).name: r["status"] for r in json.loads((tmp_path / "r.json").read_text())}
    assert recs == {"big.png": "error", "small.png": "no face"}


def test_cli_as_a_process(model_path, tmp_path):
    "The real exit code through a process (the `fer-predict` console script calls the same `main`)."
    (tmp_path / "x.jpg").write_text("junk")
    exe = Path(sys.executable).parent / "fer-predict"
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-c", "import sys; from fer_nbdev.predict import main; sys.exit(main())"]
    r = subprocess.run(cmd + [str(tmp_path / "x.jpg"), "--model", str(model_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and str(tmp_path / "x.jpg") in r.stderr


def test_missing_input_fails_before_any_model_loads(tmp_path):
    "Issue 39: `fer-predict missing.jpg` says so at once: no model, no TensorFlow, no Keras loaded; exit code 1, the error per file."
    code = ("import sys, time; t = time.time(); from fer_nbdev.predict import main; "
            f"rc = main([{str(tmp_path / 'missing.jpg')!r}, {str(tmp_path / 'gone.png')!r}, '--json', {str(tmp_path / 'r.json')!r}]); "
            "print(rc, 'tensorflow' in sys.modules, 'keras' in sys.modules, round(time.time() - t, 2))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    rc, tf, keras, _ = r.stdout.split()
    assert (rc, tf, keras) == ("1", "False", "False"), r.stdout + r.stderr
    assert "missing.jpg: no such file or folder" in r.stderr and "2 failed" in r.stderr
    recs = json.loads((tmp_path / "r.json").read_text())
    assert [(Path(x["file"]).name, x["status"]) for x in recs] == [("missing.jpg", "error"), ("gone.png", "error")]
