"""Print the board pack HTML to PDF with headless Chromium (A4 landscape comes from the page's @page rule)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Without the background-networking flags Chromium tries to reach Google's services at start.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


class PdfError(RuntimeError):
    pass


def find_chromium() -> str | None:
    """CHROMIUM_PATH if set, else the first Chromium/Chrome on PATH."""
    env = os.environ.get("CHROMIUM_PATH")
    if env:
        return env if Path(env).exists() else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html_path: Path, pdf_path: Path, *, chromium: str | None = None, timeout_s: float = 90) -> Path:
    binary = chromium or find_chromium()
    if binary is None:
        raise PdfError(
            "no Chromium found for the PDF (install the Debian package `chromium` or set CHROMIUM_PATH); "
            "pass --no-pdf to export CSV and HTML only"
        )
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_pdf = pdf_path.with_suffix(".pdf.part")
    tmp_pdf.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="execmetrics-chromium-") as profile:
        cmd = [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={tmp_pdf}",
            html_path.resolve().as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise PdfError(f"chromium did not finish printing within {timeout_s:.0f}s") from exc
    if proc.returncode != 0 or not tmp_pdf.exists() or tmp_pdf.stat().st_size == 0:
        tail = "\n".join((proc.stderr or "").strip().splitlines()[-5:])
        raise PdfError(f"chromium failed to print {html_path} (exit {proc.returncode}): {tail}")
    with tmp_pdf.open("rb") as fh:
        if fh.read(5) != b"%PDF-":
            raise PdfError(f"chromium wrote something that is not a PDF to {tmp_pdf}")
    tmp_pdf.replace(pdf_path)
    return pdf_path
