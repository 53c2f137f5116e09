"""Colab (issue 12, part 4): every numbered notebook has an "Open in Colab" badge and a first, hidden cell that acts only on
Colab. Outside Colab the cell does nothing; on (a stand-in for) Colab it fetches and installs the package, finds the data or
says how to get it, and on a GPU the notebook's parameters cell ends with the GPU profile's values. That every notebook
still runs in a fresh kernel is nbdev_test's part of scripts/test.sh (and fer-run's, in test_pipeline.py)."""
import json, os, re, subprocess, sys
from pathlib import Path

import pytest

from fer_nbdev.profiles import PROFILES, notebook_parameters

ROOT = Path(__file__).resolve().parents[1]
NUMBERED = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if re.match(r"\d", p.name))
src = lambda c: "".join(c["source"]) if isinstance(c["source"], list) else c["source"]


def cells(path): return json.loads(path.read_text())["cells"]


def test_every_numbered_notebook_has_the_badge_and_the_colab_cell_first():
    assert len(NUMBERED) >= 13
    first = {src(cells(p)[0]) for p in NUMBERED}
    assert len(first) == 1, "the first cells differ: they should be the same one line calling colab.setup_colab"
    cell = first.pop()
    assert cell.startswith("#| hide\n") and "from fer_nbdev.colab import setup_colab; setup_colab()" in cell
    for p in NUMBERED:
        url = f"https://colab.research.google.com/github/fer-nbdev/fer_nbdev/blob/main/nbs/{p.name}"
        assert any(c["cell_type"] == "markdown" and url in src(c) and "colab-badge.svg" in src(c) for c in cells(p)[:5]), p.name


def test_nbdev_and_papermill_still_find_their_cells():
    "default_exp after the Colab cell still names the module (nbdev_export writes it), and the parameters cells are still read."
    for p in NUMBERED:
        exp = next(src(c).split()[-1] for c in cells(p) if src(c).startswith("#| default_exp"))
        mod = ROOT / "fer_nbdev" / f"{exp.replace('.', '/')}.py"
        assert f"File to edit: ../nbs/{p.name}" in mod.read_text(), (p.name, mod)
        tagged = [c for c in cells(p) if "parameters" in c.get("metadata", {}).get("tags", [])]
        if tagged: assert notebook_parameters(p), p.name


DRIVER = r'''
import contextlib, io, json, os, subprocess, sys, types
from pathlib import Path
from IPython.core.interactiveshell import InteractiveShell
args = json.loads(sys.argv[1])
calls = []
def recorder(cmd, *a, **k):
    calls.append(cmd if isinstance(cmd, str) else list(cmd))
    return subprocess.CompletedProcess(cmd, 0, "", "")
if args["colab"]:
    sys.modules["google.colab"] = types.ModuleType("google.colab")
    subprocess.run = recorder                      # git clone, pip install: recorded, not run
    import fer_nbdev.colab as colab
    colab.CHECKOUT, colab.DATA_DIR = Path(args["checkout"]), Path(args["data_dir"])
    colab.has_gpu = lambda: args["gpu"]
else:
    def refuse(*a, **k): raise AssertionError(f"the Colab cell ran a command outside Colab: {a}")
    subprocess.run = subprocess.Popen = os.system = refuse
shell = InteractiveShell.instance()
out = []
for cell in args["cells"]:
    before = dict(env=dict(os.environ), path=list(sys.path), cwd=os.getcwd(), files=sorted(os.listdir(".")),
                  ns=set(shell.user_ns), hooks=len(shell.events.callbacks["post_run_cell"]))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf): r = shell.run_cell(cell)
    after = dict(env=dict(os.environ), path=list(sys.path), cwd=os.getcwd(), files=sorted(os.listdir(".")),
                 ns=set(shell.user_ns), hooks=len(shell.events.callbacks["post_run_cell"]))
    out.append(dict(ok=r.success, error=repr(r.error_in_exec), printed=buf.getvalue(),
                    changed=sorted(k for k in before if k != "ns" and before[k] != after[k]),
                    new_names=sorted(after["ns"] - before["ns"])))
ns = {k: shell.user_ns[k] for k in args.get("show", []) if k in shell.user_ns}
print("RESULT" + json.dumps(dict(cells=out, calls=calls, ns=ns, env={k: os.environ.get(k) for k in ("FER2013_PATH", "FER_NBS")})))
'''


def drive(tmp_path, env=None, **args):
    r = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(args)], cwd=tmp_path, capture_output=True, text=True,
                       timeout=600, env={k: v for k, v in {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}.items() if v is not None})
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.split("RESULT", 1)[1])


def test_outside_colab_the_first_cell_does_nothing(tmp_path):
    "Each notebook's first cell, run in a fresh IPython that is not Colab: no command, no output, no file, no change to the environment, sys.path or hooks."
    res = drive(tmp_path, colab=False, cells=[src(cells(p)[0]) for p in NUMBERED])
    for p, c in zip(NUMBERED, res["cells"]):
        assert c["ok"], (p.name, c["error"])
        assert (c["printed"], c["changed"]) == ("", []), (p.name, c)
        assert set(c["new_names"]) <= {"sys", "subprocess", "setup_colab"}, (p.name, c["new_names"])  # its imports only
    assert res["calls"] == []


def colab_run(tmp_path, gpu, data, notebook="03_cnn.ipynb", kaggle=False):
    checkout = tmp_path / "checkout"
    (checkout / "nbs").mkdir(parents=True)
    (checkout / "settings.ini").write_text("[DEFAULT]\n")
    nb = cells(ROOT / "nbs" / notebook)
    params = next(src(c) for c in nb if "parameters" in c.get("metadata", {}).get("tags", []))
    env = {"HOME": str(tmp_path / "home"), "FER_NBDEV_COLAB": None, "FER_NBS": None, "KAGGLE_USERNAME": None, "KAGGLE_KEY": None,
           "FER2013_PATH": str(data) if data else None}
    if kaggle: env.update(KAGGLE_USERNAME="someone", KAGGLE_KEY="their-own-key")
    return drive(tmp_path, env=env, colab=True, gpu=gpu, checkout=str(checkout), data_dir=str(tmp_path / "data"),
                 cells=[src(nb[0]), params], show=sorted(notebook_parameters(ROOT / "nbs" / notebook))), checkout


def test_on_colab_with_a_gpu_and_data_the_notebook_takes_the_gpu_profile(tmp_path):
    from fer_nbdev.data import SAMPLE_PATH
    res, checkout = colab_run(tmp_path, gpu=True, data=SAMPLE_PATH)
    first, params = res["cells"]
    assert first["ok"] and params["ok"], res
    assert any("git clone" in " ".join(c) if isinstance(c, list) else "git clone" in c for c in res["calls"])
    assert [sys.executable, "-m", "pip", "install", "-q", "-e", str(checkout)] in res["calls"]
    assert res["env"] == {"FER2013_PATH": str(SAMPLE_PATH), "FER_NBS": str(checkout / "nbs")}
    gpu = PROFILES["gpu"]["parameters"]
    assert {k: res["ns"][k] for k in gpu} == gpu                     # the GPU profile's values, after the parameters cell
    assert res["ns"]["model_name"] == "cnn7"                         # the notebook's own other parameters stay
    assert "GPU profile" in params["printed"] and "Kaggle" not in first["printed"]


def test_on_colab_without_data_it_says_how_to_get_it_and_keeps_the_defaults(tmp_path):
    res, _ = colab_run(tmp_path, gpu=True, data=None)
    first, params = res["cells"]
    assert first["ok"] and params["ok"]
    out = first["printed"]
    assert "kaggle.json" in out and "FER2013_PATH=/content/drive" in out and "drive.mount" in out
    assert res["ns"]["data_path"] == "sample" and res["ns"]["epochs"] == 2   # 03_cnn's own small defaults
    assert not any("kaggle" in c for c in res["calls"] if isinstance(c, list))   # no token: nothing downloaded


def test_on_colab_with_a_kaggle_token_it_downloads_with_the_kaggle_cli(tmp_path):
    res, _ = colab_run(tmp_path, gpu=False, data=None, kaggle=True)
    kaggle = [c for c in res["calls"] if isinstance(c, list) and c[:1] == ["kaggle"]]
    assert kaggle == [["kaggle", "datasets", "download", "-d", "deadskull7/fer2013", "-p", str(tmp_path / "data"), "--unzip"]]
    assert res["ns"]["epochs"] == 2 and "No GPU" in res["cells"][0]["printed"]   # no GPU: the defaults stay
