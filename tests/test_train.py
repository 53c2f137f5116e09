"""fer_nbdev.train: fitting lowers the loss, the options work, evaluation matches sklearn, TTA is exact, runs are recorded and reload."""
import json, os, subprocess, sys, textwrap
import numpy as np
import pytest
import keras
from sklearn.metrics import accuracy_score, f1_score
from fer_nbdev.data import EMOTIONS, load_sample, split_usage
from fer_nbdev.augment import RandomCenterCrop
from fer_nbdev.models import cnn7
from fer_nbdev.results import REQUIRED_FIELDS, score
from fer_nbdev import train as T


@pytest.fixture(scope="module")
def splits():
    return split_usage(load_sample())


def tiny(crop=None, seed=0):
    "A small CNN that trains in a second: rescaling, optional crop, one conv, softmax."
    T.set_seed(seed)
    inp = keras.Input((48, 48, 1))
    h = keras.layers.Rescaling(1 / 255)(inp)
    if crop: h = RandomCenterCrop(crop, seed=seed)(h)
    h = keras.layers.Conv2D(8, 3, activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inp, keras.layers.Dense(7, activation="softmax")(h))


@pytest.fixture(scope="module")
def trained(splits):
    m = tiny()
    T.fit(m, splits.train, splits.val, epochs=2, batch_size=32, verbose=0)
    return m


def test_fit_lowers_the_loss_on_real_faces(splits):
    "cnn7 without augmentation or dropout, a few dozen steps on 64 real faces: the training-mode loss falls."
    faces = splits.train[np.arange(64)]
    m = cnn7(dropout=0, dense_dropout=0, seed=0)
    ce = keras.losses.CategoricalCrossentropy()
    loss = lambda: float(ce(T.one_hot(faces.labels), m(faces.x.astype("float32"), training=True)))
    before = loss()
    h = T.fit(m, faces, faces, epochs=8, batch_size=16, patience=100, verbose=0)
    assert loss() < 0.7 * before, (before, loss(), h.history["loss"])
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_fit_keeps_the_best_epoch(splits):
    m = tiny()
    h = T.fit(m, splits.train, splits.val, epochs=4, batch_size=32, verbose=0, learning_rate=3e-3)
    acc = m.evaluate(splits.val.x, T.one_hot(splits.val.labels), verbose=0)[1]
    assert acc == pytest.approx(max(h.history["val_accuracy"]), abs=1e-6)


@pytest.mark.parametrize("kw", [
    dict(optimizer="sgd", learning_rate=0.01, schedule="cosine", warmup_epochs=1),
    dict(optimizer="adamw", weight_decay=1e-3, class_weight=True, label_smoothing=0.1),
    dict(optimizer="adam", schedule="constant", weight_decay=1e-4),
])
def test_fit_options_run(splits, kw):
    m = tiny()
    h = T.fit(m, splits.train, splits.val, epochs=2, batch_size=32, verbose=0, **kw)
    assert len(h.epoch) == 2 and np.isfinite(h.history["loss"]).all()


def test_schedules(splits):
    # plateau + warm-up: linear per epoch up to the target, then the target
    m = tiny()
    h = T.fit(m, splits.train, splits.val, epochs=4, batch_size=32, verbose=0, learning_rate=0.003, warmup_epochs=2, lr_patience=10)
    np.testing.assert_allclose(h.history["learning_rate"], [0.001, 0.002, 0.003, 0.003], rtol=1e-5)
    # cosine decays to zero by the last step
    m = tiny()
    T.fit(m, splits.train, splits.val, epochs=2, batch_size=32, verbose=0, schedule="cosine", learning_rate=0.01)
    assert float(keras.ops.convert_to_numpy(m.optimizer.learning_rate)) == pytest.approx(0, abs=1e-6)
    with pytest.raises(ValueError, match="schedule"): T.fit(tiny(), splits.train, splits.val, epochs=1, schedule="step")
    with pytest.raises(ValueError, match="optimizer"): T.fit(tiny(), splits.train, splits.val, epochs=1, optimizer="rmsprop")


def test_class_weights():
    from sklearn.utils.class_weight import compute_class_weight
    y = load_sample().labels[:100]
    np.testing.assert_allclose(T.balanced_class_weights(y), compute_class_weight("balanced", classes=np.arange(7), y=y))
    w = T.balanced_class_weights(np.array([0, 0, 1]))
    np.testing.assert_allclose(w, [0.75, 1.5, 1, 1, 1, 1, 1])


def test_mixed_precision_switches_and_restores(splits):
    "Forced on (a CPU has no use for it, but it must work): float16 compute during fit, float32 after, loss scaling."
    m = tiny()
    seen = []
    class Probe(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None): seen.append(self.model.layers[2].compute_dtype)
    h = T.fit(m, splits.train, splits.val, epochs=1, batch_size=32, verbose=0, mixed_precision=True, callbacks=[Probe()])
    assert seen == ["float16"] and np.isfinite(h.history["loss"]).all()
    assert isinstance(m.optimizer, keras.optimizers.LossScaleOptimizer)
    assert {l.compute_dtype for l in m.layers} == {"float32"}
    assert T.use_mixed_precision("auto") is False          # no GPU here
    m2 = tiny()
    T.fit(m2, splits.train, splits.val, epochs=1, batch_size=32, verbose=0)
    assert not isinstance(m2.optimizer, keras.optimizers.LossScaleOptimizer)


def test_checkpoint(splits, tmp_path):
    m = tiny()
    T.fit(m, splits.train, splits.val, epochs=2, batch_size=32, verbose=0, checkpoint_path=tmp_path / "best.keras")
    loaded = keras.saving.load_model(tmp_path / "best.keras")
    np.testing.assert_allclose(loaded.predict(splits.val.x, verbose=0), m.predict(splits.val.x, verbose=0), atol=1e-6)


def test_evaluate_matches_sklearn(trained, splits):
    m = T.evaluate(trained, splits.test)
    proba = trained.predict(splits.test.x, verbose=0)
    pred = proba.argmax(1)
    assert m["accuracy"] == pytest.approx(accuracy_score(splits.test.labels, pred))
    assert m["macro_f1"] == pytest.approx(f1_score(splits.test.labels, pred, average="macro", labels=range(7), zero_division=0))
    assert m["confusion"] == score(splits.test.labels, proba)["confusion"]
    assert T.evaluate(trained, (splits.test.x, splits.test.labels))["accuracy"] == m["accuracy"]


def test_flip_tta_is_the_mean_of_face_and_mirror(trained, splits):
    x = splits.test.x
    expected = (trained.predict(x, verbose=0) + trained.predict(x[:, :, ::-1], verbose=0)) / 2
    np.testing.assert_allclose(T.predict_proba(trained, splits.test, tta="flip"), expected, atol=1e-6)
    np.testing.assert_allclose(T.predict_proba(trained, x), trained.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="RandomCenterCrop"): T.predict_proba(trained, x, tta="tencrop")
    with pytest.raises(ValueError, match="tta"): T.predict_proba(trained, x, tta="rotate")


@pytest.mark.parametrize("c", [40, 44, 45])
def test_ten_crops_are_exactly_the_corner_and_centre_crops_and_mirrors(splits, c):
    x = splits.test.x[:5]
    e = 48 - c
    assert T.crop_boxes(48, c) == [(0, 0), (0, e), (e, 0), (e, e), (e // 2, e // 2)]
    views = list(T.tta_views(x, "tencrop", crop=c))
    assert len(views) == 10 and all(v.shape == x.shape and v.dtype == x.dtype for v in views)
    # what a RandomCenterCrop(c) model sees of each view at inference...
    inp = keras.Input((48, 48, 1))
    seen = [keras.Model(inp, RandomCenterCrop(c)(inp)).predict(v.astype("float32"), verbose=0).astype(np.uint8) for v in views]
    # ...is exactly the five crops of the face and the five of its mirror image, once each
    crops = [x[:, t:t + c, l:l + c] for t, l in T.crop_boxes(48, c)]
    wanted = crops + [cr[:, :, ::-1] for cr in crops]
    # (views come in pairs: crop i, then its mirror image)
    assert [[np.array_equal(s, w) for w in wanted].index(True) for s in seen] == [0, 5, 1, 6, 2, 7, 3, 8, 4, 9]
    # the rest of each canvas is blank
    o = e // 2
    for v in views:
        border = v.copy(); border[:, o:o + c, o:o + c] = 0
        assert not border.any()


def test_tencrop_prediction_is_the_mean_over_the_views(splits):
    m = tiny(crop=44)
    T.fit(m, splits.train, splits.val, epochs=1, batch_size=32, verbose=0)
    assert T.crop_size(m) == 44 and T.crop_size(tiny()) is None
    x = splits.test.x
    expected = np.mean([m.predict(v, verbose=0) for v in T.tta_views(x, "tencrop", crop=44)], axis=0)
    np.testing.assert_allclose(T.predict_proba(m, x, tta="tencrop"), expected, atol=1e-6)
    # "auto": ten-crop for this crop-trained model, flip for one without a crop layer
    np.testing.assert_allclose(T.predict_proba(m, x, tta="auto"), expected, atol=1e-6)
    plain = tiny()
    np.testing.assert_allclose(T.predict_proba(plain, x, tta="auto"), T.predict_proba(plain, x, tta="flip"), atol=1e-6)
    assert not np.allclose(T.predict_proba(plain, x, tta="flip"), T.predict_proba(plain, x), atol=1e-6)   # flip is not a no-op here


def test_run_experiment_records_everything_and_the_model_reloads(splits, tmp_path):
    m = tiny(crop=44)
    model, history, path = T.run_experiment("tiny", m, splits, fit_kwargs=dict(epochs=2, batch_size=32, verbose=0),
                                            tta="tencrop", results_dir=tmp_path / "results", model_dir=tmp_path / "models",
                                            profile="test", extra={"note": "unit test"})
    assert path == tmp_path / "results" / "test-tiny.json"
    rec = json.loads(path.read_text())
    assert [k for k in REQUIRED_FIELDS if k not in rec] == []
    assert rec["run"] == "test-tiny" and rec["model"] == "tiny" and rec["note"] == "unit test" and rec["tta"] == "tencrop"
    assert set(rec["metrics"]) == {"PublicTest", "PrivateTest", "PublicTest+tta", "PrivateTest+tta"}
    assert rec["params"] == model.count_params() and rec["epochs"] == len(history.epoch) == len(rec["history"]["loss"])
    assert rec["data"]["n"] == len(splits.train) and rec["data"]["sha256"] == splits.train.checksum()
    assert rec["metrics"]["PrivateTest"] == json.loads(json.dumps(T.evaluate(model, splits.test)))
    assert rec["metrics"]["PrivateTest+tta"]["accuracy"] == pytest.approx(T.evaluate(model, splits.test, tta="tencrop")["accuracy"])
    assert rec["model_path"] == str(tmp_path / "models" / "test-tiny.keras")
    loaded = keras.saving.load_model(rec["model_path"])
    np.testing.assert_allclose(loaded.predict(splits.test.x, verbose=0), model.predict(splits.test.x, verbose=0), atol=1e-6)
    np.testing.assert_allclose(T.predict_proba(loaded, splits.test, tta="tencrop"), T.predict_proba(model, splits.test, tta="tencrop"), atol=1e-6)


def test_run_experiment_on_arrays(splits, tmp_path):
    "Cached features or any (x, y) arrays: the data record is a checksum of them."
    from fer_nbdev.data import Splits
    arrays = Splits(*((s.x, s.labels) for s in (splits.train, splits.val, splits.test)), names=("train", "val", "test"))
    fit_kwargs = dict(epochs=1, verbose=0, checkpoint_path=tmp_path / "best.keras", callbacks=[keras.callbacks.TerminateOnNaN()])
    _, _, path = T.run_experiment("arr", tiny(), arrays, fit_kwargs=fit_kwargs, results_dir=tmp_path, model_dir=tmp_path,
                                  extra={"tta": "ignored-by-nobody"})
    rec = json.loads(path.read_text())
    assert set(rec["metrics"]) == {"val", "test"} and rec["data"]["source"] == "arrays" and rec["data"]["n"] == len(splits.train)
    # parameters that JSON cannot hold are recorded by name; `extra` may override the standard extra fields
    assert rec["parameters"]["checkpoint_path"] == str(tmp_path / "best.keras") and "TerminateOnNaN" in rec["parameters"]["callbacks"][0]
    assert rec["tta"] == "ignored-by-nobody" and (tmp_path / "best.keras").exists()


def test_plots(trained, splits):
    import matplotlib; matplotlib.use("Agg")
    fig = T.plot_history({"loss": [2, 1.5], "val_loss": [2.1, 1.8], "accuracy": [.2, .3], "val_accuracy": [.2, .25]}, title="t")
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    ax = T.plot_confusion(T.evaluate(trained, splits.test))
    assert [t.get_text() for t in ax.get_xticklabels()] == list(EMOTIONS)


JAX_SMOKE = textwrap.dedent(r'''
    import json, tempfile, numpy as np, keras
    from fer_nbdev.data import load_sample, split_usage
    from fer_nbdev.models import build_model
    from fer_nbdev import train as T
    from fer_nbdev.results import REQUIRED_FIELDS
    assert keras.backend.backend() == "jax"
    s = split_usage(load_sample())
    s = s._replace(train=s.train[np.arange(64)])
    T.set_seed(0)
    m = build_model("cnn7", augment=True, crop=44, seed=0)
    d = tempfile.mkdtemp()
    model, h, path = T.run_experiment("cnn7-jax", m, s, fit_kwargs=dict(epochs=1, batch_size=32, verbose=0),
                                      tta="tencrop", results_dir=d, model_dir=d)
    rec = json.loads(path.read_text())
    assert all(k in rec for k in REQUIRED_FIELDS) and rec["backend"] == "jax"
    p = T.predict_proba(model, s.test, tta="tencrop")
    assert p.shape == (len(s.test), 7) and np.allclose(p.sum(1), 1, atol=1e-5)
    loaded = keras.saving.load_model(rec["model_path"])
    assert np.allclose(loaded.predict(s.test.x, verbose=0), model.predict(s.test.x, verbose=0), atol=1e-5)
    print("OK jax", rec["metrics"]["PrivateTest"]["accuracy"])
''')


def test_jax_backend_smoke():
    "cnn7 with augmentation and crop: fit one epoch, record, predict with ten-crop TTA and reload, under KERAS_BACKEND=jax."
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([sys.executable, "-c", JAX_SMOKE], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "OK jax" in r.stdout, f"{r.stdout[-3000:]}\n{r.stderr[-6000:]}"


def test_resume_survives_a_backup_truncated_by_the_kill(splits, tmp_path):
    "A kill while the newest weights are written leaves them truncated: the fit resumes from the epoch before, and ends as if never stopped."
    kw = dict(epochs=4, batch_size=32, verbose=0, seed=0, schedule="cosine", patience=10, learning_rate=3e-3, mixup=0.2)
    straight = tiny(crop=44)
    h_straight = T.fit(straight, splits.train, splits.val, **kw)
    backup = tmp_path / "backup"
    with pytest.raises(RuntimeError, match="stopped after epoch 3"):
        T.fit(tiny(crop=44), splits.train, splits.val, backup_dir=backup, callbacks=[T._StopAfter(3)], **kw)
    assert T.backup_epoch(backup) == 2 and (backup / "latest.weights.h5.bkp").exists()
    w = backup / "latest.weights.h5"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 3])          # what a SIGKILL mid-write leaves
    resumed = tiny(crop=44)
    h = T.fit(resumed, splits.train, splits.val, backup_dir=backup, **kw)
    assert h.resumed_from == 1                                       # the previous epoch's backup
    assert h.epoch == h_straight.epoch
    np.testing.assert_allclose(h.history["val_loss"], h_straight.history["val_loss"], atol=1e-4)
    for a, b in zip(resumed.get_weights(), straight.get_weights()): np.testing.assert_allclose(a, b, atol=1e-4)


def test_distillation_from_a_finished_run_end_to_end(smoke_runs):
    "fer-run's smoke step 03_cnn-cnn4_distilled-usage trains cnn4 on its teacher's (the smoke cnn4 run's) probabilities, found by run name, and records the teacher."
    import json
    runs, results = smoke_runs
    rec = json.loads((results / "smoke-cnn4_distilled-usage.json").read_text())
    assert rec["model"] == "cnn4_distilled" and rec["parameters"]["teacher"] == "smoke-cnn4-usage" and rec["parameters"]["distill"] == 0.5
    out = (runs / "smoke" / "03_cnn-cnn4_distilled-usage.ipynb").read_text()
    assert "distilling smoke-cnn4-usage (weight 0.5, temperature 1.0)" in out
