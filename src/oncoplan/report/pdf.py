"""PDF export of the HTML report with headless Chromium (``--print-to-pdf``).

Chromium runs the report's JavaScript, so the Plotly figures are printed as drawn; HTML-only converters
(weasyprint) would print empty figure boxes, and re-drawing every figure for reportlab would duplicate the
report. Chromium is found from ``ONCOPLAN_CHROMIUM``, then ``chromium``, ``chromium-browser``,
``google-chrome`` or ``google-chrome-stable`` on the PATH (Debian/Ubuntu: ``apt-get install chromium``).
It runs with a throw-away profile, no network services and no sandbox (needed as root in containers).

Example:
    >>> export_pdf("report.html", "report.pdf")  # doctest: +SKIP
    PosixPath('report.pdf')
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from oncoplan.errors import ConfigError, OncoplanError

logger = logging.getLogger(__name__)

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
    "--window-size=1040,1400",
)
INSTALL_HINT = (
    "install Chromium (Debian/Ubuntu: apt-get install chromium) or set ONCOPLAN_CHROMIUM to its path; "
    "alternatively open the HTML report in a browser and print it to PDF"
)


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or None.

    Example:
        >>> find_chromium() is None or Path(find_chromium()).exists()
        True
    """
    env = os.environ.get("ONCOPLAN_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def export_pdf(
    html_path: str | Path,
    pdf_path: str | Path | None = None,
    chromium: str | None = None,
    timeout: float = 180.0,
    render_wait_ms: int = 10_000,
) -> Path:
    """Print ``html_path`` to PDF with headless Chromium and return the PDF path.

    Args:
        html_path: the report (a local file).
        pdf_path: output (default: same name with ``.pdf``).
        chromium: browser executable (default: :func:`find_chromium`).
        timeout: seconds before the browser is stopped.
        render_wait_ms: virtual time Chromium gives the page's scripts (plots) before printing.

    Raises:
        ConfigError: no browser found, or the HTML file is missing.
        OncoplanError: the browser failed or produced no PDF.
    """
    src = Path(html_path).resolve()
    if not src.is_file():
        raise ConfigError(f"report {src} does not exist", hint="build it first with `oncoplan report`")
    out = Path(pdf_path) if pdf_path is not None else src.with_suffix(".pdf")
    exe = chromium or find_chromium()
    if exe is None:
        raise ConfigError("PDF export needs headless Chromium, which was not found", hint=INSTALL_HINT)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    with tempfile.TemporaryDirectory(prefix="oncoplan-chromium-") as profile:
        cmd = [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={int(render_wait_ms)}",
            f"--print-to-pdf={out.resolve()}",
            src.as_uri(),
        ]
        logger.info("printing %s to %s", src, out)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except FileNotFoundError:
            raise ConfigError(f"Chromium executable {exe} could not be started", hint=INSTALL_HINT) from None
        except subprocess.TimeoutExpired:
            raise OncoplanError(f"Chromium did not finish printing {src} within {timeout:g} s") from None
    if not out.exists() or out.stat().st_size == 0:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
        raise OncoplanError(
            f"Chromium (exit code {proc.returncode}) did not write {out}",
            hint="; ".join(tail) or "run with --debug and check the browser installation",
        )
    return out
