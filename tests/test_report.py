"""The report: the results table regenerated from results files (written by the real `write_results`, with metrics
from the real `score` on the shipped sample's labels), the Markdown, the plots, and the README markers."""
import json
import numpy as np
import pandas as pd
import pytest

from fer_nbdev.data import load_sample
from fer_nbdev import report
from fer_nbdev.report import (results_table, results_markdown, write_report, update_markers, update_readme, figures,
                              best_run, STUDY, PROTOCOL_SPLITS, RESULTS_START, RESULTS_END, MISSING)
from fer_nbdev.results import score, write_results, read_results

Y = load_sample().labels


def metrics(acc, splits, n=84):
    "Scores of predictions right on the first round(acc*n) faces and wrong on the others."
    y = Y[:n]
    k = int(round(acc * n))
    pred = y.copy()
    pred[k:] = (y[k:] + 1) % 7
    return {s: score(y, np.eye(7)[pred] * 0.9 + 0.1 / 7) for s in splits}


def run(d, name, model, acc, protocol="usage", profile=None, history=True, **extra):
    profile = profile or name.split("-")[0]
    hist = {"loss": [2.0, 1.6, 1.3], "val_loss": [1.9, 1.7, 1.6], "accuracy": [0.2, 0.3, 0.4],
            "val_accuracy": [0.2, 0.25, 0.3]} if history else {}
    return write_results(name, model=model, metrics=metrics(acc, PROTOCOL_SPLITS[protocol]), params=4321, epochs=3,
                         history=hist, seed=0, data={"source": "synthetic", "n": 168}, wall_time_s=7.0,
                         parameters={"profile": profile}, protocol=protocol, results_dir=d, **extra)


@pytest.fixture
def results(tmp_path):
    d = tmp_path / "results"
    run(d, "smoke-cnn7-usage", "cnn7", 0.25)
    run(d, "gpu-cnn7-usage", "cnn7", 0.5)
    run(d, "cpu-cnn7-usage", "cnn7", 0.75)
    run(d, "gpu-resnet50-usage", "resnet50", 0.5, weights=None)
    run(d, "gpu-vgg16-usage", "vgg16", 0.5, weights="imagenet")
    run(d, "cpu-tuned_cnn-stratified", "tuned_cnn", 0.5, protocol="stratified")
    run(d, "gpu-avg_ensemble-usage", "avg_ensemble", 0.75, history=False, notes="members: resnet50, tuned_cnn, vgg16")
    return d


def test_one_row_per_model_in_the_study_order(results):
    t = results_table(results)
    base = [k for k in t.index if "@" not in k]
    assert base[:len(STUDY)] == list(STUDY)                      # the study's nine first, in its order
    assert list(t.index).index("resnet50@random-init") == list(t.index).index("resnet50") + 1   # variant beside its model
    assert not {"vgg", "best_ensemble"} & set(t.index)           # beyond-study rows only where they have a run
    assert t.index.is_unique
    for col in ("PrivateTest acc", "PublicTest acc", "PrivateTest macro-F1", "params", "epochs", "hardware",
                "backend", "wall time s", "train time s", "profile", "study's number"):
        assert col in t.columns


def test_numbers_come_from_the_files(results):
    t = results_table(results)
    rec = next(r for r in read_results(results) if r["run"] == "gpu-vgg16-usage")
    assert t.loc["vgg16", "PrivateTest acc"] == rec["metrics"]["PrivateTest"]["accuracy"]
    assert t.loc["vgg16", "PrivateTest macro-F1"] == rec["metrics"]["PrivateTest"]["macro_f1"]
    assert t.loc["vgg16", "params"] == 4321 and t.loc["vgg16", "backend"] == rec["backend"]
    assert t.loc["vgg16", "study's number"] == STUDY["vgg16"].reported     # the study's, in its own column


def test_strongest_profile_wins_not_best_number(results):
    t = results_table(results)
    assert t.loc["cnn7", "profile"] == "gpu"
    assert t.loc["cnn7", "PrivateTest acc"] == pytest.approx(0.5)       # the cpu run scored 0.75 but gpu is stronger
    assert t.loc["cnn7", "run"] == "gpu-cnn7-usage"


def test_profile_from_run_name_when_parameters_lack_it(tmp_path):
    p = run(tmp_path, "cpu-cnn4-usage", "cnn4", 0.5)
    rec = json.loads(p.read_text())
    rec["parameters"] = {}
    p.write_text(json.dumps(rec))
    run(tmp_path, "smoke-cnn4-usage", "cnn4", 0.25)
    t = results_table(tmp_path)
    assert t.loc["cnn4", "profile"] == "cpu"


def test_missing_is_missing_not_zero(results):
    t = results_table(results)
    assert pd.isna(t.loc["cnn4", "PrivateTest acc"]) and pd.isna(t.loc["cnn4", "params"])
    md = results_markdown(results)
    row = next(l for l in md.splitlines() if l.startswith("| 4-layer CNN |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:11] == [MISSING] * 10 and "0.0%" not in row


def test_unknown_model_gets_a_row(results):
    run(results, "cpu-capsnet-usage", "capsnet", 0.5)
    t = results_table(results)
    assert "capsnet" in t.index and t.loc["capsnet", "PrivateTest acc"] == pytest.approx(0.5)
    assert list(t.index).index("capsnet") > list(t.index).index("avg_ensemble")   # after the study's rows
    assert "capsnet" not in results_table(results, "stratified").index           # and only under the protocol it ran
    assert "| capsnet | 50.0% |" in results_markdown(results)


def test_random_init_transfer_is_flagged_and_kept_apart(results):
    t = results_table(results)
    assert "resnet50@random-init" in t.index
    row = t.loc["resnet50@random-init"]
    assert "random init" in row["name"] and "not ImageNet" in row["name"]
    assert pd.isna(row["study's number"])                       # the study's ImageNet number is not beside it
    assert pd.isna(t.loc["resnet50", "PrivateTest acc"])        # and the ImageNet row stays missing
    assert t.loc["resnet50", "study's number"] == "32.5%"
    assert "ImageNet" in t.loc["vgg16", "name"]
    md = results_markdown(results)
    assert "random initialisation" in md
    assert not any("random init" in l and "32.5%" in l for l in md.splitlines())


def test_editing_a_results_file_changes_the_table(results):
    p = results / "gpu-vgg16-usage.json"
    rec = json.loads(p.read_text())
    rec["metrics"]["PrivateTest"]["accuracy"] = 0.6789
    p.write_text(json.dumps(rec))
    assert results_table(results).loc["vgg16", "PrivateTest acc"] == pytest.approx(0.6789)
    assert "| VGG16 (ImageNet) | 67.9% |" in results_markdown(results)


def test_stratified_table_is_separate(results):
    s = results_table(results, "stratified")
    u = results_table(results, "usage")
    assert s.loc["tuned_cnn", "val acc"] == pytest.approx(0.5) and pd.isna(u.loc["tuned_cnn", "PrivateTest acc"])
    assert pd.isna(s.loc["cnn7", "val acc"])
    md = results_markdown(results)
    assert md.index("Benchmark protocol") < md.index("stratified 80/10/10")
    with pytest.raises(ValueError): results_table(results, "kfold")


def test_notes_and_references_in_markdown(results):
    md = results_markdown(results)
    assert "members: resnet50, tuned_cnn, vgg16" in md
    assert "73.28%" in md and "Khaireddin" in md           # state of the art, as a reference
    assert "not ours" in md and "MSE 0.1439" in md         # the study's numbers labelled as such


def test_no_results(tmp_path):
    for d in (tmp_path / "empty", tmp_path / "does-not-exist"):
        d.parent.mkdir(exist_ok=True)
        if d.name == "empty": d.mkdir()
        t = results_table(d)
        assert list(t.index) == list(STUDY) and t["PrivateTest acc"].isna().all()
        assert "No results yet" in results_markdown(d)
        assert best_run(d) is None
        assert set(figures(d)) == {"accuracy"}


def test_best_run_prefers_strongest_profile(results):
    b = best_run(results)
    assert report.profile_of(b) == "gpu" and b["run"] == "gpu-avg_ensemble-usage"


def test_figures_and_write_report(results, tmp_path):
    figs = figures(results)
    assert set(figs) == {"accuracy", "confusion", "per_class_f1", "history", "cost", "curves"}
    # the ensemble has no history: the learning curves come from the best run that has one
    assert "avg_ensemble" not in figs["history"]._suptitle.get_text()
    out = write_report(results, tmp_path / "rep" / "README.md")
    text = out.read_text()
    assert text.startswith("# Results") and "| 7-layer CNN | 50.0% |" in text
    for name in figs: assert (tmp_path / "rep" / "figures" / f"{name}.png").stat().st_size > 1000
    assert "gpu-avg_ensemble-usage" in text and "smoke-cnn7-usage" in text   # every run read is listed


def test_cost_plot_sums_an_ensembles_members(results):
    # an ensemble whose members have results files costs their training plus its own scoring ...
    run(results / "members", "gpu-cnn7-usage-s1", "cnn7", 0.5)
    run(results, "gpu-cnn7_x10-usage", "cnn7_x10", 0.6, history=False, members=["gpu-cnn7-usage", "gpu-cnn7-usage-s1"])
    recs = read_results(results)
    by_run = {r["run"]: r for r in recs}
    assert report.train_hours(by_run["gpu-cnn7_x10-usage"], recs) == pytest.approx(3 * 7.0 / 3600)
    assert report.train_hours(by_run["gpu-cnn7-usage"], recs) == pytest.approx(7.0 / 3600)
    # ... while one with a member nobody can find is left out of the plot, not drawn too cheap
    assert report.train_hours({**by_run["gpu-avg_ensemble-usage"], "members": ["gpu-nosuch-usage"]}, recs) is None
    fig = report.plot_cost(results)
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert {"cnn7", "cnn7_x10", "avg_ensemble"} <= labels and "tuned_cnn" not in labels   # usage rows only
    pts = {t.get_text(): t.xy for t in fig.axes[0].texts}
    assert pts["cnn7_x10"][0] == pytest.approx(3 * pts["cnn7"][0]) and pts["cnn7"][1] == pytest.approx(50.0)
    import matplotlib.pyplot as plt; plt.close(fig)


def test_update_markers_markdown(results, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# t\n\nintro: the table lies between `{RESULTS_START}` and `{RESULTS_END}`\n\n{RESULTS_START}\nstale\n{RESULTS_END}\n\nafter\n")
    assert update_readme(results, [readme]) == [readme]
    text = readme.read_text()
    assert "stale" not in text and text.startswith(f"# t\n\nintro: the table lies between `{RESULTS_START}` and `{RESULTS_END}`\n")
    assert text.rstrip().endswith("after")                     # markers quoted in prose are not the markers
    assert text.count(f"\n{RESULTS_START}\n") == 1 and "| 7-layer CNN | 50.0% |" in text
    assert update_readme(results, [readme]) == []             # unchanged results: file untouched
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match="markers"): update_markers(readme, "x")


def test_update_markers_notebook(tmp_path):
    nb = {"cells": [{"cell_type": "markdown", "id": "a", "metadata": {},
                     "source": ["## Results\n", f"{RESULTS_START}\n", "old\n", RESULTS_END]},
                    {"cell_type": "code", "id": "b", "metadata": {}, "source": ["x = 1"], "outputs": [], "execution_count": None}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    p = tmp_path / "index.ipynb"
    p.write_text(json.dumps(nb))
    assert update_markers(p, "| a | b |\n|---|---|\n| 1 | 2 |")
    new = json.loads(p.read_text())
    src = "".join(new["cells"][0]["source"])
    assert "old" not in src and "| 1 | 2 |" in src and src.startswith("## Results\n")
    assert new["cells"][1] == nb["cells"][1]
    import nbformat
    nbformat.validate(nbformat.reads(p.read_text(), as_version=4))


def test_project_index_and_readme_have_markers():
    root = report.project_dir()
    idx = (root / "nbs" / "index.ipynb").read_text()
    assert RESULTS_START in idx and RESULTS_END in idx
    readme = root / "README.md"
    if RESULTS_START in readme.read_text():
        assert readme.read_text().index(RESULTS_START) < readme.read_text().index(RESULTS_END)


def test_model_key_with_protocol_suffix_counts_as_the_model(tmp_path):
    run(tmp_path, "gpu-cnn4-usage", "cnn4-usage", 0.5)        # run_experiment records the run name as `model`
    t = results_table(tmp_path)
    assert t.loc["cnn4", "PrivateTest acc"] == pytest.approx(0.5) and "cnn4-usage" not in t.index


def test_transfer_modes_and_weighted_variants_get_their_own_rows(tmp_path):
    run(tmp_path, "gpu-resnet50-frozen-usage", "resnet50", 0.25, weights="imagenet", mode="frozen", input_size=224)
    run(tmp_path, "gpu-resnet50-finetune-usage", "resnet50", 0.5, weights="imagenet", mode="finetune", input_size=224)
    run(tmp_path, "gpu-avg_ensemble-usage", "avg_ensemble", 0.5, history=False, weights="imagenet")
    run(tmp_path, "gpu-avg_ensemble_weighted-usage", "avg_ensemble_weighted", 0.75, history=False, weights="imagenet")
    t = results_table(tmp_path)
    keys = list(t.index)
    assert t.loc["resnet50", "PrivateTest acc"] == pytest.approx(0.25)            # frozen: the study's row
    assert t.loc["resnet50@finetune", "PrivateTest acc"] == pytest.approx(0.5)
    assert keys.index("resnet50@finetune") == keys.index("resnet50") + 1
    assert "finetune" in t.loc["resnet50@finetune", "name"] and "224 px" in t.loc["resnet50", "name"]
    assert pd.isna(t.loc["resnet50@finetune", "study's number"]) and t.loc["resnet50", "study's number"] == "32.5%"
    assert keys.index("avg_ensemble_weighted") == keys.index("avg_ensemble") + 1   # a variant sits under its model
    assert pd.isna(t.loc["avg_ensemble_weighted", "study's number"])
    assert "weighted" in t.loc["avg_ensemble_weighted", "name"]


def test_tta_accuracy_column(tmp_path):
    p = run(tmp_path, "gpu-vgg-usage", "vgg", 0.5)
    rec = json.loads(p.read_text())
    rec["metrics"]["PrivateTest+tta"] = {**rec["metrics"]["PrivateTest"], "accuracy": 0.7311}
    p.write_text(json.dumps(rec))
    t = results_table(tmp_path)
    assert t.loc["vgg", "PrivateTest TTA acc"] == pytest.approx(0.7311) and t.loc["vgg", "PrivateTest acc"] == pytest.approx(0.5)
    assert "| 50.0% | 73.1% |" in results_markdown(tmp_path)


def test_runs_on_the_sample_are_never_published(results, tmp_path):
    "Issue 12: a run on the shipped sample stays out of the published table, README and report, wherever it is; the sample's own report holds it."
    from fer_nbdev.data import load_sample
    sample = load_sample()
    write_results("smoke-cnn4-usage", model="cnn4", metrics=metrics(0.9, PROTOCOL_SPLITS["usage"]), params=99, epochs=1,
                  history={}, seed=0, data={"source": "fer2013_sample.csv.gz", "sha256": sample.checksum(), "n": 168},
                  wall_time_s=1.0, parameters={"profile": "smoke", "data_path": "sample"}, results_dir=results)
    assert pd.isna(results_table(results).loc["cnn4", "PrivateTest acc"])
    readme = tmp_path / "README.md"
    readme.write_text(f"{RESULTS_START}\n{RESULTS_END}\n")
    update_readme(results, [readme])
    row = next(l for l in readme.read_text().splitlines() if l.startswith("| 4-layer CNN |"))
    assert "90.5%" not in row and row.split("|")[2].strip() == MISSING
    published = write_report(results, tmp_path / "pub" / "README.md").read_text()
    assert "smoke-cnn4-usage" not in published and published.startswith("# Results")
    check = write_report(results, tmp_path / "check" / "README.md", sample=True).read_text()
    assert check.startswith("# Pipeline check on the shipped sample") and "not a measure of accuracy" in check
    assert "| 4-layer CNN | 90.5% |" in check and "gpu-cnn7-usage" not in check     # only the sample's runs
