"""The built book in headless Chromium at 1280 px: every page renders its figures, its
links resolve, its math is typeset by the local MathJax, and every chapter reads like a
paper companion: no parameters cell, code folded behind a toggle that opens, at least one
figure, nothing wider than the content column, a provenance line under each figure and
table (never naming ``HEAD`` as the commit), and a CSV download under each table.

Run by ``make test-browser`` after ``make book`` (CI sets ``MSR_REQUIRE_BROWSER=1``,
which turns a missing book or browser into a failure instead of a skip).  A screenshot of
every page, as a reader sees it at 1280 px, is saved under ``_build/screenshots/``.

Each page is copied (with the whole site, so relative paths hold) and a small script
is appended that, once MathJax has finished, measures what the browser laid out and
opens one code toggle, then writes its findings into the DOM; ``chromium --dump-dom``
returns that DOM.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
REQUIRED = os.environ.get("MSR_REQUIRE_BROWSER") == "1"

pytestmark = pytest.mark.browser

WIDTH = 1280
SCREENSHOTS = ROOT / "_build" / "screenshots"
#: Pages that must show at least this many figures: always (structure, closed form,
#: or the paper's numbers when none of ours is stored) ...
MIN_FIGURES = {
    "book/_executed/architectures": 1,
    "book/_executed/unavailing": 1,
}
#: ... and when the chapter computed everything (the smoke build of CI).
MIN_FIGURES_COMPUTED = {
    "book/_executed/degradation": 1, "book/_executed/unavailing": 3, "book/_executed/isometry": 1,
    "book/_executed/firing": 1, "book/_executed/landscape": 1, "book/_executed/init": 1,
}
#: Chapters whose only figures need stored runs and have no paper numbers to plot
#: instead (Figs. 3, 4 and 5 and the isometry measurements are pictures of our networks):
#: without those runs the page shows the "not computed yet" box and no figure.
FIGURES_NEED_RUNS = {"book/_executed/landscape", "book/_executed/init", "book/_executed/isometry",
                     "book/_executed/firing"}


def _computed(doc: str) -> bool:
    """Whether the executed notebook behind ``doc`` ran in smoke profile with compute on."""
    path = ROOT / f"{doc}.ipynb"
    if not path.exists():
        return False
    params = json.loads(path.read_text()).get("metadata", {}).get("papermill", {}).get("parameters", {})
    return params.get("profile") == "smoke" and not params.get("render_only")
#: Pages whose math must be typeset.
MATH_PAGES = {"book/_executed/unavailing"}

CHECK_SCRIPT = """
<script>
(function () {
  function shown(el) {  // laid out and rendered (a closed <details> skips its content)
    var r = el.getBoundingClientRect();
    if (el.closest('details:not([open])') && !el.closest('summary')) return false;
    if (el.checkVisibility && !el.checkVisibility({visibilityProperty: true})) return false;
    return r.width > 0 && r.height > 0;
  }
  function texts(list) { return Array.prototype.map.call(list, function (e) { return e.textContent.trim(); }); }
  function report() {
    var art = document.querySelector('article.bd-article') || document.body;
    var cs = getComputedStyle(art), ar = art.getBoundingClientRect();
    var left = ar.left + parseFloat(cs.paddingLeft), right = ar.right - parseFloat(cs.paddingRight);
    var wide = [];
    art.querySelectorAll('table, img, figure, .msr-table-wrap').forEach(function (el) {
      var r = el.getBoundingClientRect();
      if (!shown(el)) return;  // inside a closed toggle
      if (r.left < left - 1 || r.right > right + 1 || el.scrollWidth > el.clientWidth + 1)
        wide.push({tag: el.tagName, cls: String(el.className), width: Math.round(r.width),
                   scroll: el.scrollWidth, column: Math.round(right - left)});
    });
    var inputs = art.querySelectorAll('.cell_input');
    var toggles = art.querySelectorAll('details.above-input');
    var out = {
      imgs: Array.prototype.map.call(document.images, function (i) {
        return {src: (i.getAttribute('src') || '').slice(0, 200),
                ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth};
      }),
      figures: art.querySelectorAll('img').length,
      mjx: document.querySelectorAll('mjx-container').length,
      mathjax: typeof window.MathJax === 'object' && !!window.MathJax.startup,
      state: document.readyState,
      height: document.documentElement.scrollHeight,
      column: Math.round(right - left),
      wide: wide,
      params_cells: document.querySelectorAll('.tag_parameters, .tag_injected-parameters').length,
      text_has_params: art.innerText.indexOf('render_only =') >= 0,
      inputs: inputs.length,
      inputs_shown: Array.prototype.filter.call(inputs, shown).length,
      inputs_folded: Array.prototype.filter.call(inputs, function (i) {
        return !!i.closest('details.above-input');
      }).length,
      toggles: toggles.length,
      provenance: texts(art.querySelectorAll('.msr-provenance')),
      figures_uncaptioned: Array.prototype.filter.call(art.querySelectorAll('figure.msr-figure'), function (f) {
        return !f.querySelector('.msr-provenance'); }).length,
      tables_without_csv: Array.prototype.filter.call(art.querySelectorAll('.msr-table-wrap'), function (t) {
        return !t.querySelector('.msr-provenance a[download$=".csv"]'); }).length,
      not_computed: art.innerText.indexOf('Not computed yet') >= 0,
      opened: null
    };
    function done() {
      var div = document.createElement('div');
      div.id = 'msr-browser-check';
      div.textContent = JSON.stringify(out);
      document.body.appendChild(div);
    }
    if (!toggles.length) { done(); return; }
    toggles[0].querySelector('summary').click();  // the reader opens one cell
    setTimeout(function () {
      var input = toggles[0].querySelector('.cell_input');
      out.opened = !!input && shown(input) && input.innerText.trim().length > 0;
      done();
    }, 300);
  }
  // poll: report once every image has finished (or after 5 s) and MathJax, if the
  // page has it, has typeset the page
  var started = false, polls = 0;
  var timer = setInterval(function () {
    polls += 1;
    var pending = Array.prototype.some.call(document.images, function (i) { return !i.complete; });
    if (started || !document.body || (pending && polls < 50)) return;
    started = true;
    clearInterval(timer);
    var p = (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) || Promise.resolve();
    p.then(function () { setTimeout(report, 200); }, report);
  }, 100);
})();
</script>
"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _need(condition: bool, reason: str) -> None:
    if not condition:
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [c["file"] for c in part.get("chapters", [])]
    return pages


@pytest.fixture(scope="module")
def site():
    _need((HTML / "index.html").exists(), f"{HTML} is absent: run `make book` first")
    chromium = _chromium()
    _need(chromium is not None, "chromium is not installed (make test-browser installs it where apt is available)")
    tmp = Path(tempfile.mkdtemp(prefix="msr-browser-"))
    shutil.copytree(HTML, tmp / "html")
    yield chromium, tmp
    shutil.rmtree(tmp, ignore_errors=True)


def _chromium_cmd(chromium: str, profile_dir: Path, height: int) -> list[str]:
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
            "--hide-scrollbars", f"--window-size={WIDTH},{height}", f"--user-data-dir={profile_dir}",
            "--virtual-time-budget=10000"]


def dump_dom(chromium: str, page: Path, profile_dir: Path) -> str:
    cmd = _chromium_cmd(chromium, profile_dir, 1000) + ["--dump-dom", page.as_uri()]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile_dir, ignore_errors=True)  # a profile is tens of MB; 32 of them add up
    assert out.returncode == 0, f"chromium failed on {page}: {out.stderr[-2000:]}"
    return out.stdout


def screenshot(chromium: str, page: Path, profile_dir: Path, height: int, out: Path) -> None:
    """The whole page at 1280 px wide, as a reader first sees it (code folded)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = _chromium_cmd(chromium, profile_dir, max(800, min(height, 16000))) + [f"--screenshot={out}", page.as_uri()]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile_dir, ignore_errors=True)
    assert res.returncode == 0 and out.exists(), f"chromium could not screenshot {page}: {res.stderr[-2000:]}"


def _local_target(page: Path, ref: str) -> Path | None:
    url = urlparse(ref)
    if url.scheme or url.netloc or not url.path:
        return None
    return (page.parent / unquote(url.path)).resolve()


@pytest.mark.parametrize("doc", _toc_pages())
def test_chapter_renders(site, doc):
    chromium, tmp = site
    src = tmp / "html" / f"{doc}.html"
    assert src.exists(), f"{doc}.html was not built"
    html = src.read_text()
    page = src.with_name(f"_msr_check_{src.name}")
    page.write_text(html.replace("</body>", CHECK_SCRIPT + "</body>"))
    dom = dump_dom(chromium, page, tmp / f"profile-{src.stem}")
    m = re.search(r'<div id="msr-browser-check"[^>]*>(.*?)</div>', dom, re.S)
    assert m, f"{doc}: the check script did not report (page did not finish loading)"
    import html as htmllib

    report = json.loads(htmllib.unescape(m.group(1)))

    screenshot(chromium, src, tmp / f"shot-{src.stem}", report["height"],
               SCREENSHOTS / f"{doc.replace('/', '__')}.png")

    # figures: every <img> file exists and the browser decoded it
    for img in report["imgs"]:
        target = _local_target(src, img["src"])
        assert target is None or target.exists(), f"{doc}: image {img['src']} is missing"
        assert img["ok"], f"{doc}: image {img['src']} did not load (naturalWidth {img['w']})"
    chapter = doc.startswith("book/_executed/")
    need = max(MIN_FIGURES.get(doc, 0), MIN_FIGURES_COMPUTED.get(doc, 0) if _computed(doc) else 0)
    if chapter and not (doc in FIGURES_NEED_RUNS and report["not_computed"] and not _computed(doc)):
        need = max(need, 1)
    assert report["figures"] >= need, f"{doc}: expected {need} figures, found {report['figures']}"

    # nothing wider than the content column
    assert not report["wide"], f"{doc}: wider than the {report['column']} px column: {report['wide']}"

    # provenance: under every figure and table, a real commit (never HEAD); tables with a CSV
    for line in report["provenance"]:
        assert not re.search(r"\bHEAD\b", line), f"{doc}: provenance names HEAD as the commit: {line}"
    assert report["figures_uncaptioned"] == 0, f"{doc}: a figure without its provenance line"
    assert report["tables_without_csv"] == 0, f"{doc}: a table without its CSV download"
    if chapter:
        assert report["provenance"] or not report["figures"], f"{doc}: no provenance line on the page"

        # results first: no parameters cell; code folded behind toggles that open
        assert report["params_cells"] == 0 and not report["text_has_params"], f"{doc}: a parameters cell is shown"
        assert "render_only = " not in html, f"{doc}: the parameters cell is in the page"
        assert report["inputs"] > 0 and report["inputs_shown"] == 0, \
            f"{doc}: {report['inputs_shown']} of {report['inputs']} code cells shown before a toggle is opened"
        assert report["inputs_folded"] == report["inputs"] and report["toggles"] == report["inputs"], \
            f"{doc}: a code cell without its toggle"
        assert report["opened"] is True, f"{doc}: opening the first toggle did not reveal its code"

    # no missing references: every local link and script resolves to a file
    for ref in re.findall(r'(?:href|src)="([^"]+)"', html):
        target = _local_target(src, ref)
        if target is not None:
            assert target.exists(), f"{doc}: broken local reference {ref}"
    assert "output traceback" not in dom and "PapermillExecutionError" not in dom, f"{doc}: a cell failed"

    # math: the MathJax script is local (under _static) and typesets the page
    scripts = re.findall(r'<script[^>]*src="([^"]*mathjax[^"]*)"', html, re.I)
    for s in scripts:
        assert not urlparse(s).scheme, f"{doc}: MathJax loaded from the network: {s}"
        assert "_static/" in s and _local_target(src, s).exists(), f"{doc}: MathJax script {s} is not local"
    if doc in MATH_PAGES:
        assert scripts, f"{doc}: no MathJax script on a page with math"
        assert report["mathjax"] and report["mjx"] > 0, f"{doc}: math was not typeset (mjx-container: {report['mjx']})"
