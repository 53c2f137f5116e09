"""The GitHub workflows (issue 12, part 3): .github/workflows/test.yaml runs the README's test command on push and pull
request, deploy.yaml builds the docs site and publishes it to GitHub Pages. Neither can run here, so they are checked
for what they must do, and by actionlint (a dev requirement: the `actionlint` command it installs)."""
import configparser, re, shutil, subprocess, sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
README_TEST = re.compile(r'pip install -e "\.\[dev\]" && bash scripts/test\.sh')   # what .ci/run reads from README.md


def load(name) -> dict:
    wf = yaml.safe_load((WORKFLOWS / name).read_text())
    wf["on"] = wf.pop(True, wf.get("on"))        # YAML 1.1 reads the key `on` as True
    return wf


def steps(wf):
    return [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def actionlint() -> str:
    "The actionlint command: on PATH, or beside this Python (a virtual environment's bin/)."
    exe = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if not exe: pytest.fail("actionlint is not installed: pip install -e \".[dev]\" installs it (see dev_requirements in settings.ini)")
    return exe


def lint(*files) -> subprocess.CompletedProcess:
    return subprocess.run([actionlint(), "-no-color", *map(str, files)], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_test_workflow_runs_the_readme_command_on_push_and_pull_request():
    "Issue 34: two jobs, the README's first command with the base install (and no tracked file changed by it), and its test command."
    wf = load("test.yaml")
    assert {"push", "pull_request"} <= set(wf["on"])
    readme = (ROOT / "README.md").read_text()
    readme_cmd = README_TEST.search(readme).group(0)
    first = re.search(r"^pip install -e \. && fer-run .*$", readme, re.M).group(0)
    runs = {name: [s["run"].strip() for s in job.get("steps", []) if "run" in s] for name, job in wf["jobs"].items()}
    main_job = next((n for n, rs in runs.items() if first in rs), None)
    tests_job = next((n for n, rs in runs.items() if readme_cmd in rs), None)
    assert main_job and tests_job and main_job != tests_job, f"one job for each README command: {runs}"
    assert not any("[dev]" in r for r in runs[main_job]), "the main job uses the base install"
    assert any("git diff --exit-code" in r for r in runs[main_job][runs[main_job].index(first):])
    assert all(any(s.get("uses", "").startswith("actions/checkout@") for s in job["steps"]) for job in wf["jobs"].values())


def test_deploy_workflow_builds_the_site_and_publishes_it_to_pages():
    wf = load("deploy.yaml")
    assert wf["on"]["push"]["branches"] == ["main"] and "workflow_dispatch" in wf["on"]
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    uses = [s.get("uses", "").split("@")[0] for s in steps(wf)]
    assert {"actions/upload-pages-artifact", "actions/deploy-pages", "quarto-dev/quarto-actions/setup"} <= set(uses)
    build = next(s["run"] for s in steps(wf) if "run" in s and "build_docs.py" in s["run"])
    assert "python scripts/build_docs.py --site --out site" in build and "nbdev_docs" in build   # Quarto-free, or nbdev's usual
    upload = next(s for s in steps(wf) if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "site"
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"


def test_readme_says_where_the_site_is_published():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "settings.ini")
    url = cfg["DEFAULT"]["doc_host"] + cfg["DEFAULT"]["doc_baseurl"] + "/"
    readme = (ROOT / "README.md").read_text()
    assert url in readme and ".github/workflows/deploy.yaml" in readme and ".github/workflows/test.yaml" in readme
    assert url in (WORKFLOWS / "deploy.yaml").read_text()


def test_actionlint_passes_both_workflows():
    files = sorted(WORKFLOWS.glob("*.yaml"))
    assert [f.name for f in files] == ["deploy.yaml", "test.yaml"]
    r = lint(*files)
    assert r.returncode == 0, r.stdout + r.stderr


def test_actionlint_catches_broken_workflows(tmp_path):
    "The check above can fail: a misspelt action input, an unknown context property and a job without runner are caught."
    bad = (WORKFLOWS / "test.yaml").read_text()
    bad = bad.replace("python-version:", "python-versoin:").replace("${{ github.ref }}", "${{ github.reff }}")
    (tmp_path / "bad.yaml").write_text(bad)
    (tmp_path / "norunner.yaml").write_text("on: push\njobs:\n  x:\n    steps:\n      - run: echo hi\n")
    r = lint(tmp_path / "bad.yaml", tmp_path / "norunner.yaml")
    assert r.returncode != 0
    assert "python-versoin" in r.stdout and "reff" in r.stdout and "runs-on" in r.stdout, r.stdout


def test_ci_runs_both_readme_commands_as_written():
    "Issue 34: .ci/run reads the README's first command (base install) and its test command, and runs them in that order."
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"^```sh\n(.*?)^```", readme, re.S | re.M).group(1).splitlines()
    script = (ROOT / ".ci" / "run").read_text()
    awk = re.search(r"block=\$\((awk .*?) README\.md\)", script).group(1)
    got = subprocess.run(["bash", "-c", f"{awk} README.md"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines()
    assert got[:2] == block[:2] and "[dev]" not in got[0] and README_TEST.search(got[1])
    assert script.index('eval "$first"') < script.index('eval "$tests"')
    assert "git status --porcelain --untracked-files=no" in script     # the first command may not change a tracked file
