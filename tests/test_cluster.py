"""fer_nbdev.cluster: `fer-run --cluster` on real Dask processes, loopback only.

Each test starts its own `dask scheduler` and `dask worker` processes on 127.0.0.1 (each worker with its own working
directory), stops them by their process group when it ends, and bounds every wait. The steps are the smallest that
show the behaviour: steps of the smoke profile on the shipped sample.
"""
import contextlib, json, os, re, signal, socket, subprocess, sys, threading, time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed", reason="the cluster extra (Dask's distributed) is not installed")

from fer_nbdev.cluster import connect, run_on_cluster
from fer_nbdev.pipeline import main

ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "MKL_NUM_THREADS",
                               "OPENBLAS_NUM_THREADS")}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc):
    "Stop a process started in its own session, and its children (a worker's nanny and worker), by its process group."
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError): os.killpg(proc.pid, signal.SIGTERM)
        try: proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError): os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


@contextlib.contextmanager
def dask_cluster(tmp, n_workers=2, tls=None, worker_env=None):
    """`dask scheduler` and `n_workers` `dask worker` processes on 127.0.0.1; yields (address, {name: worker process},
    {name: its working directory}). `tls`: (ca, cert, key) files for every process."""
    port = free_port()
    proto = "tls" if tls else "tcp"
    address = f"{proto}://127.0.0.1:{port}"
    tls_args = ["--tls-ca-file", tls[0], "--tls-cert", tls[1], "--tls-key", tls[2]] if tls else []
    dask = [sys.executable, "-m", "dask"]
    log = open(tmp / "dask.log", "ab")
    procs, workers, dirs = [], {}, {}
    try:
        procs.append(subprocess.Popen(dask + ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                                              "--protocol", proto] + tls_args, start_new_session=True, stdout=log, stderr=log))
        for i in range(n_workers):
            name = f"w{i}"
            dirs[name] = tmp / name
            dirs[name].mkdir()
            workers[name] = subprocess.Popen(
                dask + ["worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--name", name, "--no-dashboard",
                        "--local-directory", str(dirs[name])] + tls_args,
                start_new_session=True, stdout=log, stderr=log, env={**os.environ, **ONE_THREAD, **(worker_env or {})})
            procs.append(workers[name])
        from distributed import Client
        from distributed.security import Security
        sec = Security(tls_ca_file=tls[0], tls_client_cert=tls[1], tls_client_key=tls[2], require_encryption=True) if tls else None
        with Client(address, security=sec, timeout=30) as c: c.wait_for_workers(n_workers, timeout=60)
        yield address, workers, dirs
    finally:
        for p in reversed(procs): _stop(p)
        log.close()


def _acc(results, run):
    return json.loads((results / f"smoke-{run}.json").read_text())["metrics"]["PublicTest"]["accuracy"]


def test_two_workers_write_what_one_machine_writes(tmp_path, smoke_runs, capsys):
    "The MLP baseline and the cnn4 student of the smoke profile at once on two workers (the teacher's results file here, its model on this machine only: it travels with the step): the same results files, notebooks and numbers as on one machine, with paths as a run here records them."
    import shutil
    one_runs, one_results = smoke_runs
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy2(one_results / "smoke-cnn4-usage.json", results)   # the teacher, as a finished earlier step left it
    steps = ["02_baseline-mlp-usage", "03_cnn-cnn4_distilled-usage"]
    with dask_cluster(tmp_path) as (address, _, dirs):
        s = run_on_cluster("smoke", address, only=steps, results_dir=results, runs_dir=tmp_path / "runs")
    out = capsys.readouterr().out
    assert s.ok and s.ran == steps, out
    assert sorted(p.name for p in results.glob("*.json")) == sorted(p.name for p in one_results.glob("*.json"))
    assert len({re.search(rf"{re.escape(step)}: started on worker (w\d)", out)[1] for step in steps}) == 2, out   # one each
    for step in steps:
        for ext in (".ipynb", ".log", ".done.json"):
            assert (tmp_path / "runs" / "smoke" / f"{step}{ext}").is_file(), (step, ext)
        assert re.search(rf"{re.escape(step)}: done on worker w\d", out), out
    for run in ("mlp-usage", "cnn4_distilled-usage"):   # deterministic on a CPU, wherever it runs
        assert _acc(results, run) == _acc(one_results, run), run
    rec = json.loads((results / "smoke-cnn4_distilled-usage.json").read_text())
    assert (tmp_path / "runs" / "smoke" / "models" / Path(rec["model_path"]).name).is_file(), rec["model_path"]
    for w in dirs.values():   # nothing of the workers' folders leaks into what was written here
        for f in [*results.glob("*.json"), *(tmp_path / "runs" / "smoke").glob("*.ipynb")]:
            assert str(w) not in f.read_text(), (f, w)
    assert not [p for w in dirs.values() for p in w.rglob("fer-run-*")], "a worker kept a step's folder"


def test_a_search_spreads_over_three_workers_each_trial_run_once(tmp_path, capsys):
    "The tuning step on three workers: its notebook serves the search (keras-tuner's chief) and runs trials as tuner0, the two other workers run tuner1 and tuner2; between them they run max_trials trials, none twice, and the final fit runs once."
    with dask_cluster(tmp_path, n_workers=3) as (address, _, dirs):
        s = run_on_cluster("smoke", address, only=["04_tuning-usage"], overrides={"max_trials": 6},
                           results_dir=tmp_path / "results", runs_dir=tmp_path / "runs")
    out = capsys.readouterr().out
    assert s.ok and s.ran == ["04_tuning-usage"], out
    assert re.search(r"04_tuning-usage: its search served at 127\.0\.0\.1:\d+, with 2 more tuner\(s\)", out), out
    rec = json.loads((tmp_path / "results" / "smoke-tuned-usage.json").read_text())
    tuning = rec["tuning"]
    assert tuning["max_trials"] == 6 and [t["status"] for t in tuning["trials"]] == ["COMPLETED"] * 6, tuning["trials"]
    tuners = s.steps[0]["tuners"]
    assert set(tuners) == {"tuner1", "tuner2"} and not [t for t in tuners.values() if "error" in t], tuners
    ran = [sorted(tuning["trial_seconds"], key=int)] + [t["trials"] for t in tuners.values()]   # tuner0 (the chief's) first
    every = [int(t) for r in ran for t in r]
    assert sorted(every) == list(range(6)), ran                      # each trial once, by one tuner
    assert sum(bool(r) for r in ran) >= 2, ran                       # the search was shared
    assert {t["worker"].split()[0] for t in tuners.values()} | {s.steps[0]["worker"].split()[0]} == set(dirs), (tuners, s.steps[0])
    assert rec["metrics"]["PublicTest"]["n"] > 0 and out.count("04_tuning-usage: done on worker") == 1, out
    assert [p.name for p in (tmp_path / "results").glob("*.json")] == ["smoke-tuned-usage.json"]


def _run_and_kill_the_step_s_worker(tmp_path, step, find_s, after_s, finish_s):
    """Run `step` of the smoke profile on two workers and SIGKILL the worker whose step folder appears first, `after_s`
    seconds after it does (within `find_s`); the run must end within `finish_s` of the kill. Returns (summary, victim,
    the workers' folders)."""
    with dask_cluster(tmp_path) as (address, workers, dirs):
        box = {}
        t = threading.Thread(target=lambda: box.update(s=run_on_cluster(
            "smoke", address, only=[step], results_dir=tmp_path / "results", runs_dir=tmp_path / "runs")))
        t.start()
        deadline, victim = time.time() + find_s, None
        while victim is None and time.time() < deadline:   # the step's worker: the one with the step's folder
            victim = next((n for n, d in dirs.items() if list(d.rglob("fer-run-*"))), None)
            time.sleep(0.2)
        assert victim, f"no worker started the step within {find_s} s"
        time.sleep(after_s)
        os.killpg(workers[victim].pid, signal.SIGKILL)
        t.join(timeout=finish_s)
        assert not t.is_alive(), f"the run did not finish within {finish_s} s of the kill"
    return box["s"], victim, dirs


def test_a_search_whose_worker_dies_starts_again_elsewhere(tmp_path, capsys):
    "The worker running the tuning step (and serving its search) is killed mid-search: the step starts again on the other worker, the tuner there is stopped, and the results are written once."
    s, victim, dirs = _run_and_kill_the_step_s_worker(tmp_path, "04_tuning-usage", find_s=90, after_s=3, finish_s=300)
    out = capsys.readouterr().out
    assert s.ok and s.ran == ["04_tuning-usage"], out
    assert re.search(r"worker tcp://127\.0\.0\.1:\d+, running it and serving its search, left the cluster: it starts again", out), out
    survivor = next(n for n in dirs if n != victim)
    assert re.search(rf"04_tuning-usage: done on worker {survivor} ", out) and out.count(": done on worker") == 1, out
    assert sorted(p.name for p in (tmp_path / "results").glob("*.json")) == ["smoke-tuned-usage.json"]


def test_a_killed_worker_s_step_runs_again_and_is_written_once(tmp_path, capsys):
    "The worker running a step is killed mid-step: the other one runs it, and the client writes its results once."
    s, victim, dirs = _run_and_kill_the_step_s_worker(tmp_path, "02_baseline", find_s=60, after_s=2, finish_s=240)   # 2 s: mid kernel start
    out = capsys.readouterr().out
    assert s.ok and s.ran == ["02_baseline-mlp-usage"], out
    survivor = next(n for n in dirs if n != victim)
    assert re.search(rf"done on worker {survivor} ", out) and out.count(": done on worker") == 1, out
    assert out.count(": started on worker") == 2, out   # on the killed worker, then on the other
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["smoke-mlp-usage.json"]


def test_unreachable_scheduler_fails_at_once(capsys):
    "No scheduler at the address: fer-run exits 2 within seconds and names the address."
    port = free_port()
    t0 = time.time()
    assert main(["--profile", "smoke", "--only", "02_baseline", "--cluster", f"tcp://127.0.0.1:{port}"]) == 2
    assert time.time() - t0 < 30
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in capsys.readouterr().out


def test_a_worker_without_the_data_names_itself_and_the_path(tmp_path, capsys):
    "A full-data step on a worker whose FER2013_PATH points nowhere: the step fails at once, naming the worker and the path."
    missing = tmp_path / "nowhere" / "fer2013.csv.gz"
    with dask_cluster(tmp_path, n_workers=1, worker_env={"FER2013_PATH": str(missing)}) as (address, _, _):
        t0 = time.time()
        s = run_on_cluster("cpu", address, only=["02_baseline"], results_dir=tmp_path / "results", runs_dir=tmp_path / "runs")
    assert time.time() - t0 < 30
    assert s.failed == ["02_baseline-mlp-usage"]
    err = s.steps[[r["step"] for r in s.steps].index("02_baseline-mlp-usage")]["error"]
    assert "worker w0 (tcp://127.0.0.1:" in err and str(missing) in err, err
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").glob("*.json"))


def test_tls_cluster_runs_a_step_and_refuses_a_client_without_credentials(tmp_path, capsys):
    "Every process of a TLS cluster holds a certificate of one CA: fer-run with the files runs the baseline; a client without them is refused."
    from distributed.security import Security
    sec = Security.temporary()
    files = []
    for name, pem in (("ca.pem", sec.tls_ca_file), ("cert.pem", sec.tls_client_cert), ("key.pem", sec.tls_client_key)):
        (tmp_path / name).write_text(pem)
        files.append(str(tmp_path / name))
    with dask_cluster(tmp_path, n_workers=1, tls=files) as (address, _, _):
        assert address.startswith("tls://127.0.0.1:")
        rc = main(["--profile", "smoke", "--only", "02_baseline", "--cluster", address, "--results", str(tmp_path / "results"),
                   "--runs", str(tmp_path / "runs"), "--tls-ca-file", files[0], "--tls-cert", files[1], "--tls-key", files[2]])
        out = capsys.readouterr().out
        assert rc == 0 and "done on worker w0" in out, out
        assert (tmp_path / "results" / "smoke-mlp-usage.json").is_file()
        with pytest.raises(Exception):   # no certificate: Dask will not even open the connection
            connect(address, security=None, timeout=5)


