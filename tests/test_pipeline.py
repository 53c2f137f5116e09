"""fer_nbdev.pipeline: profiles, parameter overrides, running, skipping, redoing, failing and resuming.

Runs real notebooks through papermill: the shipped 02_baseline on the sample, and tiny notebooks made here
(one that fails on purpose). No test reads or writes the project's results/ or runs/.
"""
import json, os, re, shutil, socket, subprocess, sys
from pathlib import Path

import nbformat
import pytest

from fer_nbdev import pipeline as pl, profiles
from fer_nbdev.profiles import PROFILES, get_profile, step
from fer_nbdev.pipeline import main, parse_overrides, parse_value, plan, prepare_notebook, run_profile

NBS = Path(__file__).resolve().parents[1] / "nbs"


def make_nb(path, params, *cells):
    "A notebook with a `parameters` cell (`params` source) and code cells."
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                                            "language_info": {"name": "python"}})
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p] + [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


WRITE = ("import json, pathlib\n"
         "pathlib.Path(results_dir).mkdir(parents=True, exist_ok=True)\n"
         "pathlib.Path(results_dir, f'{profile}-{run}.json').write_text(json.dumps({'run': f'{profile}-{run}'}))")


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    "Three tiny notebooks (the middle one fails while `fail` is True) and a profile 't' over them."
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    params = 'results_dir = None  # "quoted" comments must not hide a parameter\nprofile = "nb"\nrun = "x"'
    make_nb(nbs / "01_one.ipynb", params, WRITE)
    make_nb(nbs / "02_boom.ipynb", params + "\nfail = True", "print('before the failure')",
            "if fail: raise RuntimeError('boom on purpose')", WRITE)
    make_nb(nbs / "03_three.ipynb", params, WRITE)  # writes a name the profile does not expect
    prof = {"description": "test", "parameters": {},
            "steps": [step("01_one", runs=["one"], run="one"), step("02_boom", runs=["two"], run="two"),
                      step("03_three", runs=["three"], run="three-renamed")]}
    monkeypatch.setitem(PROFILES, "t", prof)
    return tmp_path


def test_parse_value_like_papermill():
    assert [parse_value(v) for v in ["7", "-2", "0.25", "1e-4", "True", "False", "None", "sgd", "cnn7"]] == \
           [7, -2, 0.25, 1e-4, True, False, None, "sgd", "cnn7"]
    assert parse_value("(256, 128)") == [256, 128]          # tuples travel as lists (papermill would quote a tuple)
    assert parse_value("{'a': (1, 2)}") == {"a": [1, 2]}
    assert parse_value("[oops") == "[oops"
    assert parse_overrides([("epochs", "3")], "epochs: 9\nweights: imagenet\nmembers: [a, b]") == \
           {"epochs": 3, "weights": "imagenet", "members": ["a", "b"]}
    with pytest.raises(ValueError, match="identifier"): parse_overrides([("batch-size", "3")])
    with pytest.raises(ValueError, match="mapping"): parse_overrides([], "- a\n- b")


def test_profiles_are_consistent():
    for name in ("smoke", "cpu", "gpu"):
        prof = get_profile(name)
        steps = [s["step"] for s in prof["steps"]]
        assert len(steps) == len(set(steps)), name
        assert prof["steps"][-1]["notebook"] == "07_report" and prof["steps"][-1]["always"]
        runs = [r for s in prof["steps"] for r in s["runs"]]
        assert len(runs) == len(set(runs)), name
    assert get_profile("smoke")["parameters"]["data_path"] == "sample"
    gpu = get_profile("gpu")
    assert {s["parameters"].get("model_name") for s in gpu["steps"] if s["notebook"] == "05_transfer"} == \
           {"vgg16", "resnet50", "inceptionv3"}
    assert all(s["parameters"]["weights"] == "imagenet" for s in gpu["steps"] if s["notebook"] == "05_transfer")
    assert all(s["parameters"]["weights"] is None for s in get_profile("smoke")["steps"] if s["notebook"] == "05_transfer")
    with pytest.raises(ValueError, match="smoke, cpu, cpufull, gpu"): get_profile("nope")


def test_list_cli(capsys, tmp_path):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(p in out for p in ("smoke", "cpu", "gpu"))
    assert main(["--profile", "smoke", "--list", "--results", str(tmp_path / "r"), "--runs", str(tmp_path / "u")]) == 0
    out = capsys.readouterr().out
    assert "02_baseline-mlp-usage" in out and "smoke-mlp-usage.json" in out and "07_report" in out
    assert main(["--profile", "nope", "--list"]) == 2
    assert main(["--profile", "smoke", "--only", "nothing_like_it"]) == 2
    assert "no such step" in capsys.readouterr().out


def test_overrides_reach_only_declaring_notebooks(tmp_path):
    steps = plan("smoke", overrides={"max_iter": 3, "epochs": 4, "n_draws": 2, "unknown_thing": 1},
                 only=["00_data", "01_augmentation", "02"], results_dir=tmp_path / "r", runs_dir=tmp_path / "u")
    by = {s["step"]: s["parameters"] for s in steps}
    assert by["02_baseline-mlp-usage"]["max_iter"] == 3 and by["02_baseline-mlp-usage"]["data_path"] == "sample"
    assert "max_iter" not in by["00_data"] and "epochs" not in by["02_baseline-mlp-usage"]
    assert by["01_augmentation"].get("n_draws") == 2
    assert not any("unknown_thing" in p for p in by.values())
    assert by["02_baseline-mlp-usage"]["results_dir"] == str((tmp_path / "r").absolute())
    assert by["02_baseline-mlp-usage"]["profile"] == "smoke"
    # --only by step name, notebook, number and glob select the same step
    for token in ("02_baseline-mlp-usage", "02_baseline", "02", "02_*"):
        assert [s["step"] for s in plan("smoke", only=token)] == ["02_baseline-mlp-usage"]


def test_prepare_notebook_sets_aside_export_eval_false_and_slow(tmp_path):
    p = make_nb(tmp_path / "n.ipynb", "a = 1", "#| slow\nb = 2", "#| eval: false\nc = 3",
                "#| hide\nimport nbdev; nbdev.nbdev_export()", "d = 4")
    kinds = [c.cell_type for c in prepare_notebook(p).cells]
    assert kinds == ["code", "raw", "raw", "raw", "code"]
    kinds = [c.cell_type for c in prepare_notebook(p, slow=True).cells]
    assert kinds == ["code", "code", "raw", "raw", "code"]


def test_missing_notebook_is_named(tiny, monkeypatch, capsys):
    PROFILES["t"]["steps"].insert(1, step("42_not_written_yet", runs=["n"]))
    with pytest.raises(FileNotFoundError, match="42_not_written_yet.ipynb"):
        run_profile("t", nbs_dir=tiny / "nbs", results_dir=tiny / "r", runs_dir=tiny / "u")
    assert main(["--profile", "t", "--nbs", str(tiny / "nbs"), "--results", str(tiny / "r"), "--runs", str(tiny / "u")]) == 2
    assert "42_not_written_yet.ipynb" in capsys.readouterr().out
    assert not (tiny / "r").exists()  # nothing ran


def test_failure_stops_keeps_partial_and_resumes(tiny, capsys):
    args = ["--profile", "t", "--nbs", str(tiny / "nbs"), "--results", str(tiny / "r"), "--runs", str(tiny / "u"),
            "--no-progress"]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "RuntimeError: boom on purpose" in out and "if fail: raise RuntimeError" in out and "partial" in out
    assert (tiny / "r" / "t-one.json").exists()                 # results of the step before stay
    assert not (tiny / "r" / "t-two.json").exists() and not (tiny / "r" / "t-three-renamed.json").exists()
    partial = nbformat.read(tiny / "u" / "t" / "02_boom.ipynb", as_version=4)
    outputs = [o for c in partial.cells if c.cell_type == "code" for o in c.outputs]
    assert any(o.output_type == "stream" and "before the failure" in o.text for o in outputs)
    assert any(o.output_type == "error" and o.ename == "RuntimeError" for o in outputs)
    one_mtime = (tiny / "r" / "t-one.json").stat().st_mtime_ns

    # fixed (here: by a parameter), the same command resumes at the failed step
    s = run_profile("t", overrides={"fail": False}, nbs_dir=tiny / "nbs", results_dir=tiny / "r",
                    runs_dir=tiny / "u", progress=False)
    assert (s.skipped, s.ran, s.failed, s.ok) == (["01_one"], ["02_boom", "03_three"], [], True)
    assert (tiny / "r" / "t-one.json").stat().st_mtime_ns == one_mtime
    assert (tiny / "r" / "t-two.json").exists()
    row = next(r for r in s.steps if r["step"] == "03_three")
    assert "t-three.json" in row["note"] and "t-three-renamed.json" in row["note"]  # says what it wrote instead
    assert row["results"] == [str(tiny / "r" / "t-three-renamed.json")]

    # a third run has nothing to do; the misnamed step counts as done by what it wrote
    s = run_profile("t", overrides={"fail": False}, nbs_dir=tiny / "nbs", results_dir=tiny / "r",
                    runs_dir=tiny / "u", progress=False)
    assert s.ran == [] and s.skipped == ["01_one", "02_boom", "03_three"]
    # a deleted results file makes its step run again
    (tiny / "r" / "t-three-renamed.json").unlink()
    s = run_profile("t", overrides={"fail": False}, nbs_dir=tiny / "nbs", results_dir=tiny / "r",
                    runs_dir=tiny / "u", progress=False)
    assert s.ran == ["03_three"]


def test_steps_side_by_side_stop_at_a_failure_and_attribute_their_results(tiny, capsys):
    "With jobs=2 the independent steps run at once, each in its own process; a failure starts no new step, and each record names only its own results."
    PROFILES["t"]["steps"][2]["requires"] = ["two"]       # 03_three waits for 02_boom
    args = ["--profile", "t", "--nbs", str(tiny / "nbs"), "--results", str(tiny / "r"), "--runs", str(tiny / "u"), "--jobs", "2"]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "[2/3] 02_boom: FAILED" in out and "RuntimeError: boom on purpose" in out and "not run  03_three" in out
    assert (tiny / "r" / "t-one.json").exists() and not (tiny / "r" / "t-three-renamed.json").exists()
    s = run_profile("t", overrides={"fail": False}, nbs_dir=tiny / "nbs", results_dir=tiny / "r", runs_dir=tiny / "u",
                    progress=False, jobs=2)
    assert (s.skipped, s.ran, s.ok) == (["01_one"], ["02_boom", "03_three"], True)
    for name, wrote in (("02_boom", "t-two.json"), ("03_three", "t-three-renamed.json")):
        rec = json.loads((tiny / "u" / "t" / f"{name}.done.json").read_text())
        assert [Path(r).name for r in rec["results"]] == [wrote], rec["results"]


def test_smoke_steps_ran_two_at_a_time_after_the_steps_they_need(smoke_runs):
    """The smoke profile runs two steps at once (`jobs: 2`; in CI, the README's first command did): cnn4_distilled, which
    learns from cnn4's run, started after cnn4 ended, and two of the steps overlapped."""
    import datetime
    from conftest import SMOKE_STEPS
    runs, _ = smoke_runs
    span = {}
    for st in SMOKE_STEPS:
        rec = json.loads((runs / "smoke" / f"{st}.done.json").read_text())
        end = datetime.datetime.fromisoformat(rec["finished"]).timestamp()
        span[st] = (end - rec["seconds"], end)
    assert span["03_cnn-cnn4_distilled-usage"][0] >= span["03_cnn-cnn4-usage"][1] - 1, span   # 1 s: the record's resolution
    overlap = [(a, b) for a in span for b in span if a < b and min(span[a][1], span[b][1]) - max(span[a][0], span[b][0]) > 2]
    assert overlap, span


def test_requirement_missing_skips_step_without_failing(tiny, monkeypatch):
    def offline(*a, **k): raise OSError("offline")
    monkeypatch.setattr(socket, "create_connection", offline)
    pl._can_download.cache_clear()
    monkeypatch.setenv("KERAS_HOME", str(tiny / "keras"))
    PROFILES["t"]["steps"] = [step("01_one", runs=["one"], requires="imagenet", run="one", weights="imagenet",
                                   model_name="vgg16")]
    s = run_profile("t", nbs_dir=tiny / "nbs", results_dir=tiny / "r", runs_dir=tiny / "u", progress=False)
    assert s.ok and s.steps[0]["status"] == "unavailable" and "vgg16_weights" in s.steps[0]["note"]
    assert not (tiny / "r").exists()


def test_baseline_step_writes_results_skips_then_redoes(tmp_path, capsys):
    kw = dict(only="02_baseline", overrides={"max_iter": 5}, results_dir=tmp_path / "results",
              runs_dir=tmp_path / "runs", progress=False)
    s = run_profile("smoke", **kw)
    assert s.ok and s.ran == ["02_baseline-mlp-usage"]
    res = tmp_path / "results" / "smoke-mlp-usage.json"
    rec = json.loads(res.read_text())
    assert rec["run"] == "smoke-mlp-usage" and rec["parameters"]["max_iter"] == 5 and rec["data"]["n"] == 168
    executed = tmp_path / "runs" / "smoke" / "02_baseline-mlp-usage.ipynb"
    nb = nbformat.read(executed, as_version=4)
    assert not any(c.get("outputs") and any(o.output_type == "error" for o in c.outputs) for c in nb.cells)
    out = capsys.readouterr().out
    assert "[1/1] 02_baseline-mlp-usage: done in" in out and ": running" not in out      # one line for the step (-v says more)
    log = tmp_path / "runs" / "smoke" / "02_baseline-mlp-usage.log"                 # what its kernel printed outside the cells
    assert log.is_file()
    mtime = res.stat().st_mtime_ns

    s = run_profile("smoke", **kw)
    assert (s.ran, s.skipped) == ([], ["02_baseline-mlp-usage"]) and res.stat().st_mtime_ns == mtime

    s = run_profile("smoke", redo=True, **kw)
    assert s.ran == ["02_baseline-mlp-usage"] and res.stat().st_mtime_ns != mtime


def test_module_runs_as_a_script():
    r = subprocess.run([sys.executable, "-m", "fer_nbdev.pipeline", "--profile", "gpu", "--list"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "03_cnn-vgg-usage" in r.stdout, r.stderr
    r = subprocess.run([sys.executable, "-m", "fer_nbdev.pipeline", "--profile", "nope"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "unknown profile" in r.stdout
    if exe := shutil.which("fer-run"):
        assert subprocess.run([exe, "--list"], capture_output=True, timeout=120).returncode == 0
    from fer_nbdev import __version__
    for prog in ("fer-run", "fer-predict"):   # the console scripts, beside this Python
        exe = Path(sys.executable).parent / prog
        if not exe.exists(): continue
        r = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and r.stdout.strip() == f"{prog} {__version__}", r.stdout + r.stderr


def test_killed_training_step_resumes_where_it_stopped(tmp_path):
    "fer-run killed mid-training (as by the OOM killer or a closed laptop) continues the step's fit from its last epoch."
    import os, signal, time
    args = [sys.executable, "-m", "fer_nbdev.pipeline", "--profile", "smoke", "--only", "03_cnn-cnn4-usage",
            "-p", "epochs", "5", "-p", "patience", "10", "--results", str(tmp_path / "r"), "--runs", str(tmp_path / "u"),
            "--no-progress"]
    backup = Path(plan("smoke", {"epochs": 5, "patience": 10}, ["03_cnn-cnn4-usage"], tmp_path / "r",
                       tmp_path / "u")[0]["parameters"]["backup_dir"])
    assert backup.parent == tmp_path / "u" / "smoke" / "backup"
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 240
    while pl.resume_epoch(backup) < 2 and time.time() < deadline and proc.poll() is None: time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)                        # no clean-up of any kind, as a real kill
    proc.communicate()
    done = pl.resume_epoch(backup)
    assert 2 <= done < 5, f"the step should have been killed mid-training, after {done} epochs"
    assert not (tmp_path / "r" / "smoke-cnn4-usage.json").exists()
    info = pl.resume_info(backup)                              # what the backup says of the epochs before the kill
    assert info["epochs"] == done and 1 <= info["best_epoch"] <= done and 0 < info["best_val_accuracy"] <= 1
    assert 0 < info["hours"] < 1
    r = subprocess.run(args + ["--list"], capture_output=True, text=True, timeout=120)   # the plan says how far it got
    assert r.returncode == 0 and f"resumes after epoch {done} of 5 (best val_accuracy " in r.stdout, r.stdout + r.stderr

    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert f"resuming its training after epoch {done} of 5" in r.stdout
    rec = json.loads((tmp_path / "r" / "smoke-cnn4-usage.json").read_text())
    assert rec["epochs"] == 5 and len(rec["history"]["val_accuracy"]) == 5   # the epochs before the kill are in it
    assert not backup.exists()                                                # a finished step leaves no backup


def clean_checkout(dst: Path) -> Path:
    "A clean checkout of this working tree (its tracked files and new ones git does not ignore) as a fresh git repository."
    root = NBS.parent
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        if (root / f).is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / f, dst / f)
    git = lambda *a: subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *a], cwd=dst, check=True,
                                    capture_output=True, text=True).stdout
    git("init", "-q"); git("add", "-A"); git("commit", "-q", "-m", "clean checkout")
    return dst


def readme_smoke_run(tmp_path):
    """The smoke run to inspect, as (checkout, its terminal output, exit code): the one CI made with the README's first
    command (.ci/run exports FER_SMOKE_CHECKOUT and FER_SMOKE_LOG), else, when the tests run by hand, a new run of
    `fer-run --profile smoke` in a clean checkout of this working tree."""
    repo, log = os.environ.get("FER_SMOKE_CHECKOUT"), os.environ.get("FER_SMOKE_LOG")
    if repo and log and Path(log).is_file() and (Path(repo) / "runs" / "readme-first-command.rc").is_file():
        out = Path(log).read_text()
        return Path(repo), out[out.find("[1/"):] if "[1/" in out else out, int((Path(repo) / "runs" / "readme-first-command.rc").read_text())
    repo = clean_checkout(tmp_path / "repo")
    r = subprocess.run([sys.executable, "-m", "fer_nbdev.pipeline", "--profile", "smoke"], cwd=repo,
                       env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True, text=True, timeout=3600)
    return repo, r.stdout + r.stderr, r.returncode


@pytest.mark.skipif(not shutil.which("git") or not (NBS.parent / ".git").exists(), reason="needs a git checkout")
def test_smoke_run_on_a_clean_checkout_leaves_the_published_results_alone(tmp_path):
    """Issues 12 and 34: `fer-run --profile smoke`, the README's first command, passes; it writes its runs and its own report
    apart (README, index and results/ stay as they were); its terminal shows one line per step and the summary, the kernels'
    chatter going to each step's log; and runs/ stays near 100 MB."""
    repo, out, rc = readme_smoke_run(tmp_path)
    assert rc == 0, out[-6000:]
    status = subprocess.run(["git", "status", "--porcelain", "--ignored", "--", "README.md", "nbs/index.ipynb", "results"],
                            cwd=repo, capture_output=True, text=True, check=True).stdout
    assert status == "", f"the smoke run changed the published results:\n{status}"
    # its own folder and report, labelled as a check of the pipeline
    check = repo / "runs" / "smoke" / "results"
    runs = sorted(check.glob("smoke-*.json"))
    assert len(runs) >= 10 and all(json.loads(p.read_text())["data"]["source"] == "fer2013_sample.csv.gz" for p in runs)
    report = (check / "README.md").read_text()
    assert report.startswith("# Pipeline check on the shipped sample") and "not a measure of accuracy" in report
    assert re.search(r"\| 4-layer CNN \| \d+\.\d% \|", report)                 # the sample's runs are in it
    assert "check of the pipeline, not a measure of accuracy" in out and str(check / "README.md") in out
    # quiet: a line per step, the summary; nothing from TensorFlow, Jupyter, nbformat or papermill's bar
    n = len(profiles.get_profile("smoke")["steps"])
    lines = [l for l in out.splitlines() if l.strip()]
    steps = [l for l in lines if re.match(rf"\[\d+/{n}\] ", l)]
    assert len(steps) == n and all(re.search(r": done in \d+ s", l) for l in steps), steps
    assert len(lines) <= n + 3, "\n".join(l for l in lines if l not in steps)
    for noise in ("cuda", "absl", "without encryption", "MissingIDFieldWarning", "Executing", "oneDNN"):
        assert noise not in out, noise
    logs = sorted((repo / "runs" / "smoke").glob("*.log"))
    assert len(logs) >= n - 2 and any("cuda" in p.read_text() or "oneDNN" in p.read_text() for p in logs)   # what the terminal no longer shows
    size = sum(p.stat().st_size for p in (repo / "runs").rglob("*") if p.is_file())
    assert size < 120e6, f"runs/ holds {size / 1e6:.0f} MB after a check on 252 faces"


def test_runs_on_the_sample_are_routed_apart_and_never_publish(tmp_path, capsys):
    u = tmp_path / "runs"
    by = {s["step"]: s["parameters"] for s in plan("smoke", only=["02", "07"], runs_dir=u)}
    assert by["02_baseline-mlp-usage"]["results_dir"] == str((u / "smoke" / "results").absolute())
    assert by["07_report"]["sample"] is True and by["07_report"]["write_readme"] is False
    # a full-data profile pointed at the sample by an override is a check too: its report may not refill the README
    cpu = {s["step"]: s["parameters"] for s in plan("cpu", overrides={"data_path": "sample"}, only=["02", "07"], runs_dir=u)}
    assert cpu["07_report"]["write_readme"] is False and cpu["07_report"]["sample"] is True
    assert cpu["02_baseline-mlp-usage"]["results_dir"] == str((u / "cpu" / "results").absolute())
    # runs on the full data still go to results/ and refill the README
    full = plan("cpu", only="07_report", runs_dir=u)[0]["parameters"]
    assert full["results_dir"] == str(Path("results").absolute()) and full["write_readme"] is True and "sample" not in full
    with pytest.raises(ValueError, match="published"):
        plan("smoke", results_dir=NBS.parent / "results", runs_dir=u)
    assert main(["--profile", "smoke", "--results", str(NBS.parent / "results"), "--runs", str(u), "--list"]) == 2
    assert "published" in capsys.readouterr().out
    assert main(["--profile", "smoke", "--runs", str(u), "--list"]) == 0
    assert "not a measure of accuracy" in capsys.readouterr().out


def test_recipe_gate_stops_cpufull_when_recipe_is_stale(tmp_path):
    "cpufull runs 03b_recipe after the search: it fails, and the long runs never start, when RECIPE is not the search's choice."
    from fer_nbdev.results import write_results
    from fer_nbdev.recipe import choose_recipe
    def search(best):
        res = tmp_path / best / "results"
        for k in profiles.RECIPE_VARIANTS:
            acc = 0.55 if k == best else 0.50
            write_results(f"cpufull-recipe-{k}", model=f"recipe_{k}", metrics={"PublicTest": {"accuracy": acc},
                          "PrivateTest": {"accuracy": 0.5}}, params=1, epochs=1, history={"val_accuracy": [acc]}, seed=0,
                          data={"source": "fer2013.csv.gz", "n": 1}, wall_time_s=1, parameters={}, results_dir=res)
        return res
    stale = next(k for k in profiles.RECIPE_VARIANTS if k != "base" and choose_recipe(
        {v: {"metrics": {"PublicTest": {"accuracy": 0.55 if v == k else 0.5}}} for v in profiles.RECIPE_VARIANTS}) != profiles.RECIPE)
    res = search(stale)
    s = run_profile("cpufull", only=["03b_recipe", "03_cnn-resnet-usage"], results_dir=res, runs_dir=tmp_path / "u1",
                    progress=False)
    assert s.failed == ["03b_recipe"] and "set `recipe: chosen`" in s.steps[0]["error"]
    assert s.steps[1]["status"] == "not run"                            # the long run never started
