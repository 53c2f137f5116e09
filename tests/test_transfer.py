"Transfer models: gray→RGB, resize and preprocessing layers, heads, frozen/finetune parameters, cached features, ImageNet weights."
import json, os, subprocess, sys, textwrap
from pathlib import Path
import numpy as np
import pytest
import keras
from fer_nbdev.data import load_sample, split_usage
from fer_nbdev import transfer as T

SIZES = {"vgg16": 32, "resnet50": 32, "inceptionv3": 75}   # tiny inputs; InceptionV3's minimum is 75

@pytest.fixture(scope="module")
def models():
    "Each architecture built once (random init, explicitly), frozen."
    keras.utils.set_random_seed(0)
    return {n: T.build_transfer(n, weights=None, input_size=s) for n, s in SIZES.items()}

@pytest.fixture(scope="module")
def splits():
    return split_usage(load_sample())

@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    "An empty Keras cache, and any download attempt is a failure."
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    def no_download(*a, **k): raise AssertionError(f"a download was attempted: {a} {k}")
    import keras.src.utils.file_utils as fu
    monkeypatch.setattr(fu, "get_file", no_download)
    monkeypatch.setattr(keras.utils, "get_file", no_download)
    return tmp_path / "keras"

def sub(model, layer):
    "The model from raw faces up to `layer`'s output."
    return keras.Model(model.input, model.get_layer(layer).output)

def faces(n=6, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48, 1)).astype("float32")

def as_np(x): return keras.ops.convert_to_numpy(x)

# --- layers -------------------------------------------------------------------------------------------------

def test_gray_to_rgb_repeats_the_channel_and_round_trips_config():
    x = faces(3)
    y = as_np(T.GrayToRGB()(x))
    assert y.shape == (3, 48, 48, 3)
    for c in range(3): np.testing.assert_array_equal(y[..., c], x[..., 0])
    layer = T.GrayToRGB.from_config(T.GrayToRGB(name="g").get_config())
    assert layer.name == "g" and layer.compute_output_shape((None, 48, 48, 1)) == (None, 48, 48, 3)

@pytest.mark.parametrize("mode,ref", [("caffe", keras.applications.vgg16.preprocess_input),
                                      ("caffe", keras.applications.resnet50.preprocess_input),
                                      ("tf", keras.applications.inception_v3.preprocess_input)])
def test_preprocess_layer_matches_keras_preprocess_input_on_colour_images(mode, ref):
    x = np.random.default_rng(1).uniform(0, 255, (2, 5, 5, 3)).astype("float32")
    np.testing.assert_allclose(as_np(T.ImagenetPreprocess(mode)(x)), ref(x.copy()), atol=1e-4)
    with pytest.raises(ValueError, match="mode must be"): T.ImagenetPreprocess("bgr")

@pytest.mark.parametrize("name", list(SIZES))
def test_resize_and_preprocess_inside_the_model(models, name):
    m, size = models[name], SIZES[name]
    x = faces(2)
    rgb = as_np(sub(m, "gray_to_rgb")(x))
    resized = as_np(sub(m, "resize")(x))
    assert resized.shape == (2, size, size, 3)
    np.testing.assert_allclose(resized, as_np(keras.ops.image.resize(rgb, (size, size))), atol=1e-3)
    const = np.full((1, 48, 48, 1), 200.0, "float32")            # a constant face stays constant through the resize
    np.testing.assert_allclose(as_np(sub(m, "resize")(const)), 200.0, atol=1e-3)
    ref = getattr(keras.applications, {"vgg16": "vgg16", "resnet50": "resnet50", "inceptionv3": "inception_v3"}[name]).preprocess_input
    np.testing.assert_allclose(as_np(sub(m, "preprocess")(x)), ref(resized.copy()), atol=1e-3)

# --- heads and trainable parameters -------------------------------------------------------------------------

HEADS = {"vgg16": ([32, 32, 32], 3, 512), "resnet50": ([64], 0, 2048), "inceptionv3": ([256], 0, 2048)}

@pytest.mark.parametrize("name", list(SIZES))
def test_heads_are_the_studys(models, name):
    m = models[name]
    head = m.get_layer("head")
    units, n_bn, n_features = HEADS[name]
    assert head.input_shape == (None, n_features)
    dense = [l for l in head.layers if isinstance(l, keras.layers.Dense)]
    assert [d.units for d in dense] == units + [7]
    assert dense[-1].activation is keras.activations.softmax
    assert sum(isinstance(l, keras.layers.BatchNormalization) for l in head.layers) == n_bn
    assert [l.rate for l in head.layers if isinstance(l, keras.layers.Dropout)] == [0.5] * len(units)
    assert m.output_shape == (None, 7) and m.input_shape == (None, 48, 48, 1)

def n_params(ws): return int(sum(np.prod(w.shape) for w in ws))

@pytest.mark.parametrize("name", list(SIZES))
def test_trainable_parameters_frozen_vs_finetune(models, name):
    m = models[name]
    _, base, head = T.transfer_parts(m)
    try:
        T.set_mode(m, "frozen")
        frozen = T.param_counts(m)
        assert frozen["trainable"] == n_params(head.trainable_weights) > 0
        assert not base.trainable_weights
        T.set_mode(m, "finetune")
        tuned = T.param_counts(m)
        start = T.finetune_start(base, name)
        expect = sum(n_params(l.trainable_weights) for l in base.layers[start:]
                     if not isinstance(l, keras.layers.BatchNormalization))
        assert tuned["trainable"] == frozen["trainable"] + expect and expect > 0
        assert tuned["total"] == frozen["total"]
        assert not any(l.trainable_weights for l in base.layers[:start])
        assert not any(l.trainable for l in base.layers if isinstance(l, keras.layers.BatchNormalization))
        T.set_mode(m, "finetune", finetune_layers=3)               # an explicit count: the top 3 layers
        top3 = sum(n_params(l.trainable_weights) for l in base.layers[-3:])
        assert T.param_counts(m)["trainable"] == frozen["trainable"] + top3
        with pytest.raises(ValueError): T.set_mode(m, "finetune", finetune_layers=len(base.layers) + 1)
    finally:
        T.set_mode(m, "frozen")

def test_default_finetune_unfreezes_the_last_block(models):
    _, base, _ = T.transfer_parts(models["vgg16"])
    unfrozen = [l.name for l in base.layers[T.finetune_start(base, "vgg16"):]]
    assert unfrozen == ["block5_conv1", "block5_conv2", "block5_conv3", "block5_pool"]

def test_inception_needs_75_pixels():
    with pytest.raises(ValueError, match=">= 75"): T.build_transfer("inceptionv3", weights=None, input_size=48)
    with pytest.raises(ValueError, match="model_name"): T.build_transfer("vgg19", weights=None)

# --- training -----------------------------------------------------------------------------------------------

def test_cached_feature_training_equals_end_to_end_predictions(models, splits):
    m = models["vgg16"]
    head = m.get_layer("head")
    before = [w.copy() for w in head.get_weights()]
    info = T.train_transfer(m, splits.train, splits.val, mode="frozen", epochs=2, batch_size=32, fit_kwargs=dict(patience=5))
    assert info["head_epochs"] == 2 and info["finetune_epochs"] == 0
    assert any(not np.allclose(a, b) for a, b in zip(before, head.get_weights()))   # the head did train
    feats = T.extract_features(m, splits.test)
    assert feats.shape == (len(splits.test), 512)
    np.testing.assert_allclose(head.predict(feats, verbose=0), m.predict(splits.test.x, verbose=0), atol=1e-5)

def test_finetune_trains_the_top_keeps_bottom_and_batchnorm_fixed(models, splits):
    m = models["resnet50"]
    _, base, _ = T.transfer_parts(m)
    start = T.finetune_start(base, "resnet50")
    bns = [l for l in base.layers if isinstance(l, keras.layers.BatchNormalization)]
    top_conv = next(l for l in base.layers[start:] if isinstance(l, keras.layers.Conv2D))
    low_conv = next(l for l in base.layers[:start] if isinstance(l, keras.layers.Conv2D))
    snap = lambda ls: [v.copy() for l in ls for v in l.get_weights()]
    bn0, top0, low0 = snap(bns), snap([top_conv]), snap([low_conv])
    small = splits.train[:64]
    try:
        info = T.train_transfer(m, small, splits.val, mode="finetune", epochs=1, head_epochs=1, batch_size=32,
                                learning_rate=1e-3, fit_kwargs=dict(patience=5))
        assert info["finetune_epochs"] == 1 and len(info["history"]["loss"]) == 2
        assert all(np.array_equal(a, b) for a, b in zip(bn0, snap(bns)))      # moving statistics and gamma/beta untouched
        assert all(np.array_equal(a, b) for a, b in zip(low0, snap([low_conv])))
        assert any(not np.array_equal(a, b) for a, b in zip(top0, snap([top_conv])))
    finally:
        T.set_mode(m, "frozen")

# --- ImageNet weights ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SIZES))
def test_missing_imagenet_weights_fail_clearly_before_any_download(keras_home, name):
    spec = T.TRANSFER_MODELS[name]
    with pytest.raises(T.WeightsNotFoundError) as e:
        T.build_transfer(name, weights="imagenet", input_size=SIZES[name])
    msg = str(e.value)
    assert spec.weights_file in msg and str(keras_home / "models") in msg
    assert spec.weights_url in msg and spec.weights_url.startswith("https://storage.googleapis.com/tensorflow/keras-applications/")
    with pytest.raises(T.WeightsNotFoundError, match=spec.weights_file):
        T.build_transfer(name, weights="imagenet", weights_path=keras_home / "nowhere.h5", input_size=SIZES[name])

def test_random_init_must_be_explicit(keras_home):
    with pytest.raises(T.WeightsNotFoundError):           # the default is ImageNet, never a silent random base
        T.build_transfer("vgg16", input_size=32)
    assert T.normalize_weights("none") is None and T.normalize_weights("None") is None and T.normalize_weights(None) is None
    assert T.normalize_weights("imagenet") == "imagenet"
    with pytest.raises(ValueError, match="weights must be"): T.normalize_weights("/some/file.h5")
    with pytest.raises(ValueError, match="contradicts"): T.resolve_weights("vgg16", None, "/some/file.h5")

@pytest.fixture(scope="module")
def fake_vgg16_weights(tmp_path_factory):
    "A VGG16 notop weights file in the legacy .h5 layout of the real one (random values), and the base it came from."
    import h5py
    from keras.src.legacy.saving import legacy_h5_format
    keras.utils.set_random_seed(123)
    src = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    d = tmp_path_factory.mktemp("keras_home") / "models"
    d.mkdir()
    path = d / T.TRANSFER_MODELS["vgg16"].weights_file
    with h5py.File(path, "w") as f: legacy_h5_format.save_weights_to_hdf5_group(f, src)
    return path, src.get_weights()

def test_imagenet_weights_load_from_the_keras_cache_and_from_a_path(fake_vgg16_weights, monkeypatch):
    path, expected = fake_vgg16_weights
    import keras.src.utils.file_utils as fu
    monkeypatch.setattr(fu, "get_file", lambda *a, **k: (_ for _ in ()).throw(AssertionError("download attempted")))
    monkeypatch.setenv("KERAS_HOME", str(path.parent.parent))
    m = T.build_transfer("vgg16", weights="imagenet", input_size=32)
    assert m.transfer_info["weights"] == "imagenet" and m.transfer_info["weights_file"] == str(path)
    for a, b in zip(T.transfer_parts(m)[1].get_weights(), expected): np.testing.assert_array_equal(a, b)
    monkeypatch.setenv("KERAS_HOME", "/nonexistent")
    m2 = T.build_transfer("vgg16", weights="imagenet", weights_path=path, input_size=48)   # the size does not matter to conv weights
    for a, b in zip(T.transfer_parts(m2)[1].get_weights(), expected): np.testing.assert_array_equal(a, b)

def test_a_broken_weights_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(T.WeightsNotFoundError, match="cannot load ImageNet weights"):
        T.build_transfer("vgg16", weights="imagenet", weights_path=bad, input_size=32)

# --- results ------------------------------------------------------------------------------------------------

def test_results_file_records_weights_mode_and_size(splits, tmp_path, fake_vgg16_weights, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(fake_vgg16_weights[0].parent.parent))
    recs = {}
    for w in (None, "imagenet"):
        model, info, path = T.run_transfer("vgg16", splits=splits, weights=w, input_size=32, epochs=1, batch_size=64,
                                           results_dir=tmp_path / "results", model_dir=tmp_path / "models", profile="test")
        recs[w] = json.loads(Path(path).read_text())
    r = recs[None]
    assert r["run"] == "test-vgg16-frozen-usage" and r["model"] == "vgg16"
    assert r["weights"] is None and r["weights_file"] is None and "random-init" in r["notes"]
    assert (r["mode"], r["input_size"], r["epochs"]) == ("frozen", 32, 1)
    assert set(r["metrics"]) == {"PublicTest", "PrivateTest"}
    assert r["params"] == T.param_counts(model)["total"] and r["trainable_params"] < r["params"]
    i = recs["imagenet"]
    assert i["weights"] == "imagenet" and i["weights_file"] == str(fake_vgg16_weights[0]) and "ImageNet" in i["notes"]
    loaded = keras.saving.load_model(i["model_path"])                  # custom layers are registered
    np.testing.assert_allclose(loaded.predict(splits.test.x, verbose=0), model.predict(splits.test.x, verbose=0), atol=1e-5)

def test_runs_on_the_jax_backend(tmp_path):
    "Backend-agnostic: the model builds, predicts, saves and reloads with KERAS_BACKEND=jax."
    code = textwrap.dedent(f"""
        import numpy as np, keras
        assert keras.backend.backend() == "jax"
        from fer_nbdev import transfer as T
        m = T.build_transfer("vgg16", weights=None, input_size=32)
        x = np.random.default_rng(0).integers(0, 256, (3, 48, 48, 1)).astype("uint8")
        p = m.predict(x, verbose=0)
        feats = T.extract_features(m, x)
        np.testing.assert_allclose(m.get_layer("head").predict(feats, verbose=0), p, atol=1e-5)
        m.save(r"{tmp_path / 'm.keras'}")
        np.testing.assert_allclose(keras.saving.load_model(r"{tmp_path / 'm.keras'}").predict(x, verbose=0), p, atol=1e-5)
        print("ok")
    """)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-3000:]
