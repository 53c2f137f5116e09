"""The Haar cascade's settings: what each costs (CPU time per photo) and what it finds (faces found, boxes off the faces).

    python benchmarks/bench_haar.py [--data PATH|sample] [--faces 2000] [--reps 3] [--json results/benchmarks/haar_settings.json]

Faces: the first --faces PublicTest faces of FER2013 (--data, else found as `fer_nbdev.data.find_fer2013` finds it), or
of the shipped sample when the full set is not at hand (the file says which). Two faces per 640×480 gray photo
without a face (`fer_nbdev.detect.faceless_backgrounds`), enlarged to sides drawn uniformly from 56 to 220 px, at
random places; a found box counts for a face as in `match_boxes`. Times: CPU time of one thread (`cv2.setNumThreads(1)`),
the best of --reps calls, on the 512×600 portrait of Grace Hopper (matplotlib) and on the astronaut of scikit-image
enlarged to 1024×1024; for the defaults also the wall time with all cores. Nothing is asserted; with --json every
number is written with the machine and its load (08_detect shows the table from that file).
"""
import argparse, inspect, os
import numpy as np
from bench_predict import best_of      # (best wall time, least CPU time, last result) of n calls

# name: find_faces arguments (max_side as a fraction of the photo's longest side, resolved per photo)
SETTINGS = {
    "defaults": {},
    "min_size=30": {"min_size": 30},
    "scale_factor=1.15": {"scale_factor": 1.15},
    "scale_factor=1.2": {"scale_factor": 1.2},
    "searched at 3/4 size": {"max_side": 0.75, "min_size": 36},
    "searched at 1/2 size": {"max_side": 0.5, "min_size": 24},
}
SMALL = 80   # faces up to this side (px) are also counted apart: the ones a reduced search loses first


def haar_args(setting, shape):
    "The find_faces keyword arguments of a setting for a photo of this shape (a fractional max_side becomes pixels)."
    kw = dict(SETTINGS[setting])
    if "max_side" in kw: kw["max_side"] = max(1, round(kw["max_side"] * max(shape[:2])))
    return kw


def pasted_set(faces, seed=0):
    "[(gray 480×640 photo, true boxes (2, 4))]: two faces per faceless photo, sides 56–220 px."
    import cv2
    from fer_nbdev.detect import faceless_backgrounds, _paste
    rng = np.random.default_rng(seed)
    backs = [cv2.resize(b, (640, 480), interpolation=cv2.INTER_AREA) for b in faceless_backgrounds()]
    out = []
    for i in range(0, len(faces) - 1, 2):
        img = np.dstack([backs[int(rng.integers(len(backs)))]] * 3).copy()
        boxes = []
        for half, face in enumerate(faces[i:i + 2]):
            side = int(rng.integers(56, 221))
            x = int(half * 320 + rng.integers(0, 320 - side + 1)); y = int(rng.integers(0, 480 - side + 1))
            _paste(img, face, (x, y, side)); boxes.append((x, y, side, side))
        out.append((img[..., 0].copy(), np.array(boxes)))
    return out


def find_faces_defaults() -> dict:
    "`find_faces`' default settings, as the file records them (08_detect checks them against the library's)."
    from fer_nbdev.detect import find_faces
    return {k: v.default for k, v in inspect.signature(find_faces).parameters.items()
            if v.default is not inspect.Parameter.empty and k != "bgr"}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="FER2013 file or folder, or 'sample' (default: found as find_fer2013 finds it)")
    ap.add_argument("--faces", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", default=None, help="also write the table here (08_detect shows results/benchmarks/haar_settings.json)")
    a = ap.parse_args()
    import cv2, matplotlib.cbook, skimage.data
    from fer_nbdev.data import load_fer2013
    from fer_nbdev.detect import find_faces, load_image, to_gray, match_boxes
    try: ds = load_fer2013(a.data)
    except FileNotFoundError as e:
        if a.data: raise
        print(f"{e}\n(using the shipped sample)"); ds = load_fer2013("sample")
    source = "PublicTest" + (" (shipped sample)" if "sample" in os.path.basename(ds.source) else "")
    ds = ds[ds.usage == "PublicTest"]
    faces = ds.images[:a.faces]
    photos = pasted_set(faces)
    n_faces, n_small = 2 * len(photos), sum(int((t[:, 2] <= SMALL).sum()) for _, t in photos)
    portrait = to_gray(load_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    big = cv2.resize(to_gray(skimage.data.astronaut()), (1024, 1024), interpolation=cv2.INTER_LINEAR)
    threads = cv2.getNumThreads()
    load_before = os.getloadavg()[0]
    wall_all = best_of(lambda: find_faces(portrait), max(a.reps, 10))[0]
    cv2.setNumThreads(1)
    print(f"{os.cpu_count()} cores; {n_faces} {source} faces in {len(photos)} photos ({n_small} of at most {SMALL} px); "
          f"CPU time of one thread, best of {a.reps}")
    rows = []
    for name in SETTINGS:
        found = small_found = false = 0
        for img, truth in photos:
            boxes = find_faces(img, **haar_args(name, img.shape))
            hits, off = match_boxes(boxes, truth); found += hits; false += off
            small = truth[truth[:, 2] <= SMALL]
            small_found += match_boxes(boxes, small)[0]
        row = {"setting": name, "arguments": SETTINGS[name],
               "portrait_cpu_ms": round(1e3 * best_of(lambda: find_faces(portrait, **haar_args(name, portrait.shape)), a.reps)[1], 1),
               "photo1024_cpu_ms": round(1e3 * best_of(lambda: find_faces(big, **haar_args(name, big.shape)), a.reps)[1], 1),
               "found": found, "faces": n_faces, "small_found": small_found, "small_faces": n_small, "false_boxes": false}
        rows.append(row)
        print(f"  {name:<22} portrait {row['portrait_cpu_ms']:6.1f} ms  1024-px {row['photo1024_cpu_ms']:6.1f} ms  "
              f"found {found / n_faces:6.1%}  small {small_found / max(n_small, 1):6.1%}  false boxes {false}")
    print(f"defaults, all {threads} threads: portrait {1e3 * wall_all:.1f} ms wall")
    if a.json:
        import json
        from fer_nbdev.results import run_info
        out = {"benchmark": "bench_haar", "reps": a.reps, **run_info(), "load_average": [load_before, os.getloadavg()[0]],
               "faces_from": source, "photos": len(photos), "face_sides_px": [56, 220], "small_side_px": SMALL,
               "portrait": "grace_hopper.jpg (matplotlib), 512x600", "photo1024": "skimage.data.astronaut, enlarged to 1024x1024",
               "find_faces_defaults": find_faces_defaults(),
               "defaults_portrait_wall_ms_all_threads": round(1e3 * wall_all, 1), "threads": threads, "rows": rows}
        os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
        with open(a.json, "w") as f: json.dump(out, f, indent=1)
