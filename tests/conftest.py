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


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory):
    """Real executed notebooks: four steps of the smoke profile (the data, the MLP baseline, cnn4, cnn4 taught by that cnn4), run by fer-run's
    `run_profile` into a temporary runs/ and results/, once per session. Returns (runs_dir, results_dir)."""
    from fer_nbdev.pipeline import run_profile
    tmp = tmp_path_factory.mktemp("smoke_runs")
    runs, results = tmp / "runs", tmp / "results"
    summary = run_profile("smoke", only=["00_data", "02_baseline", "03_cnn-cnn4-usage", "03_cnn-cnn4_distilled-usage"],
                          results_dir=results, runs_dir=runs, progress=False)
    assert summary.ok and len(summary.ran) == 4, str(summary)
    return runs, results
