"""End to end in a real browser: `streamlit run app.py` driven by Playwright in Debian's Chromium.

A new user's path on the World page: the scene renders from three cameras, another world can be picked, the
scripted demo plays as a video with its reward chart. Screenshots land in tests/artifacts/ on failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser_helpers import CHROMIUM, browser_page, studio_server, wait_for_images

ARTIFACTS = Path(__file__).parent / "artifacts"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: apt-get install chromium")]


@pytest.fixture(scope="module")
def server():
    ARTIFACTS.mkdir(exist_ok=True)
    with studio_server() as url:
        yield url


@pytest.fixture
def page(server, request):
    with browser_page() as pg:
        pg.goto(server)
        yield pg
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)


def test_world_page_renders_cameras_and_switches_world(page):
    wait_for_images(page, 4)
    sources = page.eval_on_selector_all('[data-testid="stImage"] img', "els => els.map(e => e.src)")
    assert len(set(sources)) == 4, "each camera shows its own picture"
    page.get_by_text("push the", exact=False).first.wait_for()
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="Stack", exact=False).click()
    page.get_by_text("stack the", exact=False).first.wait_for(timeout=60_000)
    # The new scene's pictures replace the old ones (different media files).
    page.wait_for_function(
        """old => { const s = [...document.querySelectorAll('[data-testid="stImage"] img')].map(e => e.src);
                    return s.length === 4 && s.every(x => !old.includes(x)); }""", arg=sources, timeout=60_000)
    wait_for_images(page, 4)
    assert page.get_by_test_id("stException").count() == 0


def test_scripted_demo_plays_in_the_browser(page):
    wait_for_images(page, 4)
    page.get_by_role("button", name="Play scripted demo").click()
    video = page.wait_for_selector('[data-testid="stVideo"]', timeout=120_000)
    page.wait_for_function("v => v.readyState >= 2 && v.duration > 1", arg=video, timeout=30_000)
    assert page.get_by_text("Success").count() >= 1
    page.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=30_000)
    assert page.get_by_test_id("stException").count() == 0
