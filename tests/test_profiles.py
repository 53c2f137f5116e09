"""fer_nbdev.profiles: the profiles file as data, checked when it is read; `fer-run --profile my.yaml` runs a user's own.

The end-to-end test runs the shipped 02_baseline on the sample (seconds) into temporary folders.
"""
import json
from pathlib import Path

import pytest

from fer_nbdev import profiles as P
from fer_nbdev.pipeline import main

NBS = Path(__file__).resolve().parents[1] / "nbs"


def test_the_shipped_file_checks_out_against_the_notebooks():
    "Every step of every profile names a notebook that exists and only parameters it declares; PROFILES is what the file says."
    data = P.load_profiles(nbs_dir=NBS)                     # raises on any mistake
    assert list(data["profiles"]) == ["smoke", "cpu", "cpufull", "gpu"] == list(P.PROFILES)
    assert data["profiles"] == P.PROFILES
    assert P.PROFILES_FILE.parent == Path(P.__file__).parent   # inside the package (setup.py ships it as package data)


def test_sets_are_what_the_steps_train_with():
    "The recipe the search chose, the distillation settings and the tuned network reach the steps that use them, unchanged."
    steps = {s["step"]: s["parameters"] for s in P.PROFILES["cpufull"]["steps"]}
    assert P.RECIPE == {**P.RECIPE_BASE, **P.RECIPE_VARIANTS["adamw"][1], **P.RECIPE_VARIANTS["nocrop"][1]}
    assert P.RECIPE["optimizer"] == "adamw" and P.RECIPE["crop"] is None and P.RECIPE_BASE["optimizer"] == "sgd"
    for name in ("03_cnn-cnn7-usage", "03_cnn-cnn4-stratified", "03_cnn-resnet-usage"):
        assert {k: steps[name][k] for k in P.RECIPE if k not in ("model_name", "protocol")} == \
               {k: v for k, v in P.RECIPE.items() if k not in ("model_name", "protocol")}, name
    for k, (_, change) in P.RECIPE_VARIANTS.items():      # each search run: the base with its one change
        want = {**P.RECIPE_BASE, **change}
        assert {x: steps[f"03_cnn-recipe-{k}"][x] for x in want} == want, k
    for k, setting in P.DISTILL_SEARCH.items():
        got = steps[f"03_cnn-distill-{k}"]
        assert (got["temperature"], got["distill"], got["teacher"], got["epochs"]) == \
               (setting["temperature"], setting["distill"], P.DISTILL_TARGETS, P.DISTILL_EPOCHS)
    assert steps["03_cnn-tuned_distilled-usage"]["model_kwargs"] == P.TUNED_AS_VGG
    # a step's parameters are its own: changing one never changes a set or another step
    steps["03_cnn-cnn7-usage"]["optimizer"] = "sgd"
    assert P.RECIPE["optimizer"] == "adamw" and steps["03_cnn-cnn4-usage"]["optimizer"] == "adamw"
    P.PROFILES["cpufull"]["steps"][next(i for i, s in enumerate(P.PROFILES["cpufull"]["steps"])
                                        if s["step"] == "03_cnn-cnn7-usage")]["parameters"]["optimizer"] = "adamw"


MINE = """\
profiles:
  mine:
    description: the MLP on the shipped sample
    parameters: {data_path: sample, seed: 0}
    steps:
      - {notebook: 02_baseline, label: mlp, runs: [mlp-usage], parameters: {protocol: usage, max_iter: 5}}
"""


def test_fer_run_runs_a_profile_of_ones_own(tmp_path, capsys):
    mine = tmp_path / "mine.yaml"
    mine.write_text(MINE)
    runs, results = tmp_path / "runs", tmp_path / "results"
    assert main(["--profile", str(mine), "--list", "--runs", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "profile mine: the MLP on the shipped sample" in out and "02_baseline-mlp" in out and "todo" in out
    assert main(["--profile", str(mine), "--runs", str(runs), "--results", str(results), "--no-progress"]) == 0
    rec = json.loads((results / "mine-mlp-usage.json").read_text())
    assert rec["parameters"]["max_iter"] == 5 and (runs / "mine" / "02_baseline-mlp.ipynb").is_file()
    assert main(["--profile", f"{mine}:mine", "--runs", str(runs), "--results", str(results)]) == 0   # by name too
    assert "done already, skipped" in capsys.readouterr().out


@pytest.mark.parametrize("text, says", [
    (MINE.replace("notebook: 02_baseline", "notebok: 02_baseline"), "profile 'mine', step 1 (?-mlp): unknown key 'notebok'"),
    (MINE.replace("max_iter: 5", "max_itre: 5"), "profile 'mine', step 1 (02_baseline-mlp): 02_baseline declares no parameter 'max_itre'"),
    (MINE.replace("02_baseline", "42_not_written"), "profile 'mine', step 1 (42_not_written-mlp): no notebook"),
    (MINE.replace("max_iter: 5", "max_iter: 5, use: [base]"), "`use` takes parameter sets"),
    (MINE + "  theirs: {steps: [{notebook: 00_data}]}\n", "holds 2 profiles (mine, theirs): say which, as"),
    ("profiles: {mine: {steps: [{notebook: 02_baseline, label: a, runs: [x]}, {notebook: 02_baseline, label: b, runs: [x]}]}}",
     "profile 'mine': two steps write the run 'x'"),
])
def test_a_mistake_in_a_profiles_file_is_named_before_anything_runs(tmp_path, capsys, text, says):
    mine = tmp_path / "mine.yaml"
    mine.write_text(text)
    assert main(["--profile", str(mine), "--runs", str(tmp_path / "runs"), "--results", str(tmp_path / "results")]) == 2
    out = capsys.readouterr().out
    assert says in out and "mine.yaml" in out, out
    assert not (tmp_path / "runs").exists() and not (tmp_path / "results").exists()   # nothing ran


def test_a_missing_profiles_file_or_profile_name_is_a_usage_error(tmp_path, capsys):
    assert main(["--profile", str(tmp_path / "none.yaml")]) == 2
    assert "no such profiles file" in capsys.readouterr().out
    assert main(["--profile", "huge"]) == 2
    assert "smoke, cpu, cpufull, gpu" in capsys.readouterr().out
