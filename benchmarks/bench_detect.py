"""Face detectors on one labelled set: recall (faces found / faces), false boxes and time per image, per kind of case.

    python benchmarks/bench_detect.py [--reps 2] [--no-mtcnn] [--markdown] [--json results/benchmarks/detectors.json]

The set is `fer_nbdev.predict.detection_set()`: the real photos of scikit-image's data module and matplotlib (3
hand-labelled faces, 10 photos without a face) and the shipped FER2013 sample's faces pasted into 640×480 gray photos:
plain, rotated, small, large, occluded and in low light. The detectors: the library's (`haar`, `blazeface`,
`blazeface-fine`, `blazeface-full`) and, when the `mtcnn` package is installed (it ships its weights), MTCNN.
Times are the median over the set of the best of --reps runs per image (wall time, all cores: the machine may be
shared, so compare the ratios printed in the last column). Nothing is asserted. With --json the table's counts and
times are written with the machine, its load and the set (08_predict shows the table from that file).
"""
import argparse, os, statistics, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np


def mtcnn_detector():
    "MTCNN from the `mtcnn` package as a function image -> boxes, or None when it is not installed."
    try:
        import logging
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        from mtcnn import MTCNN
    except ImportError:
        return None
    m = MTCNN()
    def detect(img):
        return np.array([r["box"] for r in m.detect_faces(img) if r["confidence"] >= 0.9], float).reshape(-1, 4)
    return detect


def run(detect, dset, reps):
    "Per case [faces found, faces, false boxes], and the per-image times (best of reps)."
    from fer_nbdev.predict import match_boxes
    cases, times = {}, []
    for name, case, img, truth in dset:
        best = 1e9
        for _ in range(reps):
            t = time.perf_counter(); found = detect(img); best = min(best, time.perf_counter() - t)
        times.append(best)
        hits, false = match_boxes(found, truth)
        c = cases.setdefault(case, [0, 0, 0]); c[0] += hits; c[1] += len(truth); c[2] += false
    return cases, times


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--no-mtcnn", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown")
    ap.add_argument("--json", default=None, help="also write the counts and times here (08_predict shows results/benchmarks/detectors.json)")
    a = ap.parse_args()
    from fer_nbdev.predict import detection_set, detect_faces, DETECTORS, DETECTION_CASES, DEFAULT_DETECTOR
    dset = detection_set()
    load_before = os.getloadavg()[0]
    n_faces = sum(len(t) for *_, t in dset)
    print(f"{os.cpu_count()} cores; {len(dset)} images, {n_faces} faces "
          f"({', '.join(f'{c}: {sum(len(t) for _, k, _, t in dset if k == c)}' for c in DETECTION_CASES)})")
    dets = {d: (lambda img, d=d: detect_faces(img, d)) for d in DETECTORS}
    if not a.no_mtcnn and (m := mtcnn_detector()) is not None: dets["mtcnn (not in the library)"] = m
    for f in dets.values(): f(dset[0][2])                      # load the networks before timing
    results = {name: run(f, dset, a.reps) for name, f in dets.items()}
    t_ref = statistics.median(results[DEFAULT_DETECTOR][1])
    cols = [c for c in DETECTION_CASES if c != "no face"]
    head = ["detector", "recall", *cols, "false boxes", "false boxes, faceless photos", "ms per image (median)", f"time / {DEFAULT_DETECTOR}"]
    rows = []
    for name, (cases, times) in results.items():
        found = sum(c[0] for c in cases.values()); total = sum(c[1] for c in cases.values())
        med = statistics.median(times)
        rows.append([name, f"{found / total:.0%} ({found}/{total})", *[f"{cases[c][0]}/{cases[c][1]}" for c in cols],
                     str(sum(c[2] for c in cases.values())), str(cases["no face"][2]), f"{1e3 * med:.1f}", f"{med / t_ref:.2f}x"])
    if a.markdown:
        print("| " + " | ".join(head) + " |"); print("|" + "---|" * len(head))
        for r in rows: print("| " + " | ".join(r) + " |")
    else:
        w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        print("  ".join(h.ljust(w[i]) for i, h in enumerate(head)))
        for r in rows: print("  ".join(v.ljust(w[i]) for i, v in enumerate(r)))
    if a.json:
        import json
        from fer_nbdev.results import run_info
        out = {"benchmark": "bench_detect", "reps": a.reps, **run_info(), "load_average": [load_before, os.getloadavg()[0]],
               "set": {"images": len(dset), "faces": n_faces, "cases": {c: sum(len(t) for _, k, _, t in dset if k == c) for c in DETECTION_CASES},
                       "faceless_images": sum(1 for _, k, _, _ in dset if k == "no face")},
               "default": DEFAULT_DETECTOR,
               "rows": [{"detector": name, "in_library": name in DETECTORS, "cases": {c: cases.get(c, [0, 0, 0])[:2] for c in cols},
                         "found": sum(c[0] for c in cases.values()), "faces": sum(c[1] for c in cases.values()),
                         "false_boxes": sum(c[2] for c in cases.values()), "false_boxes_faceless": cases["no face"][2],
                         "median_ms": round(1e3 * statistics.median(times), 2),
                         "vs_default": round(statistics.median(times) / t_ref, 3)} for name, (cases, times) in results.items()]}
        os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
        with open(a.json, "w") as f: json.dump(out, f, indent=1)
