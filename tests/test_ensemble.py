"Ensembles: averaging arithmetic, weights fitted on the validation split only, saved ensembles, members, leave-one-out."
import json
from pathlib import Path
import numpy as np
import pytest
import keras
from fer_nbdev.data import FERDataset, load_sample, split_usage, Splits
from fer_nbdev.results import write_results, read_results
from fer_nbdev import ensemble as E

def constant_model(p, name):
    "Outputs the probability vector `p` whatever the face."
    inp = keras.Input((48, 48, 1))
    out = keras.layers.Dense(7, activation="softmax", kernel_initializer="zeros",
                             bias_initializer=keras.initializers.Constant(np.log(p)))(keras.layers.Flatten()(inp))
    return keras.Model(inp, out, name=name)

def tiny_model(seed, name="tiny"):
    "A small random model on raw faces whose output depends on the face."
    keras.utils.set_random_seed(seed)
    inp = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255)(inp)
    x = keras.layers.AveragePooling2D(8)(x)
    x = keras.layers.Dense(7, activation="softmax", kernel_initializer=keras.initializers.RandomNormal(stddev=3.0))(keras.layers.Flatten()(x))
    return keras.Model(inp, x, name=name)

@pytest.fixture(scope="module")
def splits():
    return split_usage(load_sample())

@pytest.fixture(scope="module")
def saved(tmp_path_factory, splits):
    "Three tiny saved members with results entries (runs 'test-cnn7-usage-s<i>') in a results folder."
    d = tmp_path_factory.mktemp("ens")
    paths = []
    for i in range(3):
        m = tiny_model(i, name="cnn7")                    # the same name three times, as ten loaded cnn7 would have
        p = d / "models" / f"test-cnn7-usage-s{i}.keras"
        p.parent.mkdir(exist_ok=True)
        m.save(p)
        write_results(f"test-cnn7-usage-s{i}", model="cnn7-usage", metrics={}, params=m.count_params(), epochs=i + 1,
                      history={}, seed=i, data=splits.train, wall_time_s=0, parameters={"model_name": "cnn7", "profile": "test"},
                      results_dir=d / "results", model_path=str(p))
        paths.append(p)
    return d, paths

def faces(n=5, seed=0): return np.random.default_rng(seed).integers(0, 256, (n, 48, 48, 1)).astype("uint8")

# --- averaging arithmetic -----------------------------------------------------------------------------------

def test_average_layer_and_ensemble_proba_are_the_mean_of_members():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(7), size=3)
    members = [constant_model(p, f"c{i}") for i, p in enumerate(P)]
    x = faces()
    np.testing.assert_allclose(E.average_ensemble(members).predict(x, verbose=0), np.tile(P.mean(0), (5, 1)), atol=1e-6)
    np.testing.assert_allclose(E.ensemble_proba(members, x), np.tile(P.mean(0), (5, 1)), atol=1e-6)
    varied = [tiny_model(s) for s in range(3)]                       # outputs that differ from face to face
    each = np.stack([m.predict(x, verbose=0) for m in varied])
    np.testing.assert_allclose(E.average_ensemble(varied).predict(x, verbose=0), each.mean(0), atol=1e-6)
    np.testing.assert_allclose(E.ensemble_proba(varied, x), each.mean(0), atol=1e-6)
    np.testing.assert_allclose(E.ensemble_proba(varied, x).sum(1), 1.0, atol=1e-6)

def test_weighted_average_weights_sum_to_one_and_one_hot_picks_a_member():
    varied = [tiny_model(s) for s in range(3)]
    x = faces()
    each = np.stack([m.predict(x, verbose=0) for m in varied])
    w = E.simplex_weights([3, 1, 0], 3)
    np.testing.assert_allclose(w.sum(), 1.0); np.testing.assert_allclose(w, [0.75, 0.25, 0])
    np.testing.assert_allclose(E.ensemble_proba(varied, x, weights=[3, 1, 0]), 0.75 * each[0] + 0.25 * each[1], atol=1e-6)
    for i in range(3):
        onehot = np.eye(3)[i]
        np.testing.assert_allclose(E.ensemble_proba(varied, x, weights=onehot), each[i], atol=1e-6)
        np.testing.assert_allclose(E.average_ensemble(varied, weights=onehot).predict(x, verbose=0), each[i], atol=1e-6)
    assert E.WeightedAverage([2, 2]).member_weights == [0.5, 0.5]
    for bad in ([1, -1, 1], [0, 0, 0], [1, 1]):
        with pytest.raises(ValueError): E.simplex_weights(bad, 3)

def test_a_member_must_take_raw_faces():
    inp = keras.Input((44, 44, 1))
    other = keras.Model(inp, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(inp)))
    with pytest.raises(ValueError, match="raw faces"): E.average_ensemble([tiny_model(0), other])

def test_contributions_leave_one_out_by_hand():
    y = np.array([0, 1, 2, 3])
    eye = np.eye(7)
    right = eye[y]                               # always right
    half = eye[[0, 1, 5, 5]] * 0.9 + 0.1 / 7     # right on the first two
    wrong = eye[[6, 6, 6, 6]] * 0.95             # always wrong, confident
    t = E.contributions({"val": np.stack([right, half, wrong])}, {"val": y}, ["right", "half", "wrong"])
    acc = lambda p: float((p.argmax(1) == y).mean())
    assert t.loc["right", "val acc"] == 1.0 and t.loc["half", "val acc"] == 0.5 and t.loc["wrong", "val acc"] == 0.0
    full = acc((right + half + wrong) / 3)
    assert t.loc["(ensemble)", "val acc"] == full
    for name, rest in (("right", (half, wrong)), ("half", (right, wrong)), ("wrong", (right, half))):
        assert t.loc[name, "val acc without"] == acc(sum(rest) / 2)
        assert t.loc[name, "val added"] == pytest.approx(full - acc(sum(rest) / 2))
    np.testing.assert_allclose(t["weight"].iloc[:3].sum(), 1.0)
    tw = E.contributions({"val": np.stack([right, half, wrong])}, {"val": y}, ["right", "half", "wrong"], weights=[1, 0, 0])
    assert tw.loc["(ensemble)", "val acc"] == 1.0 and tw.loc["half", "val added"] == 0.0
    assert tw.loc["right", "val acc without"] == acc((half + wrong) / 2)      # the rest weigh 0: their plain average

# --- fitted weights ---------------------------------------------------------------------------------------

def test_fit_weights_sum_to_one_and_favour_the_better_member():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 300)
    good = np.full((300, 7), 0.05); good[np.arange(300), y] = 0.7
    noise = rng.dirichlet(np.ones(7), 300)
    w = E.fit_weights(np.stack([noise, good]), y)
    assert w.shape == (2,) and np.all(w >= 0) and w.sum() == pytest.approx(1.0)
    assert w[1] > 0.8
    nll = lambda p: -np.log(p[np.arange(300), y]).mean()
    for mix in (0.0, 0.25, 0.5, 0.75, 1.0):                  # no other mix on a grid does better than the fit
        assert nll(E.combine(np.stack([noise, good]), w)) <= nll(E.combine(np.stack([noise, good]), [mix, 1 - mix])) + 1e-6

def relabel(ds, labels, images=None):
    return FERDataset(ds.images if images is None else images, labels, ds.usage, ds.source)

def test_weights_are_fitted_on_the_validation_split_only(saved, splits, tmp_path):
    d, paths = saved
    run = lambda s, sub: E.run_ensemble("best_ensemble", paths, s, results_dir=tmp_path / sub, model_dir=tmp_path / sub,
                                        profile="test", save_model=False)
    base = run(splits, "a")
    rng = np.random.default_rng(0)
    test2 = relabel(splits.test, rng.integers(0, 7, len(splits.test)),                  # other labels, other faces
                    rng.integers(0, 256, splits.test.images.shape).astype(np.uint8))
    other_test = run(Splits(splits.train, splits.val, test2, splits.names), "b")
    np.testing.assert_array_equal(base.weights, other_test.weights)        # the test split does not move them
    assert base.metrics["PrivateTest"] != other_test.metrics["PrivateTest"]  # ... though it was used for scoring
    val2 = relabel(splits.val, (splits.val.labels + 3) % 7)
    other_val = run(Splits(splits.train, val2, splits.test, splits.names), "c")
    assert not np.allclose(base.weights, other_val.weights)                # the validation split does
    rec = json.loads(Path(base.weighted_results_path).read_text())
    assert rec["weights_fitted_on"] == "PublicTest" and rec["model"] == "best_ensemble_weighted"
    np.testing.assert_allclose(rec["member_weights"], base.weights)

# --- members, results, saved ensembles -----------------------------------------------------------------------

def test_members_resolve_from_paths_run_names_and_results_entries(saved):
    d, paths = saved
    res = d / "results"
    by_path = E.resolve_member(paths[0], res)
    assert by_path.name == "test-cnn7-usage-s0" and by_path.record["epochs"] == 1 and by_path.key == "cnn7"
    assert E.resolve_member("cnn7-usage-s1", res, profile="test").path == str(paths[1])   # pipeline-style, no prefix
    assert E.resolve_member("test-cnn7-usage-s2", res).path == str(paths[2])
    rec = next(r for r in read_results(res) if r["run"] == "test-cnn7-usage-s2")
    assert E.resolve_member(rec).path == str(paths[2])
    with pytest.raises(FileNotFoundError, match="nope"): E.resolve_member("nope", res)

def test_ensemble_names_must_match_their_members(saved, splits, tmp_path):
    d, paths = saved
    assert E.ensemble_key("cnn7x10") == "cnn7_x10" and E.ensemble_key("best") == "best_ensemble"
    ms = E.resolve_members(paths, d / "results")
    E.check_members("cnn7_x10", ms)                             # all cnn7: fine
    ms[0].record = {**ms[0].record, "model": "cnn4", "parameters": {"model_name": "cnn4"}}
    with pytest.raises(ValueError, match="cnn7"): E.check_members("cnn7_x10", ms)
    E.check_members("best_ensemble", ms)

def test_find_members_prefers_imagenet_and_names_what_is_missing(tmp_path, splits):
    m = tiny_model(0); p = tmp_path / "m.keras"; m.save(p)
    common = dict(metrics={}, params=1, epochs=1, history={}, seed=0, data=splits.train, wall_time_s=0,
                  results_dir=tmp_path, model_path=str(p))
    write_results("gpu-vgg16-frozen-usage", model="vgg16", parameters={"profile": "gpu"}, weights=None, **common)
    write_results("nb-vgg16-frozen-usage", model="vgg16", parameters={"profile": "nb"}, weights="imagenet", **common)
    write_results("nb-resnet50-frozen-usage", model="resnet50", parameters={"profile": "nb"}, weights="imagenet", **common)
    with pytest.raises(FileNotFoundError, match="tuned_cnn"): E.find_members(tmp_path)
    got = E.find_members(tmp_path, ("vgg16", "resnet50"))
    assert [r["run"] for r in got] == ["nb-vgg16-frozen-usage", "nb-resnet50-frozen-usage"]

def test_run_ensemble_writes_results_and_a_saved_ensemble_that_reloads(saved, splits, tmp_path):
    d, paths = saved
    r = E.run_ensemble("cnn7x10", ["cnn7-usage-s0", "cnn7-usage-s1", "cnn7-usage-s2"], splits, profile="test",
                       results_dir=d / "results", model_dir=tmp_path, member_results_dir=d / "results",
                       tta="flip")
    rec = json.loads(Path(r.results_path).read_text())
    assert rec["model"] == "cnn7_x10" and rec["run"] == "test-cnn7_x10-usage" and rec["history"] == {}
    assert rec["members"] == [f"test-cnn7-usage-s{i}" for i in range(3)] and rec["member_models"] == ["cnn7"] * 3
    assert rec["params"] == sum(E.count_params(m.model) for m in r.members) and rec["epochs"] == 3
    assert "weights" not in rec                                   # no transfer member: nothing to say about ImageNet
    assert set(rec["metrics"]) == {"PublicTest", "PrivateTest", "PublicTest+tta", "PrivateTest+tta"}
    assert len(rec["contributions"]) == 4 and rec["member_weights"] == pytest.approx([1 / 3] * 3)
    probs = E.ensemble_proba(r.members, splits.test)
    assert rec["metrics"]["PrivateTest"]["accuracy"] == pytest.approx(float((probs.argmax(1) == splits.test.labels).mean()))
    np.testing.assert_allclose(E.load_keras(rec["model_path"]).predict(splits.test.x, verbose=0), probs, atol=1e-5)
    wrec = json.loads(Path(r.weighted_results_path).read_text())
    np.testing.assert_allclose(E.load_keras(wrec["model_path"]).predict(splits.test.x, verbose=0),
                               E.ensemble_proba(r.members, splits.test, weights=r.weights), atol=1e-5)

def test_an_ensemble_with_a_random_init_transfer_member_says_so(splits, tmp_path):
    from fer_nbdev.transfer import build_transfer
    vgg = build_transfer("vgg16", weights=None, input_size=32)
    vp = tmp_path / "vgg.keras"; vgg.save(vp)
    write_results("test-vgg16-frozen-usage", model="vgg16", metrics={}, params=vgg.count_params(), epochs=2, history={},
                  seed=0, data=splits.train, wall_time_s=0, parameters={}, results_dir=tmp_path, weights=None,
                  model_path=str(vp))
    r = E.run_ensemble("best", ["vgg16-frozen-usage", tiny_model(5, "cnn")], splits, profile="test", results_dir=tmp_path,
                       model_dir=tmp_path, weighted=False, run_name="ensemble-best-usage")
    rec = json.loads(Path(r.results_path).read_text())
    assert rec["weights"] is None and rec["model"] == "best_ensemble" and r.weighted_results_path is None
    assert rec["run"] == "test-ensemble-best-usage" and Path(r.results_path).name == "test-ensemble-best-usage.json"
    loaded = E.load_keras(rec["model_path"])                      # nested transfer model with custom layers
    np.testing.assert_allclose(loaded.predict(splits.val.x, verbose=0), E.ensemble_proba(r.members, splits.val), atol=1e-5)

def test_cnn7_members_trained_with_different_seeds(splits, tmp_path):
    recs = E.cnn7_members(splits, 2, epochs=1, batch_size=64, seed=3, results_dir=tmp_path, model_dir=tmp_path, profile="test")
    assert [r["seed"] for r in recs] == [3, 4]
    assert all(Path(r["path"]).parent == tmp_path / "members" for r in recs)   # out of the report's table
    assert not (tmp_path / "test-cnn7-usage-s3.json").exists()
    ms = E.resolve_members(recs)
    assert [m.key for m in ms] == ["cnn7", "cnn7"]
    w0, w1 = (m.model.get_weights()[0] for m in ms)
    assert not np.allclose(w0, w1)

def test_train_members_resumes_at_the_member(tmp_path, splits, capsys):
    "With backup_dir, members already trained (results file and model present, same parameters) are not trained again; the rest are, and so is a member trained with other parameters."
    kw = dict(epochs=1, batch_size=64, results_dir=tmp_path / "r", model_dir=tmp_path / "m", profile="t",
              backup_dir=tmp_path / "backup", model_kwargs={"augment": False})
    first = E.train_members("cnn7", splits, 1, **kw)
    model_file = Path(first[0]["model_path"])
    stamp = model_file.stat().st_mtime_ns
    again = E.train_members("cnn7", splits, 2, **kw)
    assert "member s0: trained already" in capsys.readouterr().out
    assert model_file.stat().st_mtime_ns == stamp                       # s0 untouched
    assert [r["run"] for r in again] == ["t-cnn7-usage-s0", "t-cnn7-usage-s1"]
    assert again[0]["metrics"] == first[0]["metrics"] and Path(again[1]["model_path"]).is_file()
    assert not (tmp_path / "backup" / "s1").exists()                    # a finished member's backup is gone
    third = E.train_members("cnn7", splits, 1, **{**kw, "epochs": 2})   # another budget: s0 is not that run, so it trains again
    assert "member s0: t-cnn7-usage-s0.json was trained with other parameters (epochs 1 -> 2): training it again" in capsys.readouterr().out
    assert model_file.stat().st_mtime_ns != stamp and third[0]["epochs"] == 2


def test_committed_ensembles_score_as_recorded():
    """Each results file naming committed members: its ensemble, rebuilt from models/ alone, gives the recorded test accuracy
    within 0.1 point on the full FER2013. Its accuracy without TTA is the one checked: the same weights, one pass per
    member instead of the 26 that flip and ten-crop views take (how TTA combines members is tested on small models)."""
    from conftest import ROOT, FULL_DATA
    from fer_nbdev.baseline import get_splits
    from fer_nbdev.data import load_fer2013, file_sha256
    from fer_nbdev.train import averaged_members, predict_proba
    recs = [r for r in read_results(ROOT / "results") if r.get("committed_members")]
    if not recs: pytest.skip("no ensemble has committed members yet (fer-run --profile cpufull commits the best ensemble's)")
    for r in recs:                                      # the files are there and intact, whatever data is at hand
        for e in r["committed_members"]:
            assert (ROOT / e["path"]).is_file() and file_sha256(ROOT / e["path"]) == e["sha256"], e["path"]
    if not FULL_DATA.is_file(): pytest.skip(f"full FER2013 not at {FULL_DATA}")
    full = load_fer2013(FULL_DATA)
    probas = {}   # each committed member scored once (by checksum, TTA and split), whichever ensembles share it
    for r in recs:
        splits = get_splits(full, r["protocol"], r["seed"])
        test_name = splits.names[2]
        rebuilt = E.load_committed(r["path"])            # checksums checked; the recorded weights
        members, weights = averaged_members(rebuilt) or ([rebuilt], [1.0])
        assert len(members) == len(r["committed_members"])
        for m, e in zip(members, r["committed_members"]):
            key = (e["sha256"], r["protocol"], r["seed"])
            if key not in probas: probas[key] = predict_proba(m, splits.test).astype(np.float64)
        # the ensemble is the weighted mean of its members (`predict_proba` on the whole model does the same)
        p = sum(w * probas[(e["sha256"], r["protocol"], r["seed"])] for w, e in zip(weights, r["committed_members"]))
        acc = float((p.argmax(1) == splits.test.labels).mean())
        assert abs(acc - r["metrics"][test_name]["accuracy"]) <= 0.001, (r["run"], acc, r["metrics"][test_name]["accuracy"])


def test_a_lost_member_file_falls_back_to_its_committed_copy(tmp_path):
    "A run whose model file in runs/ is gone resolves to its committed half-precision copy in models/; committing it again leaves that file untouched; with no copy either, the error names the run."
    from conftest import ROOT
    recs = {r["run"]: r for r in read_results(ROOT / "results")}
    committed = [e for r in recs.values() for e in r.get("committed_members", [])]
    if not committed: pytest.skip("no ensemble has committed members yet")
    e = committed[0]
    rec = {**recs[e["run"]], "model_path": f"runs/lost/{e['run']}.keras"}      # as after a new checkout
    m = E.resolve_member(rec)
    assert Path(m.path).resolve() == (ROOT / e["path"]).resolve() and m.name == e["run"]
    before = (ROOT / e["path"]).stat().st_mtime_ns
    rp = tmp_path / "ens.json"
    rp.write_text(json.dumps({"run": "t-ens", "members": [e["run"]], "member_paths": [e["path"]]}))
    assert E.commit_members(rp, ROOT / E.MEMBERS_DIR) == [e]                 # same path, size and checksum
    assert (ROOT / e["path"]).stat().st_mtime_ns == before                   # not rewritten
    with pytest.raises(FileNotFoundError, match="t-nope-usage"):
        E.resolve_member({**rec, "run": "t-nope-usage"})


def test_every_committed_model_is_named_by_a_results_file():
    "No weights in models/ that no results file names (an ensemble that changed members leaves its old ones to delete), and 30 MiB at most: git holds only what the table can use."
    from conftest import ROOT
    named = {(ROOT / e["path"]).resolve() for r in read_results(ROOT / "results") for e in r.get("committed_members", [])}
    files = {p.resolve() for p in (ROOT / E.MEMBERS_DIR).glob("*.keras")} if (ROOT / E.MEMBERS_DIR).is_dir() else set()
    assert not files - named, f"in {E.MEMBERS_DIR}/ but named by no results file: {sorted(p.name for p in files - named)}"
    total = sum(p.stat().st_size for p in files)
    assert total <= 30 * 2**20, f"{E.MEMBERS_DIR}/ holds {total / 2**20:.1f} MiB: over the 30 MiB the README promises (half_precision_keras, or fewer members)"


def test_members_are_selected_on_the_validation_split_only(saved, splits):
    "`select_members` picks the subset whose average scores best on PublicTest, by run name: changing the test split's labels changes nothing, changing the validation split's may."
    d, _ = saved
    runs = [f"test-cnn7-usage-s{i}" for i in range(3)]
    ms, table = E.select_members(runs, splits, results_dir=d / "results", min_members=2)
    assert len(table) == 4 and table.accuracy.is_monotonic_decreasing      # three pairs and the triple
    assert [m.name for m in ms] == table.members[0] and set(table.members[0]) <= set(runs)
    probas = E.member_probas(ms, splits.val)
    assert abs(float((E.combine(probas).argmax(1) == splits.val.labels).mean()) - table.accuracy[0]) < 1e-12
    scrambled = Splits(splits.train, splits.val, FERDataset(splits.test.images, (splits.test.labels + 1) % 7, splits.test.usage,
                                                             splits.test.source), splits.names)
    assert E.select_members(runs, scrambled, results_dir=d / "results", min_members=2)[1].equals(table)
    with pytest.raises(ValueError, match="min_members=3"):
        E.select_members(runs[:2], splits, results_dir=d / "results")
