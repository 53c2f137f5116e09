"The models shipped in the package (default, and fast where shipped): each loads (with plain Keras too), predicts, and reproduces the metrics its run recorded."
import json, subprocess, sys, zipfile
import numpy as np
import pytest
from fer_nbdev.data import package_dir, load_fer2013, split_usage, load_sample
from conftest import FULL_DATA, needs_full_data

ASSETS = package_dir() / "assets"
SHIPPED = [n for n in ("default", "fast") if (ASSETS / f"fer_{n}.keras").is_file()]
pytestmark = pytest.mark.skipif(not SHIPPED, reason="no packaged model")
shipped = pytest.mark.parametrize("name", SHIPPED)

def provenance(name): return json.loads((ASSETS / f"fer_{name}.json").read_text())

def test_the_default_is_shipped_and_names_match_the_library():
    from fer_nbdev.runtime import PACKAGED_MODELS, DEFAULT_MODEL
    assert "default" in SHIPPED and PACKAGED_MODELS["default"] == DEFAULT_MODEL
    assert {n: ASSETS / f"fer_{n}.keras" for n in ("default", "fast")} == PACKAGED_MODELS

@shipped
def test_loads_and_predicts(name):
    from fer_nbdev.predict import EmotionDetector
    det = EmotionDetector(name)
    p = det.classify(load_sample().images[:16])
    assert p.shape == (16, 7)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-4)

@shipped
def test_provenance_names_a_real_run(name):
    prov = provenance(name)
    for k in ("run", "model", "hardware", "backend", "seed", "wall_time_s", "accuracy", "results_file"):
        assert k in prov, k
    from conftest import ROOT
    rec = json.loads((ROOT / prov["results_file"]).read_text())
    assert rec["run"] == prov["run"] and rec["metrics"]["PrivateTest"]["accuracy"] == prov["accuracy"]["PrivateTest"]

@needs_full_data
@shipped
def test_reproduces_its_recorded_accuracy(name):
    "On CPU with this machine's backend, the shipped file gives its run's PrivateTest and PublicTest accuracy within 0.1 point."
    import keras
    from fer_nbdev.train import evaluate
    import fer_nbdev.augment  # registers the custom layers the saved model uses
    model = keras.saving.load_model(ASSETS / f"fer_{name}.keras")
    sp = split_usage(load_fer2013(FULL_DATA))
    prov = provenance(name)
    for name, part in (("PublicTest", sp.val), ("PrivateTest", sp.test)):
        got = evaluate(model, part)["accuracy"]
        assert abs(got - prov["accuracy"][name]) <= 0.001, (name, got, prov["accuracy"][name])


@needs_full_data
@shipped
def test_flip_tta_at_prediction_reproduces_the_runs_flip_accuracy(name):
    """`EmotionDetector(tta='flip')` (the runtime graph, faces and mirrors in one call) scores PrivateTest as the run's
    `PrivateTest+flip`, within 0.1 point; for a run scored without flip TTA (the tuning notebook's), as the training
    library's flip evaluation of the shipped file (`train.evaluate(tta='flip')`)."""
    from fer_nbdev.predict import EmotionDetector
    from conftest import ROOT
    test = split_usage(load_fer2013(FULL_DATA)).test
    rec = json.loads((ROOT / provenance(name)["results_file"]).read_text())
    # a run scored with several TTAs records each as "+<tta>"; with one, as "+tta"
    if "PrivateTest+flip" in rec["metrics"] or rec.get("tta") == "flip":
        want = rec["metrics"]["PrivateTest+flip" if "PrivateTest+flip" in rec["metrics"] else "PrivateTest+tta"]["accuracy"]
    else:
        from fer_nbdev.train import evaluate, load_keras
        assert not rec.get("tta"), rec["tta"]     # scored with another TTA only: no flip to compare with
        want = evaluate(load_keras(ASSETS / f"fer_{name}.keras"), test, tta="flip")["accuracy"]
    got = (EmotionDetector(name, tta="flip").classify(test.images).argmax(1) == test.labels).mean()
    assert abs(got - want) <= 0.001, (got, want)
    # the mirrors did go through the model: not the plain accuracy (which the shipped file reproduces: the test above)
    assert got != provenance(name)["accuracy"]["PrivateTest"]


@needs_full_data
@shipped
def test_tencrop_tta_at_prediction_reproduces_the_runs_tencrop_accuracy(name):
    """For a shipped model trained on crops, `EmotionDetector(tta='tencrop')` (and 'auto', which picks it) scores
    PrivateTest as its run's `PrivateTest+tencrop`, within 0.1 point; a model without a crop layer refuses ten crops."""
    from fer_nbdev.runtime import load_models
    from fer_nbdev.predict import EmotionDetector
    from fer_nbdev.train import crop_size
    from conftest import ROOT
    if not crop_size(load_models(name)[0]):
        with pytest.raises(ValueError, match="no crop layer"): EmotionDetector(name, tta="tencrop")
        return
    rec = json.loads((ROOT / provenance(name)["results_file"]).read_text())
    want = rec["metrics"]["PrivateTest+tencrop"]["accuracy"]
    test = split_usage(load_fer2013(FULL_DATA)).test
    got = (EmotionDetector(name, tta="tencrop").classify(test.images).argmax(1) == test.labels).mean()
    assert abs(got - want) <= 0.001, (got, want)
    # 'auto' picks ten crops for it: the same views (scored once, above), not a second pass over PrivateTest
    assert EmotionDetector(name, tta="auto")._model_ttas() == EmotionDetector(name, tta="tencrop")._model_ttas()
    assert EmotionDetector(name, tta="auto")._model_ttas()[0][0] == "tencrop"


PLAIN_KERAS = """
import sys, numpy as np, keras
model = keras.models.load_model(sys.argv[1], compile=False)
assert model.output_shape == (None, 7), model.output_shape   # one output, not a list of one
np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))
imported = sorted(m for m in sys.modules if m.split(".")[0] == "fer_nbdev")
assert not imported, imported
"""

@shipped
def test_loads_with_plain_keras_in_a_fresh_python(tmp_path, name):
    "In a fresh interpreter that never imports fer_nbdev, plain `keras.models.load_model` loads the shipped file and gives the same probabilities as fer_nbdev does."
    from fer_nbdev.train import load_keras, predict_proba
    cfg = zipfile.ZipFile(ASSETS / f"fer_{name}.keras").read("config.json").decode()
    assert "fer_nbdev" not in cfg and "RandomShearAffine" not in cfg      # standard Keras layers only
    x = load_sample().x[:64]
    np.save(tmp_path / "x.npy", x)
    # -I: no PYTHONPATH, no current folder on the path; the venv's packages only
    r = subprocess.run([sys.executable, "-I", "-c", PLAIN_KERAS, str(ASSETS / f"fer_{name}.keras"), str(tmp_path / "x.npy"),
                        str(tmp_path / "p.npy")], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                       env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-3000:]
    plain = np.load(tmp_path / "p.npy")
    ours = predict_proba(load_keras(ASSETS / f"fer_{name}.keras"), x)
    assert plain.shape == (64, 7)
    np.testing.assert_allclose(plain, ours, atol=1e-5)


@pytest.mark.parametrize("kind", ["cnn", "ensemble"])
def test_every_saved_model_loads_with_plain_keras(tmp_path, kind):
    "What train.save_model writes (a CNN with the whole augmentation pipeline and a random crop; an ensemble of two) loads in a Python without fer_nbdev and predicts as the trained model does."
    from fer_nbdev.models import cnn7
    from fer_nbdev.ensemble import average_ensemble
    from fer_nbdev.train import save_model, set_seed
    set_seed(0)
    model = cnn7(augment={"erasing": 0.5}, crop=44, seed=0)
    if kind == "ensemble": model = average_ensemble([model, cnn7(augment=True, seed=1)])
    path = save_model(model, tmp_path / f"{kind}.keras")
    x = load_sample().x[:16]
    np.save(tmp_path / "x.npy", x)
    r = subprocess.run([sys.executable, "-I", "-c", PLAIN_KERAS, str(path), str(tmp_path / "x.npy"), str(tmp_path / "p.npy")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), model.predict(x, verbose=0), atol=1e-5)
