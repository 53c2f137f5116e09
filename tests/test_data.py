"Parser, loaders and splits of fer_nbdev.data: property-based tests on generated files, and the full set when present."
import gzip, os
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from PIL import Image

from fer_nbdev import data
from fer_nbdev.data import (EMOTIONS, N_PIXELS, USAGES, DataError, FERDataset, load_fer2013, read_fer_csv,
                            read_image_folder, split_usage, split_stratified, find_fer2013, load_sample,
                            save_arrays, SAMPLE_PATH)
from conftest import FULL_DATA, needs_full_data

HS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

@st.composite
def datasets(draw, max_rows=12):
    n = draw(st.integers(1, max_rows))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)
    if draw(st.booleans()): images[0] = draw(st.sampled_from([0, 255]))  # extremes
    labels = rng.integers(0, 7, n)
    usage = rng.choice(USAGES, n)
    return FERDataset(images, labels, usage)

def same(a, b):
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.usage, b.usage)

@HS
@given(ds=datasets(), gz=st.booleans(), crlf=st.booleans(), quoted=st.booleans(), block=st.sampled_from([64, 4096, 1 << 23]))
def test_roundtrip(tmp_path, monkeypatch, ds, gz, crlf, quoted, block):
    "Whatever the faces, writing the Kaggle layout and reading it back gives them back, across block boundaries and CSV dialects."
    monkeypatch.setattr(data, "_BLOCK", block)
    f = tmp_path / ("f.csv.gz" if gz else "f.csv")
    ds.to_csv(f)
    if crlf or quoted:
        raw = (gzip.decompress(f.read_bytes()) if gz else f.read_bytes()).decode()
        lines = raw.strip("\n").split("\n")
        if quoted: lines = [lines[0]] + [l.replace(",", ',"', 1)[::-1].replace(",", ',"', 1)[::-1] for l in lines[1:]]
        raw = ("\r\n" if crlf else "\n").join(lines) + "\n"
        f.write_bytes(gzip.compress(raw.encode()) if gz else raw.encode())
    same(read_fer_csv(f), ds)

def corrupt(row, kind, rng):
    label, pixels, usage = row.split(",")
    vals = pixels.split(" ")
    i = int(rng.integers(0, len(vals)))
    if kind == "drop": del vals[i]
    elif kind == "extra": vals.insert(i, "5")
    elif kind == "letter": vals[i] = "1a"
    elif kind == "dot": vals[i] = "1.5"
    elif kind == "negative": vals[i] = "-3"
    elif kind == "big": vals[i] = str(int(rng.integers(256, 100000)))
    elif kind == "label": label = str(int(rng.choice([7, 9, 12, -1])))
    elif kind == "label_text": label = "happy"
    elif kind == "usage": usage = "Validation"
    elif kind == "field": return f"{label},{' '.join(vals)}"
    return f"{label},{' '.join(vals)},{usage}"

KINDS = ["drop", "extra", "letter", "dot", "negative", "big", "label", "label_text", "usage", "field"]

@HS
@given(ds=datasets(), kind=st.sampled_from(KINDS), which=st.integers(0, 100), seed=st.integers(0, 1000),
       block=st.sampled_from([64, 1 << 23]))
def test_bad_row_named(tmp_path, monkeypatch, ds, kind, which, seed, block):
    "Any corruption of any one row raises a DataError naming the file and that row's line; skip_bad keeps exactly the others."
    monkeypatch.setattr(data, "_BLOCK", block)
    f = tmp_path / "bad.csv"
    ds.to_csv(f)
    lines = f.read_text().strip("\n").split("\n")
    r = which % len(ds)
    lines[r + 1] = corrupt(lines[r + 1], kind, np.random.default_rng(seed))
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=f"bad.csv, line {r + 2}:"):
        read_fer_csv(f)
    got = read_fer_csv(f, skip_bad=True)
    keep = np.arange(len(ds)) != r
    same(got, ds[keep])
    assert [s[0] for s in got.skipped] == [f"{f}, line {r + 2}"]

def test_challenge_csvs(tmp_path):
    "The challenge's train.csv (emotion,pixels) and test.csv (pixels only, labels -1)."
    ds = FERDataset(np.arange(3 * N_PIXELS).reshape(3, 48, 48) % 256, [0, 6, 3], ["", "", ""])
    rows = [f"{l},{' '.join(map(str, im.ravel()))}" for im, l in zip(ds.images, ds.labels)]
    (tmp_path / "train.csv").write_text("emotion,pixels\n" + "\n".join(rows) + "\n")
    (tmp_path / "test.csv").write_text("pixels\n" + "\n".join(r.split(",")[1] for r in rows) + "\n")
    same(read_fer_csv(tmp_path / "train.csv"), ds)
    te = read_fer_csv(tmp_path / "test.csv")
    np.testing.assert_array_equal(te.images, ds.images)
    assert te.labels.tolist() == [-1, -1, -1] and te.usage.tolist() == ["", "", ""]

@pytest.mark.parametrize("content,match", [
    (b"", "empty"), (b"emotion,pixels,Usage\n", "no rows"), (b"a,b,c\n1,2,3\n", "not FER2013"),
])
def test_empty_and_wrong_files(tmp_path, content, match):
    f = tmp_path / "x.csv"; f.write_bytes(content)
    with pytest.raises(DataError, match=match): read_fer_csv(f)

@pytest.mark.parametrize("gz", [False, True])
def test_excel_byte_order_mark(tmp_path, gz):
    "A CSV saved by Excel starts with a UTF-8 byte-order mark: it loads as the same faces (pandas reads it too)."
    ds = load_sample()
    plain = ds.to_csv(tmp_path / "plain.csv")
    raw = b"\xef\xbb\xbf" + plain.read_bytes()
    f = tmp_path / ("excel.csv.gz" if gz else "excel.csv")
    f.write_bytes(gzip.compress(raw) if gz else raw)
    same(read_fer_csv(f), ds)

def test_usage_error_prints_the_plain_value(tmp_path):
    "A bad Usage is named as it is in the file, not as a NumPy repr."
    f = tmp_path / "u.csv"
    f.write_text("emotion,pixels,Usage\n0," + " ".join(["1"] * N_PIXELS) + ",Validation\n")
    with pytest.raises(DataError) as e: read_fer_csv(f)
    assert "Usage 'Validation' is not one of" in str(e.value) and "np.str_" not in str(e.value)

def test_truncated_gzip(tmp_path):
    f = tmp_path / "t.csv.gz"
    load_sample().to_csv(f)
    (tmp_path / "cut.csv.gz").write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    with pytest.raises(DataError, match=r"cut\.csv\.gz.*truncated"):
        read_fer_csv(tmp_path / "cut.csv.gz")

def test_image_folder(tmp_path):
    "train/<emotion>/*.png and test/<emotion>/*.jpg; usage from the Kaggle name prefix; a corrupt image is named."
    s = load_sample()[:14]
    for i, (im, l, u) in enumerate(zip(s.images, s.labels, s.usage)):
        split = "train" if u == "Training" else "test"
        d = tmp_path / split / EMOTIONS[l]; d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(im).save(d / f"{u}_{i}.png")
    got = read_image_folder(tmp_path)
    assert len(got) == 14
    assert sorted(map(bytes, got.images)) == sorted(map(bytes, s.images))  # PNG is lossless
    assert sorted(zip(got.labels.tolist(), got.usage.tolist())) == sorted(zip(s.labels.tolist(), s.usage.tolist()))
    bad = tmp_path / "test" / "fear" / "broken.jpg"; bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="broken.jpg"): read_image_folder(tmp_path)
    got = read_image_folder(tmp_path, skip_bad=True)
    assert len(got) == 14 and got.skipped[0][0].endswith("broken.jpg")

def test_find_chain(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FER2013_PATH", raising=False)
    with pytest.raises(FileNotFoundError, match="kaggle"): find_fer2013()
    f = tmp_path / "elsewhere.csv"; load_sample().to_csv(f)
    monkeypatch.setenv("FER2013_PATH", str(f))
    assert find_fer2013() == f
    monkeypatch.delenv("FER2013_PATH")
    (tmp_path / "data").mkdir(); load_sample().to_csv(tmp_path / "data" / "fer2013.csv.gz")
    assert find_fer2013() == (tmp_path / "data" / "fer2013.csv.gz").resolve()
    assert find_fer2013("sample") == SAMPLE_PATH
    with pytest.raises(FileNotFoundError, match="nope.csv"): find_fer2013(tmp_path / "nope.csv")

def test_cache(tmp_path, isolated_cache):
    "A second load comes from the cache; touching the source invalidates it."
    f = tmp_path / "s.csv.gz"; load_sample().to_csv(f)
    a = load_fer2013(f)
    assert len(list(isolated_cache.glob("*/images.npy"))) == 1
    b = load_fer2013(f)
    same(a, b)
    # rewrite with different content: size/mtime change, so the cache must not serve the old faces
    load_sample()[:10].to_csv(f); os.utime(f, ns=(1, 1))
    assert len(load_fer2013(f)) == 10

def test_arrays_in_parts(tmp_path):
    s = load_sample()
    save_arrays(s, tmp_path / "arr", parts=3)
    assert len(list((tmp_path / "arr").glob("images.part*.npy"))) == 3
    same(load_fer2013(tmp_path / "arr"), s)

def test_sample_is_stratified():
    s = load_sample()
    assert SAMPLE_PATH.stat().st_size < 1_000_000
    for u in USAGES:
        c = s[s.usage == u].counts()
        assert (c == c[0]).all() and c[0] > 0  # the same number of every emotion in each split

def test_splits_sample():
    s = load_sample()
    sp = split_usage(s)
    assert [len(p) for p in sp[:3]] == [(s.usage == u).sum() for u in USAGES]
    st_ = split_stratified(s, seed=1)
    idx = [set(map(bytes, p.images)) for p in st_[:3]]
    assert not (idx[0] & idx[1]) and not (idx[0] & idx[2]) and not (idx[1] & idx[2])
    assert sum(len(p) for p in st_[:3]) == len(s)
    with pytest.raises(ValueError, match="Usage"): split_usage(FERDataset(s.images, s.labels, [""] * len(s)))

@needs_full_data
def test_full_set(isolated_cache):
    "The real FER2013: the published split sizes and class totals, and the stratified split's proportions."
    ds = load_fer2013(FULL_DATA)
    assert len(ds) == 35887 and not ds.skipped
    sp = split_usage(ds)
    assert [len(p) for p in sp[:3]] == [28709, 3589, 3589]
    assert sp.train.counts().tolist() == [3995, 436, 4097, 7215, 4830, 3171, 4965]
    assert sp.val.counts().tolist() == [467, 56, 496, 895, 653, 415, 607]
    assert sp.test.counts().tolist() == [491, 55, 528, 879, 594, 416, 626]
    assert ds.counts().tolist() == [4953, 547, 5121, 8989, 6077, 4002, 6198]
    cached = load_fer2013(FULL_DATA)
    assert cached.checksum() == ds.checksum()
    st_ = split_stratified(ds, seed=0)
    assert [len(p) for p in st_[:3]] == [28709, 3589, 3589]
    for p in st_[:3]: np.testing.assert_allclose(p.counts() / len(p), ds.counts() / len(ds), atol=0.002)
