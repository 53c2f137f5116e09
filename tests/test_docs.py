"""The Quarto-free docs build (scripts/build_docs.py: nbdev's processing, nbconvert's Markdown, MkDocs with the Material
theme): README.md generated from nbs/index.ipynb, and the site checked as built (navigation, contents, previous/next,
links and anchors, no machine paths) and in headless Chromium (search (the report page shows its results table and plots; a screenshot is saved to
artifacts/docs-report.png for CI). The pages of notebooks with published outputs (fer-run --publish) show them: a
site built from notebooks published from real smoke runs, and the committed notebooks' own pages, show their banner,
their plots or tables, and numbers equal to the results files the banner names. The browser tests skip when chromium, chromedriver or selenium is missing
(CI installs them: apt-get install chromium chromium-driver; pip install selenium)."""
import functools, http.server, json, os, re, shutil, subprocess, sys, threading
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "scripts" / "build_docs.py"
sys.path.insert(0, str(BUILD.parent))
ARTIFACTS = Path(os.environ.get("FER_ARTIFACTS", ROOT / "artifacts"))
COMMANDS = ['pip install -e . && fer-run --profile smoke', 'pip install -e ".[dev]" && bash scripts/test.sh']
START, END = "<!-- results:start -->", "<!-- results:end -->"


def build(*args, timeout=900):
    r = subprocess.run([sys.executable, str(BUILD), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert r.returncode == 0, f"build_docs.py {' '.join(map(str, args))} failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
    return r.stdout


def synthetic_results(d: Path) -> Path:
    "Two results files written by the real writer, with the real score on the shipped sample's labels."
    from fer_nbdev.data import load_sample
    from fer_nbdev.results import score, write_results
    y = load_sample().labels[:84]
    def m(acc, splits):
        k = int(round(acc * len(y))); pred = y.copy(); pred[k:] = (y[k:] + 1) % 7
        return {s: score(y, np.eye(7)[pred] * 0.9 + 0.1 / 7) for s in splits}
    hist = {"loss": [1.9, 1.5, 1.3], "val_loss": [1.8, 1.6, 1.5], "accuracy": [0.3, 0.4, 0.5], "val_accuracy": [0.3, 0.35, 0.4]}
    common = dict(params=1234, epochs=3, history=hist, seed=0, data={"source": "synthetic", "n": 168}, wall_time_s=5.0)
    write_results("gpu-cnn7-usage", model="cnn7", metrics=m(0.5, ("PublicTest", "PrivateTest")),
                  parameters={"profile": "gpu"}, results_dir=d, **common)
    write_results("cpu-tuned_cnn-stratified", model="tuned_cnn", metrics=m(0.75, ("val", "test")), protocol="stratified",
                  parameters={"profile": "cpu"}, results_dir=d, **common)
    return d


# ----------------------------------------------------------------------------------------------- README -----
def test_readme_from_index(tmp_path):
    out = tmp_path / "README.md"
    build("--readme", "--readme-out", out, "--results", synthetic_results(tmp_path / "results"))
    text = out.read_text()
    lines = [l for l in text.splitlines() if l.strip()]
    assert lines[0] == "# fer_nbdev" and lines[1].startswith("> Facial-emotion recognition")
    assert lines[2] == "```sh" and lines[3:5] == COMMANDS and lines[5] == "```"     # exactly the two commands, first
    assert text.count(START) == 1 and text.count(END) == 1 and text.index(START) < text.index(END)
    section = text[text.index(START):text.index(END)]
    assert "| 7-layer CNN | 50.0% |" in section and "Study's number" in section    # filled from the results files
    assert ":::" not in text and "{target=" not in text and "#|" not in text       # no Quarto/nbdev leftovers
    for target in re.findall(r"\]\((nbs/[^)#]+)", text): assert (ROOT / target).exists(), target


def test_committed_readme_is_generated(tmp_path):
    "README.md is generated from nbs/index.ipynb (outside the results markers, which the report fills)."
    committed = (ROOT / "README.md").read_text()
    hint = "README.md is generated: run python scripts/build_docs.py --readme"
    assert START in committed and END in committed, f"README.md has no results markers. {hint}"
    build("--readme", "--readme-out", tmp_path / "README.md", "--results", tmp_path / "no-results")
    strip = lambda t: re.sub(re.escape(START) + ".*?" + re.escape(END), "", t, flags=re.S)
    assert strip((tmp_path / "README.md").read_text()) == strip(committed), f"README.md differs from nbs/index.ipynb. {hint}"


# ----------------------------------------------------------------------------------------------- site -------
class _Links(HTMLParser):
    "A built page's links (`hrefs`), its pages in the primary navigation (`nav`), its contents list (`toc`), its previous/next links, its element ids."
    def __init__(self):
        super().__init__()
        self.hrefs, self.nav, self.toc, self.footer, self.imgs, self.h3_ids, self.ids = [], [], [], [], [], [], []
        self._navs = []   # the classes of the <nav> elements we are in
    def handle_starttag(self, tag, attrs):
        a = dict(attrs); cls = a.get("class") or ""
        if a.get("id"): self.ids.append(a["id"])
        if tag == "nav": self._navs.append(cls)
        if tag == "a" and a.get("href"):
            href, navs = a["href"], " ".join(self._navs)
            self.hrefs.append(href)
            if "md-footer__link" in cls: self.footer.append((cls.split("--")[-1], href))
            elif "md-nav--secondary" in navs and href.startswith("#"): self.toc.append(href)
            elif "md-nav--primary" in navs and "md-nav__link" in cls and "#" not in href: self.nav.append(href)
        if tag == "img": self.imgs.append(a.get("src", ""))
        if tag in ("h3", "h4") and a.get("id"): self.h3_ids.append(a["id"])
    def handle_endtag(self, tag):
        if tag == "nav" and self._navs: self._navs.pop()


@functools.lru_cache(maxsize=None)
def _parse(path: str, mtime: float):
    p = _Links(); p.feed(Path(path).read_text()); return p


def parse(path): return _parse(str(path), path.stat().st_mtime)


def site_pages(site): return sorted(p.name for p in site.glob("*.html") if p.name != "404.html")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("docs")
    out = tmp / "site"
    build("--site", "--out", out, "--results", synthetic_results(tmp / "results"))
    return out


def test_site_pages_navigation_contents_and_prev_next(site):
    "One page per notebook, in nbs/sidebar.yml's order in every page's navigation and in the previous/next links; a contents list on every page with sections."
    from build_docs import notebook_list, html_name
    order = [html_name(n) for n in notebook_list(ROOT / "nbs")]
    nbs = sorted(p.name for p in (ROOT / "nbs").glob("*.ipynb"))
    assert len(order) == len(nbs) and site_pages(site) == sorted(order) and {"index.html", "report.html"} <= set(order)
    assert (site / "search" / "search_index.json").stat().st_size > 10_000 and (site / "docs.css").exists()
    for i, page in enumerate(order):
        links = parse(site / page)
        nav = [h if h != "./" else page for h in dict.fromkeys(links.nav)]
        assert nav == order, f"{page}: the navigation lists {nav}"
        prev_next = dict(links.footer)
        assert prev_next.get("prev") == (order[i - 1] if i else None), f"{page}: previous is {prev_next.get('prev')}"
        assert prev_next.get("next") == (order[i + 1] if i + 1 < len(order) else None), f"{page}: next is {prev_next.get('next')}"
        if page != "colab.html": assert len(links.toc) >= 2, f"{page}: no contents list ({links.toc})"


def test_site_links_and_anchors_resolve_and_ids_are_unique(site):
    "Every local link leads to a page of the site, and its anchor to an element of that page; no page repeats an element id."
    for page in site_pages(site):
        links = parse(site / page)
        dup = sorted({i for i in links.ids if links.ids.count(i) > 1})
        assert not dup, f"{page}: duplicate element ids {dup}"
        for h in links.hrefs:
            if re.match(r"^(https?:|mailto:|data:|javascript:)", h): continue
            target, _, anchor = h.partition("#")
            target = target or page
            if target in ("./", ""): target = "index.html" if page == "index.html" else target
            assert (site / target).exists(), f"{page}: link {h} leads to no file"
            if anchor and target.endswith(".html"):
                assert anchor in parse(site / target).ids, f"{page}: link {h}: {target} has no element with id {anchor!r}"


def test_site_shows_no_path_of_the_machine_that_built_it(site):
    "No page names the checkout, the Python environment, the home folder or the build's temporary folders."
    import tempfile
    machine = {str(ROOT), sys.prefix, str(Path(sys.prefix).resolve()), str(site.parent.parent), tempfile.gettempdir() + "/pytest-of-"}
    if str(Path.home()) not in ("/", "/root"): machine.add(str(Path.home()))
    for page in site_pages(site):
        text = (site / page).read_text()
        found = [m for m in machine if m in text]
        assert not found, f"{page} shows {found}"
        assert not re.search(r"lib/python3\.\d+/site-packages/", text), f"{page} shows a Python environment's site-packages/"


def test_site_api_reference(site):
    "show_doc output (nbdev's processing) is on the pages: the report's functions, the data loader."
    assert {"results_table", "write_report", "update_readme"} <= set(parse(site / "report.html").h3_ids)
    assert "load_fer2013" in parse(site / "data.html").h3_ids
    html = (site / "report.html").read_text()
    assert "#| export" not in html and "nbdev_export()" not in html and "default_exp" not in html


def test_site_index_has_commands_and_results(site):
    html = (site / "index.html").read_text()
    first_pre = re.search(r"<pre>(.*?)</pre>", html, re.S).group(1)
    text = re.sub(r"<[^>]+>", "", first_pre).replace("&quot;", '"').replace("&amp;", "&")
    assert [l for l in text.splitlines() if l.strip()] == COMMANDS
    assert "PrivateTest acc" in html and "50.0%" in html


def test_own_notebooks_pass_nbdevs_strict_processing(tmp_path):
    "index and 07_report go through nbdev's processing unchanged (so nbdev_docs with Quarto handles them too)."
    out = build("--site", "--strict", "--only", "index,07_report", "--out", tmp_path / "site", "--results", tmp_path / "none")
    assert "report.html" in out and (tmp_path / "site" / "report.html").exists()


def test_site_pages_have_the_colab_badge_and_hide_the_colab_cell(site):
    "Each numbered notebook's page shows its Open-in-Colab badge; its first cell, Colab's set-up, is hidden (#| hide)."
    for nb in sorted((ROOT / "nbs").glob("[0-9]*.ipynb")):
        page = re.sub(r"^\d+[a-zA-Z0-9]*_", "", nb.stem.lower()) + ".html"      # as build_docs.html_name names it
        html = (site / page).read_text()
        assert "colab-badge.svg" in html and f"blob/main/nbs/{nb.name}" in html, nb.name
        if nb.name != "10_colab.ipynb": assert "setup_colab" not in html and "git clone" not in html, nb.name


def test_readme_api_links_point_to_the_published_site(site):
    "The README's API links point to the published site (settings.ini's doc_host and doc_baseurl), at pages and anchors the site has."
    import configparser
    cfg = configparser.ConfigParser(); cfg.read(ROOT / "settings.ini")
    url = cfg["DEFAULT"]["doc_host"] + cfg["DEFAULT"]["doc_baseurl"] + "/"
    links = re.findall(rf"\]\({re.escape(url)}([\w.-]+\.html)(?:#([\w.-]+))?\)", (ROOT / "README.md").read_text())
    assert len(links) >= 3 and any(a for _, a in links), links
    for page, anchor in links:
        assert (site / page).exists(), f"{url}{page}: no such page in the site"
        if anchor: assert f'id="{anchor}"' in (site / page).read_text(), f"{url}{page}#{anchor}: no such anchor"

# ----------------------------------------------------------------------------------------------- browser ----
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser(site, tmp_path_factory):
    yield from _browser(site, tmp_path_factory)


def _browser(site, tmp_path_factory):
    "A headless Chromium and a local HTTP server on `site`: (driver, base url)."
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--window-size=1400,1000",
              f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try: yield driver, f"http://127.0.0.1:{server.server_port}"
    finally:
        driver.quit(); server.shutdown(); server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass


def test_report_page_in_browser(browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    driver, url = browser
    driver.get(f"{url}/report.html")
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    assert "Report" in driver.find_element(By.CSS_SELECTOR, "article h1").text
    # the results table, with the synthetic run's number beside the study's
    tables = [t for t in driver.find_elements(By.CSS_SELECTOR, "main table") if "PrivateTest acc" in t.text]
    assert tables, "no results table on the report page"
    row = next(r for r in tables[0].find_elements(By.CSS_SELECTOR, "tr") if r.text.startswith("7-layer CNN"))
    assert "50.0%" in row.text and "60.50%" in row.text and "gpu" in row.text
    assert tables[0].is_displayed() and tables[0].size["height"] > 100
    # the plots: accuracy by model, confusion matrix, per-class F1, learning curves, all loaded
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)"))
    # the page's own images (not the external Open-in-Colab badge, which an offline machine cannot load)
    imgs = driver.execute_script("return Array.from(document.querySelectorAll('main img')).filter(i => !/^https?:/.test(i.getAttribute('src')))"
                                 ".map(i => [i.naturalWidth, i.naturalHeight])")
    assert len(imgs) >= 4 and all(w > 0 and h > 0 for w, h in imgs), imgs
    # the navigation marks this page; the contents list is shown beside the page at this width
    nav = driver.find_elements(By.CSS_SELECTOR, ".md-nav--primary a.md-nav__link--active")
    assert any(a.get_attribute("href").endswith("/report.html") for a in nav)
    toc = [a for a in driver.find_elements(By.CSS_SELECTOR, ".md-sidebar--secondary .md-nav--secondary a") if a.is_displayed()]
    assert len(toc) >= 5 and any(a.text == "results_table" for a in toc)
    # a wide table scrolls inside its box: the page itself is no wider than the window
    assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(height + 50, 16000))
    shot = ARTIFACTS / "docs-report.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_index_page_in_browser(browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    driver, url = browser
    driver.set_window_size(1400, 1000)
    driver.get(f"{url}/index.html")
    pre = driver.find_element(By.CSS_SELECTOR, "main pre")
    assert [l for l in pre.text.splitlines() if l.strip()] == COMMANDS
    link = next(a for a in driver.find_elements(By.CSS_SELECTOR, ".md-nav--primary a.md-nav__link") if a.get_attribute("href").endswith("/report.html"))
    driver.execute_script("arguments[0].scrollIntoView(); arguments[0].click()", link)
    WebDriverWait(driver, 30).until(lambda d: d.current_url.endswith("/report.html"))
    assert driver.find_elements(By.CSS_SELECTOR, "main img")
    # the next link at the foot of the page leads to the page after it in the navigation
    nxt = driver.find_element(By.CSS_SELECTOR, "a.md-footer__link--next")
    driver.execute_script("arguments[0].click()", nxt)
    WebDriverWait(driver, 30).until(lambda d: d.current_url.endswith("/detect.html"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.get(f"{url}/index.html")
    driver.save_screenshot(str(ARTIFACTS / "docs-index.png"))


def test_search_finds_a_function_by_name(browser):
    "The site's full-text search (Material's, offline) finds `load_fer2013` and leads to its entry on the data page."
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    driver, url = browser
    driver.set_window_size(1400, 1000)
    driver.get(f"{url}/cnn.html")
    driver.find_element(By.CSS_SELECTOR, "label.md-search__icon, .md-search__input").click()
    box = driver.find_element(By.CSS_SELECTOR, "input.md-search__input")
    box.send_keys("load_fer2013")
    entry = re.compile(r"/data\.html(\?[^#]*)?#load_fer2013$")   # Material adds ?h=<query> to highlight the words found
    # find and click the result in one script: the results list re-renders as the search index loads, so an
    # element found by one WebDriver call can be gone (stale) by the next
    click_hit = """const a = Array.from(document.querySelectorAll('.md-search-result__link'))
                        .find(a => new RegExp(arguments[0]).test(a.href));
                   if (a) a.click();
                   return Boolean(a);"""
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(click_hit, entry.pattern))
    WebDriverWait(driver, 30).until(lambda d: entry.search(d.current_url))
    assert driver.find_element(By.ID, "load_fer2013").text.startswith("load_fer2013")


# ----------------------------------------------------------------------------------- published outputs ----
PAGES = {"00_data": "data.html", "01_augmentation": "augmentation.html", "02_baseline": "baseline.html",
         "03_cnn": "cnn.html", "04_tuning": "tuning.html", "05_transfer": "transfer.html", "06_ensemble": "ensemble.html",
         "07_report": "report.html", "08b_predict": "predict.html"}   # the pages issue 14 lists
# a split's metrics as the notebooks print them: {'PrivateTest': 0.405, ...} or {'PrivateTest': {'accuracy': 0.5943, ...}}
_SPLIT_NUMBER = re.compile(r"'(PrivateTest|PublicTest|val|test)(\+tta)?': (\{'accuracy': )?(-?\d+\.\d+)")


def banner_info(html_text):
    "The run a page's banner names (the comment fer-run --publish writes), or None."
    m = re.search(r"<!-- fer-run-outputs (\{.*?\}) -->", html_text)
    return json.loads(m.group(1)) if m else None


def check_numbers(text, records):
    """Every split metric the page prints equals that split's metric in one of `records`, at the digits shown (an
    explicit 'accuracy' must be the accuracy; a bare number any of accuracy, macro-F1, MSE). Returns the accuracies matched."""
    matched = 0
    for split, tta, acc, value in _SPLIT_NUMBER.findall(text):
        split, digits = split + tta, len(value.split(".")[1])
        metrics = [r["metrics"][split] for r in records if split in r.get("metrics", {})]
        assert metrics, f"the page shows {split} = {value}, but no results file has {split}"
        names = ("accuracy",) if acc else ("accuracy", "macro_f1", "mse")
        ok = [n for n in names for m in metrics if n in m and round(m[n], digits) == float(value)]
        assert ok, f"the page shows {split}: {value}, the results files say {[{n: m.get(n) for n in names} for m in metrics]}"
        matched += "accuracy" in ok
    return matched


def page_check(driver, url, page, records=None, sample=None):
    "Open `page`: its banner is shown, it has a loaded image or a table, its printed metrics match `records`."
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    driver.get(f"{url}/{page}")
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)"))
    banner = driver.find_elements(By.XPATH, "//main//blockquote[contains(., 'fer-run --publish')]")
    assert banner and banner[0].is_displayed(), f"{page}: no banner naming the run"
    # the parameters cell's code is hidden (the banner lists what the run injected after it)
    assert not re.search(r"data_path = \S+ +#", driver.find_element(By.CSS_SELECTOR, "main").text), f"{page}: the parameters cell is shown"
    if sample is not None:
        assert ("Outputs from the sample run; the full run is fer-run --profile" in banner[0].text) == sample, banner[0].text
    imgs = driver.execute_script("return Array.from(document.querySelectorAll('main article img')).filter(i => !/^https?:/.test(i.getAttribute('src')))"
                                 ".map(i => [i.naturalWidth, i.naturalHeight])")
    tables = driver.find_elements(By.CSS_SELECTOR, "main article table.dataframe")
    assert any(w > 0 and h > 0 for w, h in imgs) or tables, f"{page}: no plot and no table in its outputs"
    if records: assert check_numbers(driver.find_element(By.CSS_SELECTOR, "main").text, records) >= 1, f"{page}: no accuracy shown"
    return banner[0].text


@pytest.fixture(scope="module")
def published_site(smoke_runs, tmp_path_factory):
    "A site built from copies of the notebooks into which real smoke runs were published."
    from fer_nbdev.publish import publish_outputs
    runs, results = smoke_runs
    tmp = tmp_path_factory.mktemp("published")
    shutil.copytree(ROOT / "nbs", tmp / "nbs")
    table = publish_outputs(runs_dir=runs, nbs_dir=tmp / "nbs")
    assert set(table["profile"].dropna().index) == {"00_data", "02_baseline", "03_cnn"}
    build("--site", "--nbs", tmp / "nbs", "--only", "00_data,02_baseline,03_cnn", "--no-execute", "--out", tmp / "site",
          "--results", results)
    return tmp / "site", results


def test_published_outputs_render_without_running(published_site):
    "No notebook is executed, yet the pages carry the run's outputs: images, the banner, the results file's numbers."
    site, results = published_site
    for page in ("data.html", "baseline.html", "cnn.html"):
        html = (site / page).read_text()
        info = banner_info(html)
        assert info and info["profile"] == "smoke" and info["sample"], page
        imgs = [i for i in parse(site / page).imgs if not i.startswith("http")]
        assert imgs and all((site / i).stat().st_size > 1000 for i in imgs), (page, imgs)
        assert "Outputs from the sample run" in html, page
        assert str(results) not in html and str(ROOT) not in html, f"{page}: machine paths"
    info = banner_info((site / "cnn.html").read_text())
    rec = json.loads((results / Path(info["results"][0]).name).read_text())
    assert rec["run"] == "smoke-cnn4-usage"
    text = re.sub(r"<[^>]+>", "", (site / "cnn.html").read_text()).replace("&#39;", "'")
    assert check_numbers(text, [rec]) >= 1


@pytest.fixture(scope="module")
def published_browser(published_site, tmp_path_factory):
    yield from _browser(published_site[0], tmp_path_factory)


def test_published_pages_in_browser(published_browser, published_site):
    driver, url = published_browser
    site, results = published_site
    for nb, page in (("00_data", "data.html"), ("02_baseline", "baseline.html"), ("03_cnn", "cnn.html")):
        info = banner_info((site / page).read_text())
        records = [json.loads((results / Path(r).name).read_text()) for r in info["results"]]
        page_check(driver, url, page, records, sample=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "docs-cnn-published.png"))


def test_committed_pages_show_their_runs(browser, site):
    """The pages of the committed notebooks show the outputs published into them: each listed page has its banner
    (the report, executed by the build, its note), a plot or a table, and numbers equal to the results files named."""
    published = {nb: page for nb, page in PAGES.items() if banner_info((site / page).read_text()) or nb == "07_report"}
    if len(published) <= 1: pytest.skip("no outputs published into nbs/ yet (fer-run --publish)")
    driver, url = browser
    driver.set_window_size(1400, 1000)
    for nb, page in PAGES.items():
        info = banner_info((site / page).read_text())
        if nb == "07_report":
            assert "Outputs computed by the docs build" in (site / page).read_text() or info is None
            continue
        assert info, f"{page}: no published outputs (run its step, then fer-run --publish)"
        files = [ROOT / r for r in info["results"]]
        records = [json.loads(f.read_text()) for f in files if f.is_file()]
        assert info["sample"] or len(records) == len(files), f"{page}: results files missing: {info['results']}"
        page_check(driver, url, page, records if records and len(records) == len(files) else None, sample=info["sample"])
