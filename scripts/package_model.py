"""Ship a trained model as one of the package's models for prediction (`predict.PACKAGED_MODELS`), with its provenance.

    python scripts/package_model.py results/cpu-cnn7-usage.json [--model FILE.keras] [--name default|fast] [--half]

Saves the run's model (its results file's `model_path`, or --model: e.g. the shipped file itself, to re-save it) as
its inference graph (`train.save_model`: no augmentation layers, standard Keras layers only, so plain
`keras.models.load_model` loads it without importing fer_nbdev) to fer_nbdev/assets/fer_<name>.keras (name: default,
the model used when none is given; fast, the one `--model fast` picks), and writes fer_nbdev/assets/fer_<name>.json:
the run name, model key, the metrics the run recorded on each split, hardware, backend, seed and the results file it
came from (no machine paths). --half stores the weights as float16 (`ensemble.half_precision_keras`: half the bytes,
for a model of several million parameters; Keras loads them as float32). tests/test_default_model.py checks that each
shipped file reproduces those metrics, and that it loads and predicts the same in a Python without fer_nbdev.
"""
import argparse, json, os, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "fer_nbdev" / "assets"


def package(results_file, model_file=None, name="default", half=False):
    from fer_nbdev.results import portable_record, resolve_path
    from fer_nbdev.train import load_keras, save_model
    rec = json.loads(Path(results_file).read_text())
    src = Path(model_file) if model_file else resolve_path(rec["model_path"])
    if not src.is_file(): sys.exit(f"{results_file}: its model file {src} is missing (give one with --model)")
    model = load_keras(src)
    fd, tmp = tempfile.mkstemp(suffix=".keras", dir=ASSETS)   # src may be the shipped file itself
    os.close(fd)
    save_model(model, tmp)
    if half:
        from fer_nbdev.ensemble import half_precision_keras
        half_precision_keras(tmp, tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, ASSETS / f"fer_{name}.keras")
    keep = ("run", "model", "protocol", "params", "epochs", "seed", "backend", "keras_version", "hardware", "data",
            "wall_time_s", "tta", "created")
    prov = {k: rec.get(k) for k in keep}
    prov["accuracy"] = {split: m["accuracy"] for split, m in rec["metrics"].items()}
    prov["macro_f1"] = {split: m["macro_f1"] for split, m in rec["metrics"].items()}
    prov["results_file"] = Path(results_file).resolve().relative_to(ROOT).as_posix()
    prov["saved_as"] = ("inference graph (train.save_model): standard Keras layers only, loads without fer_nbdev"
                        + ("; weights stored as float16" if half else ""))
    (ASSETS / f"fer_{name}.json").write_text(json.dumps(portable_record(prov, [str(ROOT)]), indent=1) + "\n")
    size = (ASSETS / f"fer_{name}.keras").stat().st_size / 1e6
    print(f"fer_{name}.keras <- {src} ({size:.1f} MB); PrivateTest accuracy {prov['accuracy'].get('PrivateTest')}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results_file")
    ap.add_argument("--model", help="the .keras file to ship (default: the results file's model_path)")
    ap.add_argument("--name", choices=("default", "fast"), default="default", help="which packaged model it becomes (default: default)")
    ap.add_argument("--half", action="store_true", help="store the weights as float16 (half the file; checked by tests/test_default_model.py)")
    a = ap.parse_args()
    package(a.results_file, a.model, a.name, a.half)
