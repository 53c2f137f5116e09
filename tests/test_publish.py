"""fer-run --publish: the outputs of real runs copied into the notebooks (fer_nbdev.pipeline.publish_outputs).

The executed notebooks come from real smoke steps run into a temporary folder (the `smoke_runs` fixture); they are
published into copies of the project's notebooks, never into nbs/. The last tests check the committed notebooks
themselves: whatever outputs they hold stay small, clean, and say which run they come from.
"""
import base64, io, json, os, re, shutil, subprocess, sys, tempfile
from pathlib import Path

import nbformat
import pytest

from fer_nbdev.publish import OUTPUTS_TAG, banner_info, find_banner, finished_runs, pick_runs, publish_outputs
from fer_nbdev.pipeline import main

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
BUDGET_MB, NOTEBOOK_MB, MAX_WIDTH = 15, 1.5, 900
LISTED = ("00_data", "01_augmentation", "02_baseline", "03_cnn", "04_tuning", "05_transfer", "06_ensemble",
          "07_report", "08_detect", "08a_runtime", "08b_predict")   # the pages issue 14 lists: each shows the outputs of a run


def copy_nbs(dest, names=("00_data", "02_baseline", "03_cnn")):
    dest.mkdir(parents=True, exist_ok=True)
    for n in names: shutil.copy(NBS / f"{n}.ipynb", dest)
    return dest


def outputs_of(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def text_of(outs):
    "The outputs as JSON, images left out (base64 can hold any short string)."
    return json.dumps([{**o, "data": {k: v for k, v in o.get("data", {}).items() if not k.startswith("image/")}} for o in outs])


def banner(nb):
    "The banner's Markdown (asserting there is at most one), or None."
    found = [o for c in nb.cells for o in c.get("outputs", []) if OUTPUTS_TAG in (o.get("metadata") or {})]
    assert len(found) <= 1, "more than one banner"
    return found[0]["data"]["text/markdown"] if found else None


def png_sizes(nb):
    from PIL import Image
    return [Image.open(io.BytesIO(base64.b64decode(o["data"]["image/png"]))).size
            for o in outputs_of(nb) if "image/png" in o.get("data", {})]


def machine_paths(text, *extra):
    "Absolute paths of this machine found in `text`."
    roots = {str(ROOT), tempfile.gettempdir(), "/tmp/", str(Path.home()) + "/", *map(str, extra)}
    return [r for r in roots if r and len(r) > 2 and r in text]


def test_publish_copies_cleaned_outputs_matched_by_source(smoke_runs, tmp_path):
    runs, results = smoke_runs
    nbs = copy_nbs(tmp_path / "nbs")
    # another engineer's edits since the run: a new first cell, and one cell changed
    nb = nbformat.read(nbs / "03_cnn.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("#| hide\n# Colab set-up\nimport sys"))
    changed = next(i for i, c in enumerate(nb.cells) if c.source.startswith("plot_history("))
    nb.cells[changed].source += "\n# edited after the run"
    nbformat.write(nb, nbs / "03_cnn.ipynb")
    before = {n: nbformat.read(nbs / f"{n}.ipynb", as_version=4) for n in ("00_data", "02_baseline", "03_cnn")}

    table = publish_outputs(runs_dir=runs, nbs_dir=nbs)
    assert table.loc["03_cnn", "step"] == "03_cnn-cnn4-usage" and table.loc["00_data", "profile"] == "smoke"

    for name, old in before.items():
        new = nbformat.read(nbs / f"{name}.ipynb", as_version=4)
        b = banner(new)
        # the banner is the parameters cell's first output and names the run; the cells are the notebook's own
        at, _ = find_banner(new)
        assert "parameters" in new.cells[at].metadata.get("tags", []) and OUTPUTS_TAG in new.cells[at].outputs[0].metadata
        info = banner_info(b)
        assert info["profile"] == "smoke" and info["sample"] is True and info["step"] == table.loc[name, "step"]
        assert "Outputs from the sample run; the full run is `fer-run --profile cpufull" in b
        assert [(c.cell_type, c.source) for c in new.cells] == [(c.cell_type, c.source) for c in old.cells]   # so nbdev_export is unchanged
        outs = outputs_of(new)
        assert outs, f"{name}: no outputs published"
        text = text_of(outs)
        assert not any(o["output_type"] == "stream" and o["name"] == "stderr" for o in outs)
        assert not machine_paths(text, runs, results), f"{name}: machine paths in outputs"
        assert "\\r" not in text and "\\b" not in text and "\\u001b[" not in text and "━" not in text   # no progress bars
        assert "absl" not in text and "cuda" not in text.lower()                                       # no TF start-up logs
        assert all(c.get("execution_count") is None for c in new.cells if c.cell_type == "code")
        assert all(o.get("execution_count") is None for o in outs)
        assert all(w <= MAX_WIDTH for w, h in png_sizes(new))

    cnn = nbformat.read(nbs / "03_cnn.ipynb", as_version=4)
    assert cnn.cells[0].outputs == [] and cnn.cells[changed].outputs == []   # new and edited cells: no outputs
    confusion = next(c for c in cnn.cells if c.source.startswith("test_split = splits.names[2]"))
    assert any("image/png" in o.get("data", {}) for o in confusion.outputs)       # the unchanged cell after it: its plot
    # the numbers shown are the results file's: the cell that prints the metrics
    rec = json.loads((results / "smoke-cnn4-usage.json").read_text())
    shown = next(c for c in cnn.cells if c.source.startswith("rec = json.loads(path.read_text())")).outputs[0]["data"]["text/plain"]
    assert f"'PrivateTest': {{'accuracy': {round(rec['metrics']['PrivateTest']['accuracy'], 4)}" in shown
    assert banner_info(banner(cnn))["results"][0].endswith("smoke-cnn4-usage.json")
    # the training log: one line per epoch, the bar dropped, the metrics kept
    log = next(c for c in cnn.cells if c.source.startswith("fit_kwargs = dict(")).outputs[0]["text"]
    assert re.search(r"^\d+/\d+ \S+ \S+/step - accuracy: [\d.]+ .*val_accuracy", log, re.M), log


def test_publish_is_idempotent_and_survives_nbdev_clean(smoke_runs, tmp_path):
    runs, _ = smoke_runs
    nbs = copy_nbs(tmp_path / "nbs", ("02_baseline",))
    publish_outputs(runs_dir=runs, nbs_dir=nbs)
    first = (nbs / "02_baseline.ipynb").read_bytes()
    publish_outputs(runs_dir=runs, nbs_dir=nbs)
    assert (nbs / "02_baseline.ipynb").read_bytes() == first           # one banner, same outputs: nothing changes
    r = subprocess.run(["nbdev_clean", "--fname", str(nbs / "02_baseline.ipynb")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (nbs / "02_baseline.ipynb").read_bytes() == first           # nbdev_clean keeps the outputs, and the format


def test_nbdev_test_ignores_published_outputs(smoke_runs, tmp_path):
    "nbdev_test runs the notebook on its defaults: stored outputs, even nonsense ones, neither fail nor change it."
    runs, _ = smoke_runs
    nbs = copy_nbs(tmp_path / "nbs", ("02_baseline",))
    publish_outputs(runs_dir=runs, nbs_dir=nbs)
    nb = nbformat.read(nbs / "02_baseline.ipynb", as_version=4)
    nb.cells[-2].outputs.append(nbformat.v4.new_output("stream", name="stdout", text="not what this cell prints\n"))
    nbformat.write(nb, nbs / "02_baseline.ipynb")
    stored = (nbs / "02_baseline.ipynb").read_bytes()
    r = subprocess.run(["nbdev_test", "--path", str(nbs / "02_baseline.ipynb")], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert (nbs / "02_baseline.ipynb").read_bytes() == stored


def test_strongest_profile_wins_and_real_runs_say_so(smoke_runs, tmp_path):
    "A finished cpufull step beats smoke; its banner names the real run, with no sample warning."
    runs, _ = smoke_runs
    mine = tmp_path / "runs"
    shutil.copytree(runs / "smoke", mine / "smoke")
    (mine / "cpufull").mkdir()
    ex = json.loads((runs / "smoke" / "02_baseline-mlp-usage.ipynb").read_text())
    ex["metadata"]["papermill"]["parameters"].update(data_path=None, profile="cpufull")
    (mine / "cpufull" / "02_baseline-mlp-usage.ipynb").write_text(json.dumps(ex))
    (mine / "cpufull" / "02_baseline-mlp-stratified.ipynb").write_text(json.dumps(ex))   # no record: still running
    rec = json.loads((runs / "smoke" / "02_baseline-mlp-usage.done.json").read_text())
    (mine / "cpufull" / "02_baseline-mlp-usage.done.json").write_text(json.dumps({**rec, "step": "02_baseline-mlp-usage"}))
    assert {(r["profile"], r["step"]) for r in finished_runs(mine) if r["notebook"] == "02_baseline"} == \
           {("smoke", "02_baseline-mlp-usage"), ("cpufull", "02_baseline-mlp-usage")}
    assert pick_runs(mine)["02_baseline"]["profile"] == "cpufull"
    assert pick_runs(mine, profile="smoke")["02_baseline"]["profile"] == "smoke"
    nbs = copy_nbs(tmp_path / "nbs", ("02_baseline",))
    assert main(["--publish", "--runs", str(mine), "--nbs", str(nbs), "--only", "02_baseline"]) == 0
    b = banner(nbformat.read(nbs / "02_baseline.ipynb", as_version=4))
    assert banner_info(b)["profile"] == "cpufull" and not banner_info(b)["sample"]
    assert "sample run" not in b and "Outputs of the real run" in b and "data_path = None" in b


def test_notebook_without_run_is_left_alone(tmp_path):
    nbs = copy_nbs(tmp_path / "nbs", ("05_transfer",))
    before = (nbs / "05_transfer.ipynb").read_bytes()
    table = publish_outputs(runs_dir=tmp_path / "no-runs", nbs_dir=nbs)
    assert table.loc["05_transfer", "note"].startswith("no finished run")
    assert (nbs / "05_transfer.ipynb").read_bytes() == before


# ------------------------------------------------------------------------------- the committed notebooks -----
def committed():
    return {p.stem: nbformat.read(p, as_version=4) for p in sorted(NBS.glob("*.ipynb"))}


def test_committed_outputs_stay_small_and_clean():
    "All committed outputs together under 15 MB, each notebook under 1.5 MB, none with stderr, paths or progress bars."
    total = 0
    for name, nb in committed().items():
        size = (NBS / f"{name}.ipynb").stat().st_size
        assert size < NOTEBOOK_MB * 2**20, f"{name}: {size / 2**20:.2f} MB"
        outs = outputs_of(nb)
        total += len(json.dumps(outs))
        text = text_of(outs)
        assert not any(o["output_type"] == "stream" and o.get("name") == "stderr" for o in outs), name
        assert not machine_paths(text), f"{name}: machine paths in its outputs"
        assert "\\r" not in text and "\\u001b[" not in text, f"{name}: terminal control codes in its outputs"
        assert all(w <= MAX_WIDTH for w, h in png_sizes(nb)), name
        assert all(c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"), name
    assert total < BUDGET_MB * 2**20, f"committed outputs: {total / 2**20:.1f} MB"


def test_committed_banners_name_results_files_that_exist():
    "A notebook with published outputs names its run, and the results files that run wrote are in results/."
    published = {n: banner(nb) for n, nb in committed().items() if banner(nb) is not None}
    if not published: pytest.skip("no outputs published into nbs/ yet (fer-run --publish)")
    for name, b in published.items():
        info = banner_info(b)
        assert info and info["profile"] and info["step"].startswith(name), name
        assert ("sample run" in b) == bool(info["sample"]), name
        for r in info["results"]:   # a sample run's results files are not committed (.gitignore): they are no results
            assert info["sample"] or (ROOT / r).is_file(), f"{name}: its banner names {r}, which is not in the project"
    missing = [n for n in LISTED if n not in published]
    assert not missing, f"no published outputs in {missing} (run their steps, then fer-run --publish)"
