"""fer_nbdev.augment under each Keras backend: the backend is fixed per process, so each runs in a subprocess."""
import importlib.util, os, subprocess, sys, textwrap
import pytest

CHECKS = textwrap.dedent(r'''
    import os, tempfile
    import numpy as np, keras
    from fer_nbdev.augment import augmentation, RandomCenterCrop, RandomShearAffine
    from fer_nbdev.data import load_sample
    assert keras.backend.backend() == os.environ["KERAS_BACKEND"]
    faces = load_sample()
    x = faces.x[:32].astype("float32") / 255
    arr = keras.ops.convert_to_numpy
    per_image = lambda a, b: np.abs(arr(a) - b).reshape(len(b), -1).max(1)

    # output shapes: kept, or cropped
    aug = augmentation(seed=0)
    assert tuple(aug(x, training=True).shape) == x.shape
    assert tuple(augmentation(crop=44, seed=0)(x, training=True).shape) == (32, 44, 44, 1)
    assert tuple(augmentation(crop=44, seed=0)(x, training=False).shape) == (32, 44, 44, 1)

    # inference: identity, called directly and inside a model's predict
    assert np.array_equal(arr(aug(x, training=False)), x)
    inp = keras.Input((48, 48, 1))
    m = keras.Model(inp, aug(inp))
    assert np.array_equal(m.predict(x, verbose=0), x)

    # training: every face changes, and differently on each call
    a1, a2 = arr(aug(x, training=True)), arr(aug(x, training=True))
    assert (per_image(a1, x) > 0.05).all()
    assert (np.abs(a1 - a2).reshape(32, -1).max(1) > 0.05).all()

    # each transformation alone changes the faces in training and not at inference
    alone = dict(rotation=dict(flip=False, zoom=0, shear=0, shift=0), zoom=dict(flip=False, rotation=0, shear=0, shift=0),
                 shear=dict(flip=False, rotation=0, zoom=0, shift=0), shift=dict(flip=False, rotation=0, zoom=0, shear=0))
    for name, kw in alone.items():
        a = augmentation(seed=1, **kw)
        assert len(a.layers) == 1, name
        assert (per_image(a(x, training=True), x) > 0.01).mean() > 0.9, name
        assert np.array_equal(arr(a(x, training=False)), x), name

    # a flip is an exact mirror: each face is kept or mirrored, and some are mirrored
    flip = augmentation(rotation=0, zoom=0, shear=0, shift=0, seed=0)
    xf = arr(flip(x, training=True))
    kept = [np.array_equal(a, b) for a, b in zip(xf, x)]
    mirrored = [np.array_equal(a, b[:, ::-1]) for a, b in zip(xf, x)]
    assert all(k or m_ for k, m_ in zip(kept, mirrored))
    assert 0 < sum(m_ and not k for k, m_ in zip(kept, mirrored)) < 32
    # vertical flips are off unless asked for
    assert [type(l).__name__ for l in augmentation(vertical_flip=True, flip=False, rotation=0, zoom=0, shear=0, shift=0).layers] == ["RandomFlip"]
    assert augmentation(vertical_flip=True, flip=False, rotation=0, zoom=0, shear=0, shift=0).layers[0].mode == "vertical"
    assert flip.layers[0].mode == "horizontal"
    # everything off: the identity
    off = augmentation(flip=False, rotation=0, zoom=0, shear=0, shift=0)
    assert np.array_equal(arr(off(x, training=True)), x)

    # crop: the centre at inference; in training, one of the face's own windows, not always the same one
    crop = RandomCenterCrop(40, seed=0)
    assert np.array_equal(arr(crop(x, training=False)), x[:, 4:44, 4:44])
    out = arr(crop(x, training=True))
    where = [[(t, l) for t in range(9) for l in range(9) if np.array_equal(out[i], x[i, t:t + 40, l:l + 40])] for i in range(32)]
    assert all(where), "a training crop is not a window of its face"
    assert len({w[0] for w in where}) > 1
    # odd margins: the centre crop uses the floor, like the ten-crop helper in fer_nbdev.train
    assert np.array_equal(arr(RandomCenterCrop(45)(x, training=False)), x[:, 1:46, 1:46])

    # inside a compiled training step (tf.function / jax.jit) and through save + load
    inp = keras.Input((48, 48, 1))
    h = augmentation(crop=44, seed=0)(inp)
    h = keras.layers.Conv2D(4, 3, activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inp, keras.layers.Dense(7, activation="softmax")(h))
    model.compile("adam", "categorical_crossentropy")
    hist = model.fit(x, np.eye(7, dtype="float32")[faces.labels[:32]], epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
    p = model.predict(x, verbose=0)
    path = os.path.join(tempfile.mkdtemp(), "aug.keras")
    model.save(path)
    assert np.allclose(keras.saving.load_model(path).predict(x, verbose=0), p, atol=1e-6)

    if keras.backend.backend() == "jax":   # the crop layer itself under an explicit jax.jit
        import jax
        crop = RandomCenterCrop(44, seed=3)
        crop(x[:1], training=False)                                   # build it
        state = [v.value for v in crop.non_trainable_variables]
        assert state, "the seed generator's state is the layer's non-trainable state"
        step = jax.jit(lambda s, xx: crop.stateless_call([], s, xx, training=True))
        y1, s1 = step(state, x)
        y2, _ = step(s1, x)
        assert y1.shape == (32, 44, 44, 1) and not np.array_equal(np.asarray(y1), np.asarray(y2))
    print("OK", keras.backend.backend())
''')

BACKENDS = ["tensorflow", "jax", "torch"]


def run_under(backend, code):
    if importlib.util.find_spec(backend) is None: pytest.skip(f"{backend} is not installed")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu",
           "CUDA_VISIBLE_DEVICES": ""}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"under {backend}:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    return r.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_augmentation_under_backend(backend):
    assert f"OK {backend}" in run_under(backend, CHECKS)


def test_shear_fallback_round_trips():
    "Keras 3.15's own RandomShear cannot be reloaded; ours can, and is what augmentation uses."
    import keras
    from fer_nbdev.augment import RandomShearAffine, augmentation
    layer = RandomShearAffine(0.2, seed=1)
    clone = RandomShearAffine.from_config(layer.get_config())
    assert (clone.factor, clone.fill_mode, clone.seed) == (0.2, "reflect", 1)
    assert any(isinstance(l, RandomShearAffine) for l in augmentation().layers)
    assert not any(isinstance(l, RandomShearAffine) for l in augmentation(shear=0).layers)


def test_crop_larger_than_image_fails():
    import numpy as np
    from fer_nbdev.augment import RandomCenterCrop
    with pytest.raises(ValueError, match="larger"):
        RandomCenterCrop(50)(np.zeros((2, 48, 48, 1), "float32"), training=False)
