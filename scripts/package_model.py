"""Ship a trained model as the package's default for prediction, with its provenance.

    python scripts/package_model.py results/cpu-cnn7-usage.json

Copies the run's saved `.keras` file (its results file's `model_path`) to fer_nbdev/assets/fer_default.keras
and writes fer_nbdev/assets/fer_default.json: the run name, model key, the metrics the run recorded on each
split, hardware, backend, seed and the results file it came from. tests/test_default_model.py checks that
the shipped file reproduces those metrics.
"""
import json, shutil, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "fer_nbdev" / "assets"

def package(results_file):
    rec = json.loads(Path(results_file).read_text())
    src = Path(rec["model_path"])
    if not src.is_file(): sys.exit(f"{results_file}: its model file {src} is missing")
    shutil.copyfile(src, ASSETS / "fer_default.keras")
    keep = ("run", "model", "protocol", "params", "epochs", "seed", "backend", "keras_version", "hardware", "data",
            "wall_time_s", "tta", "created")
    prov = {k: rec.get(k) for k in keep}
    prov["accuracy"] = {split: m["accuracy"] for split, m in rec["metrics"].items()}
    prov["macro_f1"] = {split: m["macro_f1"] for split, m in rec["metrics"].items()}
    prov["results_file"] = str(Path(results_file).resolve().relative_to(ROOT))
    (ASSETS / "fer_default.json").write_text(json.dumps(prov, indent=1) + "\n")
    size = (ASSETS / "fer_default.keras").stat().st_size / 1e6
    print(f"fer_default.keras <- {src} ({size:.1f} MB); PrivateTest accuracy {prov['accuracy'].get('PrivateTest')}")

if __name__ == "__main__":
    if len(sys.argv) != 2: sys.exit(__doc__)
    package(sys.argv[1])
