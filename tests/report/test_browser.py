"""The report in a real browser: headless Chromium (Debian's package, driven by playwright) opens the file,
every main section and every Plotly figure renders, nothing fails or logs an error, and a screenshot is kept
as a test artifact; the PDF export prints it.

Artifacts go to ``$ONCOPLAN_TEST_ARTIFACTS`` (default ``test-artifacts/`` at the repository root).
Skipped when Chromium or the playwright package is missing; playwright never downloads a browser here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oncoplan.report.pdf import export_pdf, find_chromium

pytestmark = pytest.mark.browser

SECTIONS = ("summary", "cohort", "km", "performance", "plots", "subgroups", "policy", "model-card", "methods")


def artifacts_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "test-artifacts"
    folder = Path(os.environ.get("ONCOPLAN_TEST_ARTIFACTS", default))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def chromium() -> str:
    exe = find_chromium()
    if exe is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    return exe


def test_report_renders_in_headless_chromium(colon_report_file, chromium):
    sync_api = pytest.importorskip("playwright.sync_api")
    console_errors: list[str] = []
    failed: list[str] = []
    requested: list[str] = []
    with sync_api.sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        except sync_api.Error as exc:  # pragma: no cover - a browser that playwright cannot drive
            pytest.skip(f"playwright could not start {chromium}: {exc}")
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: console_errors.append(str(exc)))
            page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
            page.on("request", lambda r: requested.append(r.url))
            page.goto(colon_report_file.as_uri(), wait_until="load")
            n_plots = page.locator("div.js-plotly-plot").count()
            page.wait_for_function(
                "n => document.querySelectorAll('div.js-plotly-plot svg.main-svg').length >= n",
                arg=n_plots,
                timeout=30_000,
            )
            visible = {s: page.locator(f"section#{s}").is_visible() for s in SECTIONS}
            headings = {s: page.locator(f"section#{s} h2").inner_text() for s in SECTIONS}
            plot_ids = page.eval_on_selector_all("div.js-plotly-plot", "els => els.map(e => e.id)")
            traces = page.eval_on_selector_all(
                "div.js-plotly-plot",
                "els => els.map(e => e.querySelectorAll('g.trace, g.scatterlayer g').length)",
            )
            png = artifacts_dir() / "report-colon.png"
            page.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()
    assert all(visible.values()), visible
    assert all(headings.values()), headings
    # every figure of the report is a rendered Plotly graph with drawn traces
    figures = ("fig-km-arm", "fig-km-risk", "fig-roc", "fig-td-auc", "fig-brier", "fig-forest", "fig-policy")
    for needed in figures:
        assert needed in plot_ids, (needed, plot_ids)
    assert any(i.startswith("fig-calibration") for i in plot_ids)
    assert n_plots == len(plot_ids) and all(t > 0 for t in traces), traces
    assert console_errors == []
    assert failed == []
    assert all(u.startswith(("file:", "data:", "blob:", "about:")) for u in requested), requested
    assert png.stat().st_size > 50_000


def test_pdf_export(colon_report_file, chromium, tmp_path):
    pdf = export_pdf(colon_report_file, tmp_path / "report.pdf", chromium=chromium)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page>") + data.count(b"/Type/Page") >= 1
    assert len(data) > 100_000
    (artifacts_dir() / "report-colon.pdf").write_bytes(data)
