"""No machine paths in committed files (issue 12, part 2): results files record the data source as its file name and
checksum and every other path relative to the project; committed notebooks hold no path of the machine that ran them."""
import json, re, subprocess, sys
from pathlib import Path

import numpy as np
import pytest

from fer_nbdev.data import FERDataset, load_sample
from fer_nbdev.results import portable_record, project_dir, resolve_path, score, write_results

ROOT = Path(__file__).resolve().parents[1]
# an absolute POSIX path (not the tail of a URL or of a relative path), or a Windows drive path
ABS = re.compile(r"(?<![\w.:/~@-])/(?:[\w.@+-]+/)+[\w.@+-]*|\b[A-Za-z]:\\[\w.\\-]+")


def committed(*patterns) -> list[Path]:
    "The files git tracks under `patterns` (the working tree's files where git is not available)."
    try:
        out = subprocess.run(["git", "ls-files", "--", *patterns], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        return [ROOT / l for l in out.splitlines() if (ROOT / l).is_file()]
    except (OSError, subprocess.CalledProcessError):
        return sorted(p for pat in patterns for p in ROOT.glob(pat) if p.is_file())


def absolute_strings(obj, where=""):
    "(where, string) for every string in a JSON value that is an absolute path or holds one."
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not str(k).startswith("image/"): yield from absolute_strings(v, f"{where}.{k}")   # base64 pixels, not paths
    elif isinstance(obj, list):
        for i, v in enumerate(obj): yield from absolute_strings(v, f"{where}[{i}]")
    elif isinstance(obj, str) and ABS.search(obj):
        yield where, obj


def test_the_detector_catches_machine_paths():
    "The check below can fail: it finds the kinds of path the committed files used to hold."
    rec = {"data": {"source": "/work/shared/data/fer2013.csv.gz"}, "model_path": "C:\\Users\\me\\m.keras",
           "ok": ["runs/cpu/models/m.keras", "https://fer-nbdev.github.io/fer_nbdev/data.html", "80/10/10", "fer2013.csv.gz"]}
    assert [w for w, _ in absolute_strings(rec)] == [".data.source", ".model_path"]


def test_committed_results_files_hold_no_absolute_path():
    files = committed("results/*.json", "results/**/*.json", "fer_nbdev/assets/*.json")
    assert any(f.parent.name == "results" for f in files), "no committed results files found"
    bad = [(f.relative_to(ROOT), w, s) for f in files for w, s in absolute_strings(json.loads(f.read_text()))]
    assert not bad, f"absolute paths in committed results files (fix: python scripts/portable_results.py --root OLD_ROOT FILES): {bad}"
    for f in committed("results/*.md"):
        assert not ABS.search(f.read_text()), f"{f}: {ABS.search(f.read_text()).group(0)}"


def test_committed_notebooks_hold_no_machine_path():
    "Outputs and metadata of committed notebooks hold no absolute path at all; their sources, none of this machine's."
    # the project's own location, the data folder beside it (../shared), the home folder
    mine = {str(p) for p in (ROOT, ROOT.parent / "shared", Path.home()) if len(p.parts) > 1}
    nbs = committed("nbs/*.ipynb")
    assert len(nbs) >= 12
    for f in nbs:
        nb = json.loads(f.read_text())
        run_bits = [nb.get("metadata", {})] + [[c.get("metadata", {}), c.get("outputs", [])] for c in nb["cells"]]
        assert not list(absolute_strings(run_bits)), f"{f.name}: {list(absolute_strings(run_bits))[:3]}"
        text = f.read_text()
        found = [m for m in mine if re.search(rf"(?<![\w.~-]){re.escape(m)}(?![\w.-])", text)]
        assert not found, f"{f.name} holds a path of this machine: {found}"


def _metrics():
    y = load_sample().labels[:70]
    return {"PrivateTest": score(y, np.eye(7)[y] * 0.9 + 0.1 / 7)}


def test_write_results_records_file_name_checksum_and_relative_paths(tmp_path):
    "A run on a data file outside the project, saving its model inside it: the file holds no absolute path."
    s = load_sample()
    ds = FERDataset(s.images, s.labels, s.usage, str(tmp_path / "somewhere" / "fer2013.csv.gz"))
    model_path = project_dir() / "runs" / "cpu" / "models" / "cpu-x-usage.keras"
    p = write_results("cpu-x-usage", model="x", metrics=_metrics(), params=1, epochs=1, history={}, seed=0, data=ds,
                      wall_time_s=1, parameters={"model_dir": str(model_path.parent)}, results_dir=tmp_path,
                      model_path=str(model_path), member_paths=[str(model_path)])
    rec = json.loads(p.read_text())
    assert rec["data"] == {"source": "fer2013.csv.gz", "sha256": ds.checksum(), "n": len(ds)}
    assert rec["model_path"] == "runs/cpu/models/cpu-x-usage.keras" == rec["member_paths"][0]
    assert rec["parameters"]["model_dir"] == "runs/cpu/models"
    assert not list(absolute_strings(rec))
    assert resolve_path(rec["model_path"]) == model_path            # and it reads back to the same file
    assert rec["metrics"] == json.loads(json.dumps(_metrics()))      # the numbers are what was scored


def test_the_one_off_script_rewrites_paths_and_nothing_else(tmp_path):
    "scripts/portable_results.py on a record written on another machine: paths change, every number stays."
    old_root = "/home/someone/fer_nbdev"
    rec = {"data": {"source": "/mnt/data/fer2013.csv.gz", "sha256": "ab", "n": 3}, "metrics": {"PrivateTest": {"accuracy": 0.594}},
           "model_path": f"{old_root}/runs/cpu/models/m.keras", "hparams_path": f"{old_root}/results/cpu-tuning/h.json"}
    f = tmp_path / "r.json"
    f.write_text(json.dumps(rec, indent=1) + "\n")
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "portable_results.py"), "--root", old_root, str(f)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    new = json.loads(f.read_text())
    assert new == {**rec, "data": {**rec["data"], "source": "fer2013.csv.gz"}, "model_path": "runs/cpu/models/m.keras",
                   "hparams_path": "results/cpu-tuning/h.json"}
    assert portable_record(new) == new                                # a second pass changes nothing


def test_the_detector_reads_paths_not_pictures():
    "A base64 PNG often holds '/work'-like runs of characters: image outputs are pixels, never paths; text outputs are checked."
    out = {"data": {"image/png": "iVBORw0KGgo/work/abc/home/x==", "text/plain": "/work/main/results/x.json"}}
    assert [w for w, _ in absolute_strings(out)] == [".data.text/plain"]
