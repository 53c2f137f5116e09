"""Face detectors on two labelled sets: recall (faces found / faces), false boxes and time per image.

    python benchmarks/bench_detect.py [--reps 3] [--no-mtcnn] [--markdown] [--photos DIR] [--json results/benchmarks/detectors.json]

1. **Group photos** (`fer_nbdev.detect.labelled_photos()`): real photos with their labelled faces, as dlib ships them
   in its examples (nine PASCAL VOC photos, 43 faces of 37–110 px, in `../shared/photos` here, or --photos, or
   $FER_PHOTOS). A face counts as found when a box overlaps it with IoU ≥ 0.3 or has its centre inside it. Skipped,
   with a line that says so, where the folder is absent.
2. **Synthetic canvases** (`fer_nbdev.detect.detection_set()`): the real photos of scikit-image's data module and
   matplotlib (3 hand-labelled faces, 10 photos without a face) and the shipped FER2013 sample's faces pasted into
   640×480 gray photos: plain, rotated, small, large, occluded and in low light (`match_boxes`' centre-and-size rule).

The detectors: the library's (`DETECTORS`) and, when the `mtcnn` package is installed (it ships its weights), MTCNN.
Times are the median over a set of the best of --reps runs per image (wall time, all cores: the machine may be shared,
so compare the ratios to the default, printed in the last column). Nothing is asserted. With --json the counts and
times are written with the machine and its load (08_detect shows the tables from that file).
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


def run(detect, dset, reps, min_iou=None):
    "Per case [faces found, faces, false boxes], and the per-image times (best of reps)."
    from fer_nbdev.detect import match_boxes
    cases, times = {}, []
    for name, case, img, truth in dset:
        best = 1e9
        for _ in range(reps):
            t = time.perf_counter(); found = detect(img); best = min(best, time.perf_counter() - t)
        times.append(best)
        hits, false = match_boxes(found, truth, min_iou=min_iou)
        c = cases.setdefault(case, [0, 0, 0]); c[0] += hits; c[1] += len(truth); c[2] += false
    return cases, times


def table(head, rows, markdown):
    if markdown:
        return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows])
    w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    return "\n".join("  ".join(v.ljust(w[i]) for i, v in enumerate(r)) for r in [head, *rows])


def rows_of(results, default, cases_shown=()):
    "Each detector's row: [name, recall, *per case, false boxes, (faceless photos' false boxes,) median ms, ratio]."
    t_ref = statistics.median(results[default][1])
    out = []
    for name, (cases, times) in results.items():
        found = sum(c[0] for c in cases.values()); total = sum(c[1] for c in cases.values())
        med = statistics.median(times)
        out.append({"detector": name, "cases": {c: cases.get(c, [0, 0, 0])[:2] for c in cases_shown}, "found": found,
                    "faces": total, "false_boxes": sum(c[2] for c in cases.values()),
                    "false_boxes_faceless": cases.get("no face", [0, 0, 0])[2],
                    "median_ms": round(1e3 * med, 2), "vs_default": round(med / t_ref, 3)})
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-mtcnn", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="print the tables as markdown")
    ap.add_argument("--photos", default=None, help="the labelled photos' folder (default $FER_PHOTOS, else ../shared/photos)")
    ap.add_argument("--json", default=None, help="also write the counts and times here (08_detect shows results/benchmarks/detectors.json)")
    a = ap.parse_args()
    from fer_nbdev.detect import detection_set, labelled_photos, detect_faces, DETECTORS, DETECTION_CASES, DEFAULT_DETECTOR
    load_before = os.getloadavg()[0]
    dets = {d: (lambda img, d=d: detect_faces(img, d)) for d in DETECTORS}
    if not a.no_mtcnn and (m := mtcnn_detector()) is not None: dets["mtcnn (not in the library)"] = m
    out = {"benchmark": "bench_detect", "reps": a.reps, "default": DEFAULT_DETECTOR}

    try: photos = [(name, "group photo", img, truth) for name, img, truth in labelled_photos(a.photos)]
    except FileNotFoundError as e: photos = None; print(f"group photos: skipped ({e})\n")
    if photos:
        for f in dets.values(): f(photos[0][2])                  # load the networks before timing
        rows = rows_of({name: run(f, photos, a.reps, min_iou=0.3) for name, f in dets.items()}, DEFAULT_DETECTOR)
        sizes = [int(min(t[2:])) for *_, truth in photos for t in truth]
        print(f"Group photos: {len(photos)} photos, {len(sizes)} faces of {min(sizes)}–{max(sizes)} px; {os.cpu_count()} cores")
        print(table(["detector", "recall", "false boxes", "ms per photo (median)", f"time / {DEFAULT_DETECTOR}"],
                    [[r["detector"], f"{r['found']}/{r['faces']} = {r['found'] / r['faces']:.0%}", str(r["false_boxes"]),
                      f"{r['median_ms']:.1f}", f"{r['vs_default']:.2f}x"] for r in rows], a.markdown) + "\n")
        out["photos"] = {"set": {"photos": len(photos), "faces": len(sizes), "face_px": [min(sizes), max(sizes)]},
                         "match": "IoU >= 0.3 or centre inside", "rows": rows}

    dset = detection_set()
    for f in dets.values(): f(dset[0][2])
    cols = [c for c in DETECTION_CASES if c != "no face"]
    rows = rows_of({name: run(f, dset, a.reps) for name, f in dets.items()}, DEFAULT_DETECTOR, cols)
    print(f"Synthetic canvases: {len(dset)} images, {sum(len(t) for *_, t in dset)} faces "
          f"({', '.join(f'{c}: {sum(len(t) for _, k, _, t in dset if k == c)}' for c in DETECTION_CASES)})")
    print(table(["detector", "recall", *cols, "false boxes", "false boxes, faceless photos", "ms per image (median)", f"time / {DEFAULT_DETECTOR}"],
                [[r["detector"], f"{r['found'] / r['faces']:.0%} ({r['found']}/{r['faces']})", *[f"{r['cases'][c][0]}/{r['cases'][c][1]}" for c in cols],
                  str(r["false_boxes"]), str(r["false_boxes_faceless"]), f"{r['median_ms']:.1f}", f"{r['vs_default']:.2f}x"] for r in rows], a.markdown))
    out.update({"set": {"images": len(dset), "faces": sum(len(t) for *_, t in dset),
                        "cases": {c: sum(len(t) for _, k, _, t in dset if k == c) for c in DETECTION_CASES},
                        "faceless_images": sum(1 for _, k, _, _ in dset if k == "no face")}, "rows": rows})
    if a.json:
        import json
        from fer_nbdev.results import run_info
        out = {**out, **run_info(), "load_average": [load_before, os.getloadavg()[0]]}
        os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
        with open(a.json, "w") as f: json.dump(out, f, indent=1)
