"""The report in a real headless Chromium: loads offline with no console errors, every plot draws.

Needs the Debian packages ``chromium`` and ``chromium-driver`` and the ``selenium`` package;
skipped (with the reason) only where the browser itself is absent. Screenshots of the whole
page at laptop width go to ``test-artifacts/report/``.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from planner.campaign import Campaign
from planner.report import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
LAPTOP = (1366, 900)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None, reason="headless Chromium is not installed (apt-get install chromium chromium-driver)"),
]

# For each plotly div: is it drawn (an SVG with marks, or a canvas), and how big is it.
_PROBE = """
return Array.from(document.querySelectorAll('.plotly-graph-div')).map(function (div) {
  var box = div.getBoundingClientRect();
  var svg = div.querySelector('svg.main-svg');
  var svgWidth = svg ? svg.getBoundingClientRect().width : 0;
  var svgs = div.querySelectorAll('svg.main-svg');
  var marks = div.querySelectorAll('g.trace path, g.trace image, g.trace rect, g.trace text, g.hm image, .imagelayer image');
  return {id: div.id, width: box.width, svg_width: svgWidth, height: box.height, n_svg: svgs.length, n_marks: marks.length,
          n_canvas: div.querySelectorAll('canvas').length, n_traces: (div.data || []).length,
          title: (div.layout && div.layout.title && div.layout.title.text) || ''};
});
"""


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage", f"--window-size={LAPTOP[0]},{LAPTOP[1]}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _full_page_png(driver, path: Path) -> None:
    """Screenshot of the whole page at the window's width (DevTools, beyond the viewport)."""
    width = driver.execute_script("return document.documentElement.clientWidth")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def _open(driver, html_path: Path) -> list[dict]:
    driver.get_log("browser")  # drop what an earlier page left
    driver.get(html_path.resolve().as_uri())
    # figures are drawn by the page's load handler; wait until each has its SVG
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return Array.from(document.querySelectorAll('.plotly-graph-div')).every(function (g) { return g.querySelector('svg.main-svg'); })")
    )
    driver.execute_script("window.scrollTo(0, document.body.scrollHeight); window.scrollTo(0, 0);")
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, "console errors:\n" + json.dumps(errors, indent=1)
    return driver.execute_script(_PROBE)


def _check_plots(plots: list[dict], n_expected: int) -> None:
    assert len(plots) == n_expected
    for plot in plots:
        assert plot["n_traces"] > 0, plot
        assert plot["n_svg"] > 0 or plot["n_canvas"] > 0, plot
        assert plot["n_marks"] > 0, f"plot drew no marks: {plot}"
        assert plot["width"] > 200 and plot["height"] > 200, plot
        assert plot["svg_width"] <= plot["width"] + 1, f"plot drawn wider than its box (clipped): {plot}"


@pytest.mark.parametrize(
    ("fixture", "name"),
    [
        pytest.param("kim_campaign", "regression", id="regression"),
        pytest.param("llzo_campaign", "classification", id="classification"),
        pytest.param("redox_campaign", "multi-objective", id="multi-objective"),
    ],
)
def test_report_renders_in_chromium(request, browser, artifacts_dir: Path, tmp_path: Path, fixture: str, name: str) -> None:
    campaign = request.getfixturevalue(fixture)
    result = build_report(Campaign.load(campaign), out=tmp_path / f"{name}.html")
    plots = _open(browser, result.html_path)
    _check_plots(plots, result.n_figures)
    # laptop width: nothing wider than the window (tables scroll inside their own box)
    overflow = browser.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a {LAPTOP[0]}px window"
    _full_page_png(browser, artifacts_dir / f"report-{name}.png")
    assert (artifacts_dir / f"report-{name}.png").stat().st_size > 10_000


def test_sortable_table_sorts(browser, kim_campaign: Path, tmp_path: Path) -> None:
    result = build_report(Campaign.load(kim_campaign), out=tmp_path / "sort.html")
    _open(browser, result.html_path)
    column = browser.execute_script(
        """
        var table = document.querySelector('#leaderboard table.sortable');
        var th = Array.from(table.querySelectorAll('th')).find(function (h) { return h.textContent === 'trial'; });
        var col = Array.from(th.parentNode.children).indexOf(th);
        th.click();
        return Array.from(table.tBodies[0].rows).map(function (r) { return parseFloat(r.cells[col].textContent); });
        """
    )
    assert column == sorted(column) and len(column) > 1
