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
