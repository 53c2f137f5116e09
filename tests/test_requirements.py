"The base install runs every notebook: each module a notebook imports comes with the base `requirements` of settings.ini (or with what they require), never with the dev extras alone."
import ast, configparser, json, re, shlex, sys
from importlib import metadata
from pathlib import Path
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# imported only where that platform runs the cell (`if "google.colab" in sys.modules`): not a requirement anywhere else
PLATFORM_ONLY = {"google"}
# imported only when Keras runs on that backend (`results.gpu_name`): whoever picks KERAS_BACKEND=jax installs jax
BACKEND_ONLY = {"jax", "torch"}
# imported only by what an optional extra serves (`fer-run --cluster`: 09b_cluster), which says which extra to install
EXTRA_ONLY = {"distributed": "cluster"}

def _requirements(key):
    cfg = configparser.ConfigParser(delimiters=["="])
    cfg.read(ROOT / "settings.ini", encoding="utf-8")
    return [Requirement(r) for r in shlex.split(cfg["DEFAULT"].get(key, ""))]

def closure(reqs) -> set:
    "The distributions that installing `reqs` brings: them and what they require, without extras (as installed here)."
    seen, todo = set(), [r.name for r in reqs]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen: continue
        seen.add(name)
        try: dist = metadata.distribution(name)
        except metadata.PackageNotFoundError: continue
        for r in dist.requires or []:
            req = Requirement(r)
            if req.marker is None or req.marker.evaluate({"extra": ""}): todo.append(req.name)
    return seen

def notebook_imports(path) -> dict:
    "{top-level module: first cell index} of what a notebook's code cells import (IPython magics and shell lines aside)."
    out = {}
    for i, cell in enumerate(json.loads(Path(path).read_text())["cells"]):
        if cell["cell_type"] != "code": continue
        src = "".join(cell["source"])
        if re.search(r"^#\s*\|\s*eval\s*:\s*false", src, re.M): continue
        src = "\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(src)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for n in names: out.setdefault(n.split(".")[0], i)
    return out

def test_closure_follows_requirements():
    "The check itself: papermill brings nbformat; the dev extras bring pytest, which the base install does not."
    base = closure(_requirements("requirements"))
    assert {"papermill", "nbformat", "tensorflow", "keras"} <= base
    assert "pytest" not in base and "selenium" not in base

@pytest.mark.parametrize("nb", sorted(p.name for p in (ROOT / "nbs").glob("*.ipynb")))
def test_notebook_imports_come_with_the_base_install(nb):
    base = closure(_requirements("requirements"))
    dists = metadata.packages_distributions()
    missing = {}
    for mod, cell in notebook_imports(ROOT / "nbs" / nb).items():
        if mod in sys.stdlib_module_names or mod == "fer_nbdev" or mod in PLATFORM_ONLY | BACKEND_ONLY: continue
        if mod in EXTRA_ONLY:   # in that extra's requirements, and never in the base ones
            assert canonicalize_name(mod) in {canonicalize_name(r.name) for r in _requirements(f"{EXTRA_ONLY[mod]}_requirements")}, (nb, mod)
            continue
        provided = {canonicalize_name(d) for d in dists.get(mod, [])}
        if not provided: missing[mod] = (cell, "installed by no distribution here")
        elif not provided & base: missing[mod] = (cell, f"from {', '.join(sorted(provided))}, not in the base requirements")
    assert not missing, f"{nb}: " + "; ".join(f"{m} (cell {c}): {why}" for m, (c, why) in missing.items())

def test_every_cell_has_an_id():
    "nbformat warns (MissingIDFieldWarning), and will refuse, notebooks whose cells lack ids."
    for p in sorted((ROOT / "nbs").glob("*.ipynb")):
        nb = json.loads(p.read_text())
        assert (nb["nbformat"], nb["nbformat_minor"]) >= (4, 5), p.name
        assert all("id" in c for c in nb["cells"]), f"{p.name}: a cell without an id"
