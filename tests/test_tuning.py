"Tests of fer_nbdev.tuning: the search space, the rebuilt architecture, a tiny real search end to end, JAX."
import json, os, re, subprocess, sys, tempfile, textwrap
from pathlib import Path
import numpy as np
import pytest

import keras
import keras_tuner as kt
from fer_nbdev.baseline import get_splits
from fer_nbdev.data import load_sample
from fer_nbdev.profiles import get_profile
from fer_nbdev.results import REQUIRED_FIELDS, read_results
from fer_nbdev.tuning import (HPARAMS, CNNHyperModel, cnn_from_hparams, count_cnn_params, hparams_path, load_hparams,
                              run_tuning, scratch_path, search_space, trial_seconds, trials_table, tunable_cnn, tune, tuning_record)

ROOT = Path(__file__).resolve().parents[1]
# small but real: every hyperparameter is still searched, the networks are just narrow (seconds per trial on 2 cores)
SMALL = dict(filters=(8, 16), depth=(2, 3), kernel_size=(3, 5), dropout=(0.0, 0.5), dense_units=(32, 64),
             learning_rate=(1e-4, 3e-3), batch_norm=(True, False))
TUNER_FILES = ("oracle.json", "trial.json", "build_config.json")


@pytest.fixture(scope="module")
def splits():
    return get_splits(load_sample(), "usage")


# --- the search space -------------------------------------------------------------------------------------------

def test_search_space_holds_the_required_hyperparameters():
    space = search_space()
    required = {"filters", "depth", "dropout", "dense_units", "learning_rate", "batch_norm"}
    assert required <= set(space) and set(space) == set(HPARAMS)
    assert all(space[k]["type"] != "Fixed" for k in HPARAMS)                # all searched by default
    assert space["learning_rate"]["sampling"] == "log"
    assert space["batch_norm"]["type"] == "Boolean"
    assert json.loads(json.dumps(space)) == space                           # a plain, JSON-able dict
    # what keras-tuner sees: the hypermodel declares exactly these names, with their ranges
    hp = kt.HyperParameters()
    CNNHyperModel(space).build(hp)
    assert set(hp.values) == set(HPARAMS)
    cfg = {p.name: p.get_config() for p in hp.space}
    assert (cfg["filters"]["min_value"], cfg["filters"]["max_value"]) == (16, 64)
    assert (cfg["depth"]["min_value"], cfg["depth"]["max_value"]) == (2, 4)


def test_search_space_bounds_and_fixed_values():
    s = search_space(filters=(8, 128), depth=3, batch_norm=True, kernel_size=(3, 5, 7), learning_rate=(1e-5, 1e-2))
    assert s["depth"] == {"type": "Fixed", "value": 3} and s["batch_norm"] == {"type": "Fixed", "value": True}
    assert s["kernel_size"]["values"] == [3, 5, 7]
    hp = kt.HyperParameters()
    CNNHyperModel(s).build(hp)
    widths = {p.random_sample(i) for p in hp.space if p.name == "filters" for i in range(200)}
    assert widths == {8, 16, 32, 64, 128}                                   # powers of two within the bounds
    lrs = [p.random_sample(i) for p in hp.space if p.name == "learning_rate" for i in range(200)]
    assert 1e-5 <= min(lrs) and max(lrs) <= 1e-2 and min(lrs) < 1e-4       # log-uniform reaches the low decades
    with pytest.raises(ValueError, match="low > high"): search_space(dropout=(0.5, 0.1))
    with pytest.raises(ValueError, match="lacks"): CNNHyperModel({"filters": s["filters"]})


# --- the architecture -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("depth,kernel,bn", [(1, 3, False), (2, 5, True), (3, 3, True), (4, 5, False)])
def test_cnn_from_hparams_parameter_count_and_io(depth, kernel, bn):
    hp = dict(filters=8, depth=depth, kernel_size=kernel, dropout=0.3, dense_units=32, batch_norm=bn)
    m = cnn_from_hparams(hp)
    assert m.count_params() == count_cnn_params(hp)
    assert m.input_shape == (None, 48, 48, 1) and m.output_shape == (None, 7)
    assert cnn_from_hparams(hp, augment=True, seed=0).count_params() == m.count_params()
    assert sum(isinstance(l, keras.layers.Conv2D) for l in m.layers) == 2 * depth
    assert sum(isinstance(l, keras.layers.BatchNormalization) for l in m.layers) == (2 * depth + 1 if bn else 0)
    assert isinstance(m.layers[1], keras.layers.Rescaling)


def test_cnn_from_hparams_takes_raw_pixels_and_matches_tunable_cnn(splits):
    hp = kt.HyperParameters()
    tuned = tunable_cnn(hp)                                                 # the hypermodel at its defaults
    rebuilt = cnn_from_hparams(dict(hp.values))
    assert [tuple(w.shape) for w in tuned.weights] == [tuple(w.shape) for w in rebuilt.weights]
    x = splits.val.x[:12]                                                   # uint8, 0-255
    p = rebuilt.predict(x, verbose=0)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    rebuilt.set_weights(tuned.get_weights())
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), tuned.predict(x, verbose=0), atol=1e-5)
    with pytest.raises(KeyError, match="hparams lack"): cnn_from_hparams({"filters": 8, "depth": 2})


def test_the_searched_cnn_is_a_half_width_vgg_that_the_pipeline_trains_again():
    "cpufull's tuned_crop_erasing step builds the tuned CNN with `vgg_fer`: its kwargs follow the committed search's winner, and the committed tuned model's weights load into it and predict the same."
    from fer_nbdev.models import build_model
    from fer_nbdev.profiles import TUNED_AS_VGG
    from fer_nbdev.train import load_keras
    best = load_hparams(ROOT / "results" / "cpufull-tuning" / "tuned-usage-hparams.json")
    assert TUNED_AS_VGG == dict(widths=[best["filters"] * 2 ** b for b in range(best["depth"])], dense=[best["dense_units"]],   # YAML lists
                                 dropout=best["dropout"], dense_dropout=best["dropout"])
    step = next(s for s in get_profile("cpufull")["steps"] if s["step"] == "03_cnn-tuned_crop_erasing-usage")
    assert step["parameters"]["model_name"] == "vgg" and step["parameters"]["model_kwargs"] == TUNED_AS_VGG
    searched = load_keras(ROOT / "models" / "cpufull-tuned-usage.keras")
    rebuilt = build_model("vgg", augment=True, **TUNED_AS_VGG)
    assert rebuilt.count_params() == searched.count_params() == count_cnn_params(best)
    rebuilt.set_weights([np.asarray(w, dtype="float32") for w in searched.get_weights()])
    x = load_sample().x[:64]
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), searched.predict(x, verbose=0), atol=1e-5)


# --- a tiny real search, end to end ------------------------------------------------------------------------------

def _tuner_files_under(root):
    "Tuner state files under `root` (the virtual environment excluded, and runs/: the pipeline's own tuner state, which a campaign running beside the tests changes)."
    out = []
    for top in Path(root).iterdir():
        if top.name in (".venv", "venv", ".git", "runs"): continue
        cands = [top] if top.is_file() else top.rglob("*")
        out += [p for p in cands if p.name in TUNER_FILES or p.name.endswith(".weights.h5")]
    return sorted(out)


@pytest.fixture(scope="module")
def tiny_run(splits, tmp_path_factory):
    base = tmp_path_factory.mktemp("tuning")
    before = _tuner_files_under(ROOT)
    out = run_tuning(splits, max_trials=2, tuner_epochs=1, epochs=1, batch_size=64, augment=True, seed=0,
                     space=search_space(**SMALL), num_initial_points=1,   # trial 2 is proposed by the Gaussian process
                     results_dir=base / "results", model_dir=base / "models", scratch_dir=base / "scratch",
                     profile="test", protocol="usage", tta="flip")
    return dict(out, base=base, before=before)


def test_tiny_search_writes_the_hparams_json(tiny_run):
    base = tiny_run["base"]
    path = tiny_run["hparams_path"]
    assert path == hparams_path(base / "results", "test", "usage") and path.is_file()
    rec = json.loads(path.read_text())
    assert rec["tuner"] == "BayesianTuner" and rec["objective"] == "val_accuracy"
    assert rec["trials_run"] == 2 and len(rec["trials"]) == 2
    assert rec["search_space"] == search_space(**SMALL)
    assert all(0 <= t["score"] <= 1 and set(t["hparams"]) == set(HPARAMS) for t in rec["trials"])
    assert rec["best_score"] == max(t["score"] for t in rec["trials"])
    best_trial = next(t for t in rec["trials"] if t["trial"] == rec["best_trial"])
    assert {k: rec["best_hparams"][k] for k in HPARAMS} == best_trial["hparams"]
    assert load_hparams(path) == rec["best_hparams"] and rec["best_hparams"]["augment"] is True
    # the trials table says the same as the record
    table = tiny_run["table"]
    assert list(table["score"]) == [t["score"] for t in rec["trials"]]
    assert table["best_so_far"].is_monotonic_increasing


def test_tiny_search_writes_a_complete_results_file(tiny_run, splits):
    base = tiny_run["base"]
    path = tiny_run["results_path"]
    assert path == base / "results" / "test-tuned-usage.json"
    recs = read_results(base / "results")        # the hparams JSON (in a subfolder) is not taken for a results file
    assert [Path(r["path"]) for r in recs] == [path]
    rec = recs[0]
    assert all(k in rec for k in REQUIRED_FIELDS)
    assert (rec["model"], rec["run"], rec["protocol"], rec["epochs"]) == ("tuned_cnn", "test-tuned-usage", "usage", 1)
    assert set(rec["metrics"]) >= {"PublicTest", "PrivateTest"}
    # scored with flip TTA too, as every CNN can be: the mirrored faces give another accuracy, and the run says which TTA
    assert rec["tta"] == "flip" and set(rec["metrics"]) == {"PublicTest", "PrivateTest", "PublicTest+tta", "PrivateTest+tta"}
    from fer_nbdev.train import evaluate
    assert rec["metrics"]["PrivateTest+tta"]["accuracy"] == pytest.approx(evaluate(tiny_run["model"], splits.test, tta="flip")["accuracy"])
    assert rec["hparams"] == json.loads(tiny_run["hparams_path"].read_text())["best_hparams"]
    assert rec["tuning"]["trials_run"] == 2 and rec["hparams_path"] == str(tiny_run["hparams_path"])
    # the saved model is the rebuilt best architecture, and predicts like the trained one
    saved = keras.models.load_model(rec["model_path"])
    assert Path(rec["model_path"]).parent == base / "models"
    x = load_sample().x[:6]
    np.testing.assert_allclose(saved.predict(x, verbose=0), tiny_run["model"].predict(x, verbose=0), atol=1e-4)


def test_rebuilt_architecture_has_the_best_models_parameter_count(tiny_run, splits):
    tuner, best = tiny_run["tuner"], tiny_run["best"]
    best_model = tuner.get_best_models(1)[0]
    rebuilt = cnn_from_hparams(load_hparams(tiny_run["hparams_path"]))
    assert rebuilt.count_params() == best_model.count_params() == count_cnn_params(best)
    assert [tuple(w.shape) for w in rebuilt.weights] == [tuple(w.shape) for w in best_model.weights]
    rec = json.loads(tiny_run["results_path"].read_text())
    assert rec["params"] == rebuilt.count_params()
    # and it is the best trial's: the best model scores the trial's val_accuracy (its best epoch's weights)
    top = tuner.oracle.get_best_trials(1)[0]
    acc = float(np.mean(best_model.predict(splits.val.x, verbose=0).argmax(1) == splits.val.labels))
    assert acc == pytest.approx(top.score, abs=1e-6)


def test_tuner_state_goes_to_the_scratch_dir_not_the_repo(tiny_run):
    scratch = tiny_run["base"] / "scratch"
    project = Path(tiny_run["tuner"].project_dir)
    assert project.parent == scratch and re.fullmatch(r"test-tuned-usage-[0-9a-f]{8}", project.name)   # named by search_id
    assert (project / "oracle.json").is_file()
    assert len(list(project.glob("trial_*/trial.json"))) == 2
    assert not any((tiny_run["base"] / "results").rglob("oracle.json"))   # no tuner state beside the results
    assert _tuner_files_under(ROOT) == tiny_run["before"]                # nothing new in the repository
    # no directory given: a fresh temporary folder, outside the repository
    p = scratch_path(None).resolve()
    assert p.is_dir() and Path(tempfile.gettempdir()).resolve() in p.parents and ROOT not in p.parents
    assert scratch_path(None).resolve() != p                             # fresh each time: no resumed search


def test_an_interrupted_search_resumes_after_its_last_finished_trial(splits, tmp_path, monkeypatch):
    kw = dict(max_trials=3, epochs=1, batch_size=64, seed=0, directory=tmp_path, space=search_space(**SMALL),
              num_initial_points=1, project_name="resume")
    trained, real_fit = [], CNNHyperModel.fit
    def fit_or_stop(self, hp, model, *a, **k):
        trained.append(dict(hp.values))
        if stop_at == len(trained): raise KeyboardInterrupt   # Ctrl-C in that trial: the search stops there
        return real_fit(self, hp, model, *a, **k)
    monkeypatch.setattr(CNNHyperModel, "fit", fit_or_stop)
    stop_at = 2
    with pytest.raises(KeyboardInterrupt): tune(splits, **kw)
    first, cut = trained[:2]
    [folder] = tmp_path.glob("resume-*")
    before = trial_seconds(folder)                  # the finished trial's time is kept in the search's folder
    assert list(before) == ["0"] and before["0"] > 0
    trained.clear(); stop_at = 0
    best, tuner = tune(splits, **kw)               # the same search again: trial 1 is kept, the cut trial retried, then one more
    table = trials_table(tuner)
    assert list(table["status"]) == ["COMPLETED"] * 3
    times = trial_seconds(tuner.project_dir)       # so the resumed search's time counts the trial before the interruption
    assert sorted(times) == ["0", "1", "2"] and times["0"] == before["0"]
    rec = tuning_record(tuner, best, kw["space"], epochs=1, batch_size=64, seed=0, search_time_s=1.0)
    assert rec["search_time_measured"] == "per trial" and rec["search_time_s"] == pytest.approx(sum(times.values()), abs=0.05)
    assert trained[0] == cut and first not in trained and len(trained) == 2
    assert table.iloc[0][list(HPARAMS)].to_dict() == first
    trained.clear()
    again, same = tune(splits, **kw)               # finished: nothing left to train, the same trials
    assert trained == [] and same.project_dir == tuner.project_dir
    assert trials_table(same).equals(table)
    top = table[table["score"] == table["score"].max()]   # the best of them (ties on 42 faces: any of the top trials)
    assert any(row[list(HPARAMS)].to_dict() == {k: again[k] for k in HPARAMS} for _, row in top.iterrows())
    _, other = tune(splits, **{**kw, "seed": 1, "max_trials": 1})   # another setting: a search of its own, from scratch
    assert len(trained) == 1 and other.project_dir != tuner.project_dir
    _, fresh = tune(splits, **kw, overwrite=True)  # overwrite: the saved search is discarded
    assert len(trained) == 4 and fresh.project_dir == tuner.project_dir
    # a search whose every trial failed keeps nothing: run again (after a fix), it searches anew instead of reloading the failures
    one = {**kw, "max_trials": 1, "project_name": "failing"}
    monkeypatch.setattr(CNNHyperModel, "fit", lambda *a, **k: 1 / 0)
    with pytest.raises(RuntimeError, match="no trial completed"): tune(splits, **one)
    monkeypatch.setattr(CNNHyperModel, "fit", fit_or_stop)
    _, fixed = tune(splits, **one)
    assert list(trials_table(fixed)["status"]) == ["COMPLETED"] and len(trained) == 5


# --- JAX ----------------------------------------------------------------------------------------------------------

JAX_SCRIPT = textwrap.dedent("""
    import importlib.abc, json, sys, tempfile
    class NoTensorFlow(importlib.abc.MetaPathFinder):   # the GPU machine has no TensorFlow: make sure nothing needs it
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in ("tensorflow", "tensorboard"): raise ModuleNotFoundError(f"No module named {name!r}")
    sys.meta_path.insert(0, NoTensorFlow())
    import keras
    from fer_nbdev.baseline import get_splits
    from fer_nbdev.data import load_sample
    from fer_nbdev.tuning import tune, search_space, cnn_from_hparams, trials_table
    splits = get_splits(load_sample(), "usage")
    scratch = tempfile.mkdtemp(prefix="fer_nbdev_jax_tuner_")
    best, tuner = tune(splits, max_trials=1, epochs=1, batch_size=64, seed=0, directory=scratch,
                       space=search_space(filters=(8, 16), depth=(2, 3), dense_units=(32, 64)))
    table = trials_table(tuner)
    print("RESULT " + json.dumps({"backend": keras.backend.backend(), "best": best, "scores": table["score"].tolist(),
                                  "status": table["status"].tolist(), "tf": "tensorflow" in sys.modules,
                                  "best_params": tuner.get_best_models(1)[0].count_params(),
                                  "rebuilt_params": cnn_from_hparams(best).count_params(),
                                  "project": str(tuner.project_dir), "scratch": scratch}))
""")


def test_one_trial_search_under_jax_without_tensorflow():
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2", "JAX_PLATFORMS": "cpu"}
    r = subprocess.run([sys.executable, "-c", JAX_SCRIPT], env=env, capture_output=True, text=True, timeout=600,
                       cwd=tempfile.mkdtemp(prefix="fer_nbdev_jax_cwd_"))
    lines = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    assert r.returncode == 0 and lines, r.stdout[-3000:] + r.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["backend"] == "jax" and not out["tf"]
    assert out["status"] == ["COMPLETED"] and 0 <= out["scores"][0] <= 1
    assert set(HPARAMS) <= set(out["best"])
    assert out["best_params"] == out["rebuilt_params"]
    assert Path(out["project"]).parent == Path(out["scratch"])
