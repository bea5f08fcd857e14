"""Run the studio with ``streamlit run`` on a free local port and drive Debian's Chromium with Playwright.

``python -m tests.browser_helpers OUT.png`` serves the studio, opens the World page, plays the scripted demo
and saves a full-page screenshot (the README's picture). The browser tests and ``bench.ui`` use the same
server and page helpers.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("STUDIO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def studio_server(timeout: float = 90.0, env: dict | None = None, log_path: Path | None = None):
    """Start ``streamlit run app.py`` on 127.0.0.1 and a free port; yield its URL; stop it afterwards.

    ``env`` adds environment variables (e.g. ``STUDIO_RUNS_DIR`` so a test's runs land in a temporary folder).
    The server's output goes to ``log_path``, else to ``tests/artifacts/streamlit-<port>.log`` where that folder
    exists, else nowhere.
    """
    port = free_port()
    if log_path is None and (ROOT / "tests" / "artifacts").is_dir():
        log_path = ROOT / "tests" / "artifacts" / f"streamlit-{port}.log"
    log = open(log_path, "w") if log_path is not None else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"streamlit did not come up on {url} (exit code {proc.poll()})")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        if log is not subprocess.DEVNULL:
            log.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    """A Playwright page in headless Debian Chromium (no browser download needed)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def wait_for_images(page, count: int, timeout_ms: int = 90_000) -> None:
    """Wait until ``count`` images of the main area have loaded and have pixels."""
    page.wait_for_function(
        """n => { const imgs = [...document.querySelectorAll('[data-testid="stImage"] img')];
                  return imgs.length >= n && imgs.every(i => i.complete && i.naturalWidth > 0); }""",
        arg=count, timeout=timeout_ms)


def select_option(page, label: str, option: str, scope=None, timeout_ms: int = 30_000) -> None:
    """Pick ``option`` in the Streamlit selectbox labelled ``label`` (inside ``scope``, default the page)."""
    box = (scope or page).get_by_test_id("stSelectbox").filter(has_text=label).first
    box.click(timeout=timeout_ms)
    page.get_by_role("option", name=option, exact=True).first.click(timeout=timeout_ms)


def goto_page(page, title: str, section: str | None = None, timeout_ms: int = 60_000) -> None:
    """Click a page in the top navigation bar (opening its ``section`` menu first) and wait for its title."""
    nav = page.get_by_test_id("stTopNav")
    if section:
        nav.get_by_test_id("stTopNavSection").filter(has_text=section).first.click(timeout=timeout_ms)
        page.get_by_test_id("stTopNavDropdownLink").filter(has_text=title).first.click(timeout=timeout_ms)
    else:
        nav.get_by_role("link", name=title, exact=True).first.click(timeout=timeout_ms)
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=timeout_ms)


def image_sources(page) -> list[str]:
    return page.eval_on_selector_all('[data-testid="stImage"] img', "els => els.map(e => e.src)")


def screenshot(out: Path) -> None:
    with studio_server() as url, browser_page(height=1500) as page:
        page.goto(f"{url}/world")
        wait_for_images(page, 4)
        page.get_by_role("button", name="Play scripted demo").click()
        page.wait_for_selector('[data-testid="stVideo"]', timeout=120_000)
        page.wait_for_timeout(2500)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png"))
