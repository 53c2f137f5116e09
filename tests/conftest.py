import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
FULL_DATA = ROOT.parent / "shared" / "data" / "fer2013.csv.gz"

@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    "A fresh, empty array cache for this test."
    monkeypatch.setenv("FER_NBDEV_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"

needs_full_data = pytest.mark.skipif(not FULL_DATA.is_file(), reason=f"full FER2013 not at {FULL_DATA}")


SMOKE_STEPS = ["00_data", "02_baseline-mlp-usage", "03_cnn-cnn4-usage", "03_cnn-cnn4_distilled-usage"]

def _ci_smoke_run():
    "The runs folder of the smoke run CI made with the README's first command (.ci/run exports FER_SMOKE_CHECKOUT), when it finished SMOKE_STEPS."
    ci = os.environ.get("FER_SMOKE_CHECKOUT")
    done = Path(ci or ".") / "runs" / "smoke"
    return done if ci and all((done / f"{s}.done.json").is_file() and (done / f"{s}.ipynb").is_file() for s in SMOKE_STEPS) else None

@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory):
    """Real executed notebooks: four steps of the smoke profile (the data, the MLP baseline, cnn4, cnn4 taught by that cnn4),
    once per session. In CI they are the README's first command's (copied, those four steps only); run by hand, fer-run's
    `run_profile` runs them into a temporary runs/ and results/. Returns (runs_dir, results_dir)."""
    import json, shutil
    from fer_nbdev.pipeline import run_profile
    tmp = tmp_path_factory.mktemp("smoke_runs")
    runs, results = tmp / "runs", tmp / "results"
    if (ci := _ci_smoke_run()) is not None:
        (runs / "smoke").mkdir(parents=True); results.mkdir()
        for s in SMOKE_STEPS:
            for ext in (".ipynb", ".done.json", ".log"):
                if (ci / f"{s}{ext}").is_file(): shutil.copy2(ci / f"{s}{ext}", runs / "smoke" / f"{s}{ext}")
            for r in json.loads((ci / f"{s}.done.json").read_text())["results"]: shutil.copy2(r, results / Path(r).name)
        return runs, results
    summary = run_profile("smoke", only=SMOKE_STEPS, results_dir=results, runs_dir=runs, progress=False)
    assert summary.ok and len(summary.ran) == 4, str(summary)
    return runs, results
