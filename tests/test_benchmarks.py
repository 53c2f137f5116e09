"""The benchmark scripts whose --json files 08_detect, 08a_runtime and 08b_predict render still run and write what the notebook reads: run on
the shipped sample, with few faces and one repetition (numbers from such a run are checks, never results)."""
import json, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("cv2")


def test_bench_haar_writes_the_settings_table(tmp_path):
    from fer_nbdev.detect import find_faces
    out = tmp_path / "haar.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_haar.py"), "--data", "sample", "--faces", "24",
                        "--reps", "1", "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    b = json.loads(out.read_text())
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_haar import SETTINGS
    assert [row["setting"] for row in b["rows"]] == list(SETTINGS)
    assert b["faces_from"] == "PublicTest (shipped sample)" and b["photos"] == 12
    for row in b["rows"]:
        assert row["faces"] == 24 and 0 <= row["found"] <= 24 and 0 <= row["small_found"] <= row["small_faces"] <= 24
        assert row["portrait_cpu_ms"] > 0 and row["photo1024_cpu_ms"] > 0
    by = {row["setting"]: row for row in b["rows"]}
    assert by["defaults"]["found"] >= 8, by["defaults"]           # Haar finds most plain pasted faces (about two in three)
    # a half-size search scans a quarter of the pixels: less CPU time than the defaults
    assert by["searched at 1/2 size"]["photo1024_cpu_ms"] < by["defaults"]["photo1024_cpu_ms"]
    # what 08_detect checks: the file measured this library's defaults
    import inspect
    assert b["find_faces_defaults"] == {k: v.default for k, v in inspect.signature(find_faces).parameters.items()
                                        if v.default is not inspect.Parameter.empty and k != "bgr"}
    assert str(ROOT) not in out.read_text()                          # no path of this machine
