"""The built book in headless Chromium: every chapter renders its figures, its links
resolve, and its math is typeset by the local MathJax.

Run by ``make test-browser`` after ``make book`` (CI sets ``MSR_REQUIRE_BROWSER=1``,
which turns a missing book or browser into a failure instead of a skip).

Each page is copied (with the whole site, so relative paths hold) and a small script
is appended that, once MathJax has finished, writes what the browser saw into the
DOM: every image's ``naturalWidth`` and the number of ``mjx-container`` elements.
``chromium --dump-dom`` then returns that DOM.
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

#: Pages that must show at least this many figures: always (structure, closed form) ...
MIN_FIGURES = {
    "book/_executed/architectures": 1,
    "book/_executed/unavailing": 1,
}
#: ... and when the chapter computed everything (the smoke build of CI).
MIN_FIGURES_COMPUTED = {
    "book/_executed/degradation": 1, "book/_executed/unavailing": 3, "book/_executed/isometry": 1,
    "book/_executed/firing": 1, "book/_executed/landscape": 1, "book/_executed/init": 1,
}


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
  function report() {
    var imgs = Array.prototype.map.call(document.images, function (i) {
      return {src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth};
    });
    var out = document.createElement('div');
    out.id = 'msr-browser-check';
    out.textContent = JSON.stringify({
      imgs: imgs,
      mjx: document.querySelectorAll('mjx-container').length,
      mathjax: typeof window.MathJax === 'object' && !!window.MathJax.startup,
      state: document.readyState
    });
    document.body.appendChild(out);
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


def dump_dom(chromium: str, page: Path, profile_dir: Path) -> str:
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
           f"--user-data-dir={profile_dir}", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"chromium failed on {page}: {out.stderr[-2000:]}"
    return out.stdout


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

    # figures: every <img> file exists and the browser decoded it
    for img in report["imgs"]:
        target = _local_target(src, img["src"])
        assert target is None or target.exists(), f"{doc}: image {img['src']} is missing"
        assert img["ok"], f"{doc}: image {img['src']} did not load (naturalWidth {img['w']})"
    need = max(MIN_FIGURES.get(doc, 0), MIN_FIGURES_COMPUTED.get(doc, 0) if _computed(doc) else 0)
    assert len(report["imgs"]) >= need, f"{doc}: expected {need} figures, found {len(report['imgs'])}"

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
