"""fer_nbdev.models: shapes, probabilities, parameter counts against the study's, raw-pixel inputs, saving."""
import numpy as np
import pytest
import keras
from fer_nbdev.data import load_sample
from fer_nbdev.augment import RandomCenterCrop
from fer_nbdev.models import MODELS, build_model, cnn4, cnn7, vgg_fer

STUDY_PARAMS = {"cnn4": 1_949_447, "cnn7": 1_394_183}  # the study's 4- and 7-layer CNNs


@pytest.fixture(scope="module")
def faces():
    return load_sample().x[:12]


@pytest.mark.parametrize("name", ["cnn4", "cnn7", "vgg"])
def test_shapes_and_probabilities(name, faces):
    m = build_model(name, augment=True, crop=44 if name == "vgg" else None, seed=0)
    assert m.input_shape == (None, 48, 48, 1) and m.output_shape == (None, 7)
    p = m.predict(faces, verbose=0)
    assert p.shape == (12, 7) and (p >= 0).all()
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    np.testing.assert_array_equal(m.predict(faces, verbose=0), p)          # augmentation is off at inference


@pytest.mark.parametrize("name", ["cnn4", "cnn7"])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_parameter_counts_match_the_study(name, batch_norm):
    n = MODELS[name](batch_norm=batch_norm).count_params()
    assert abs(n / STUDY_PARAMS[name] - 1) < 0.01, (name, batch_norm, n)
    # augmentation layers hold no weights, so they do not change the count
    assert MODELS[name](batch_norm=batch_norm, augment=True).count_params() == n


def test_vgg_is_the_larger_network():
    assert vgg_fer().count_params() > 3 * cnn4().count_params()
    kinds = [type(l).__name__ for l in vgg_fer().layers]
    assert kinds.count("Conv2D") == 8 and kinds.count("BatchNormalization") == 8 + 2 and kinds.count("MaxPooling2D") == 4


def test_registry():
    assert set(MODELS) == {"cnn4", "cnn7", "vgg", "resnet", "mini_xception"}
    assert build_model("cnn7").name == "cnn7"
    with pytest.raises(ValueError, match="unknown model"): build_model("resnet50")


def test_raw_pixels_in(faces):
    "The model rescales itself: uint8 and float 0–255 give the same output, and the first layer is the rescaling."
    m = cnn7(seed=0)
    assert isinstance(m.layers[1], keras.layers.Rescaling) and m.layers[1].scale == pytest.approx(1 / 255)
    np.testing.assert_allclose(m.predict(faces, verbose=0), m.predict(faces.astype("float32"), verbose=0), atol=1e-6)


def test_augment_argument_forms():
    from fer_nbdev.augment import augmentation
    def aug_layers(m):
        seq = [l for l in m.layers if isinstance(l, keras.Sequential)]
        return [type(l).__name__ for l in seq[0].layers] if seq else []
    assert aug_layers(cnn7()) == []
    assert aug_layers(cnn7(augment=True))[:2] == ["RandomFlip", "RandomRotation"]
    assert aug_layers(cnn7(augment=dict(rotation=0, zoom=0, shear=0, shift=0))) == ["RandomFlip"]
    assert aug_layers(cnn7(crop=44)) == ["RandomCenterCrop"]                     # crop alone: only the crop
    assert aug_layers(cnn7(augment=augmentation(flip=False, rotation=0, zoom=0, shear=0))) == ["RandomTranslation"]
    with pytest.raises(ValueError): cnn7(augment=augmentation(), crop=44)


def test_crop_model_centre_crops_at_inference(faces):
    "With crop=c the network sees the c×c centre at inference: faces that differ only outside it predict the same."
    m = cnn4(augment=True, crop=40, seed=0)
    other = faces.copy()
    other[:, :4] = 255 - other[:, :4]; other[:, :, :4] = 0                      # change the border only
    np.testing.assert_allclose(m.predict(other, verbose=0), m.predict(faces, verbose=0), atol=1e-6)
    changed = faces.copy(); changed[:, 20:28, 20:28] = 255                      # the centre matters
    assert not np.allclose(m.predict(changed, verbose=0), m.predict(faces, verbose=0), atol=1e-6)


def test_saved_model_reloads_with_augmentation_and_crop(tmp_path, faces):
    m = cnn7(augment=True, crop=44, seed=0)
    p = m.predict(faces, verbose=0)
    m.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(faces, verbose=0), p, atol=1e-6)
    assert any(isinstance(l, RandomCenterCrop) for s in loaded.layers if isinstance(s, keras.Sequential) for l in s.layers)


def test_mini_xception_trains_an_epoch_that_ends_in_a_smaller_batch():
    "165 faces in batches of 128, so the epoch ends in a batch of 37: with 8 stem channels this crashed TensorFlow's oneDNN kernels (moved here from 03_cnn, where it ran in every step)."
    from fer_nbdev.models import mini_xception
    mx = mini_xception(augment=True, crop=44)
    mx.compile("adam", "sparse_categorical_crossentropy")
    sample = load_sample()
    x, y = sample.x[:165], sample.labels[:165]
    assert len(x) == 165
    loss = mx.fit(x, y, batch_size=128, verbose=0).history["loss"]
    assert len(loss) == 1 and np.isfinite(loss[0])
