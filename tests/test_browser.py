"""End to end in a real browser: `streamlit run app.py` driven by Playwright in Debian's Chromium.

The path a new user takes: open the studio, pick the manipulation world, start training, see the live frames
change (and a second tab watch the same run, which keeps training when a tab closes), edit the goal prompt,
see the edit marker and the EPIC distance, stop, and find the run under Runs. Then the World page: the scene
renders from every camera, another world can be picked, the scripted demo plays with its reward chart.
Runs go to a temporary folder; full-page screenshots land in tests/artifacts/ when a test fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agents.vlm.embedder import STUDIO_CHECKPOINT

from studio.runs import list_runs
from studio.session import Session
from tests.browser_helpers import CHROMIUM, browser_page, goto_page, select_option, studio_server, wait_for_images

ARTIFACTS = Path(__file__).parent / "artifacts"
SLOW = 120_000          # ms: a shared two-core machine can be very slow
LIVE = 'img[id^="live-"]'
FRAMES = f"""() => Number(document.querySelector('{LIVE}')?.dataset.frames || 0)"""

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: apt-get install chromium")]


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def server(runs_dir):
    ARTIFACTS.mkdir(exist_ok=True)
    with studio_server(env={"STUDIO_RUNS_DIR": str(runs_dir)}) as url:
        yield url
    for info in list_runs(runs_dir):           # never leave a worker behind
        if info.status.active:
            Session.attach(info.path).stop("test teardown")


@pytest.fixture
def page(server, request):
    with browser_page() as pg:
        yield pg
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)


def wait_frames(page, more: int, timeout_ms: int = SLOW) -> None:
    """Wait until the live view has shown ``more`` new frames."""
    start = page.evaluate(FRAMES)
    page.wait_for_function(f"n => ({FRAMES})() >= n", arg=start + more, timeout=timeout_ms)


def test_new_user_trains_edits_the_reward_stops_and_finds_the_run(page, server, runs_dir):
    page.goto(server)
    page.get_by_role("heading", name="Studio").wait_for(timeout=SLOW)
    sidebar = page.get_by_test_id("stSidebar")
    select_option(page, "World", "Manipulation (table-top arm)", scope=sidebar)
    select_option(page, "Task", "Push", scope=sidebar)
    select_option(page, "Reward", "CLIP + shaping", scope=sidebar)
    sidebar.get_by_text("Training settings").click()
    clip_model = sidebar.get_by_role("textbox", name="CLIP model")   # shown for rewards with a CLIP term
    assert clip_model.input_value() == ""                            # blank: the studio CLIP
    clip_model.fill(f"studio:{STUDIO_CHECKPOINT}")                   # the same model, named by its file
    clip_model.press("Enter")
    envs = sidebar.get_by_label("Parallel environments")
    envs.fill("2")
    envs.press("Enter")
    page.get_by_role("button", name="Start training").click()

    # The live view plays: its picture changes several times.
    page.wait_for_selector(LIVE, timeout=SLOW)
    wait_frames(page, 3)
    (info,) = list_runs(runs_dir)
    assert info.world_id == "studio/Push-v0"
    assert Session.attach(info.path).config.clip_model == f"studio:{STUDIO_CHECKPOINT}"   # the field reached the run

    # A second tab on the same URL watches the same run; closing the first leaves training going.
    second = page.context.browser.new_page()
    second.goto(page.url)
    second.wait_for_selector(LIVE, timeout=SLOW)
    wait_frames(second, 2)
    second.close()
    assert Session.attach(info.path).status().active

    # Edit the goal prompt: a new version, and the EPIC distance to the previous one.
    goto_page(page, "Reward editor")
    page.get_by_role("textbox", name="Goal prompts (one per line)").fill("the red cube is next to the blue pad")
    page.get_by_role("button", name="Apply as v1").click()
    page.get_by_text("Applied as reward v1").wait_for(timeout=SLOW)
    readout = page.get_by_test_id("stMetric").filter(has_text="EPIC distance v0 → v1")
    page.wait_for_function("el => /\\d\\.\\d{3}/.test(el.innerText)", arg=readout.element_handle(), timeout=SLOW)

    # Back on the Studio page: the charts mark the edit, with its distance.
    goto_page(page, "Studio")
    page.locator('[data-testid="stVegaLiteChart"] svg text', has_text="v1 · EPIC").first.wait_for(timeout=SLOW)
    page.get_by_text("EPIC distance", exact=False).first.wait_for(timeout=SLOW)

    # The studio's own Stop (its widget key): while a page script runs, Streamlit's header shows a "Stop" button
    # too, and a click there only stops the page's script.
    page.locator(".st-key-stop").get_by_role("button").click()
    page.get_by_text("Training stopped", exact=False).wait_for(timeout=SLOW)
    assert Session.attach(info.path).status().state == "stopped"

    goto_page(page, "Runs")
    # The run's badge itself, and visible text only: the runs table's data grid keeps a hidden copy of its cells
    # ("Stopped", the run id) ahead of the badge in the page. When the grid was drawn first (under load), `.first`
    # found that copy and waited for it to show, while the screenshot showed the badge.
    page.get_by_text(info.run_id).filter(visible=True).first.wait_for(timeout=SLOW)
    page.locator(".stMarkdownBadge", has_text="Stopped").first.wait_for(timeout=SLOW)
    assert page.get_by_test_id("stException").count() == 0


def test_the_studio_page_answers_at_slash_studio_and_home_with_its_query(page, server):
    """The default page is served at "/"; "/studio" and "/home" (what a user would type) hand over to it, the
    query kept."""
    for alias in ("studio", "home"):
        page.goto(f"{server}/{alias}?run=no-such-run")
        page.get_by_text("New run").first.wait_for(timeout=SLOW)
        # At "/" with a ?run= (the missing run's, or the newest run's once the page has said the first is missing).
        page.wait_for_url(re.compile(rf"^{re.escape(server)}/\?run="), timeout=60_000)
        assert page.get_by_text("Page not found").count() == 0, alias
    page.goto(f"{server}/no-such-page")
    page.get_by_text("Page not found").first.wait_for(timeout=SLOW)   # the check above can fail


def test_choices_survive_a_visit_to_another_page(page, server):
    """Streamlit forgets an undrawn widget's value; the studio keeps a page's choices while the user looks at
    another page (before, Inspect came back with empty prompt boxes and an error)."""
    page.goto(f"{server}/inspect")
    goal = page.get_by_role("textbox", name="Goal prompts (one per line)")
    goal.wait_for(timeout=SLOW)
    assert goal.input_value()                                 # the episode's own prompt, to begin with
    goal.fill("the gripper is above the cube")
    goal.press("Control+Enter")
    page.wait_for_timeout(1500)
    goto_page(page, "Studio")
    sidebar = page.get_by_test_id("stSidebar")
    select_option(page, "Reward", "CLIP + shaping", scope=sidebar)
    goto_page(page, "World viewer")
    goto_page(page, "Studio")
    sidebar.get_by_text("The CLIP reward plus potential-based shaping", exact=False).wait_for(timeout=SLOW)
    goto_page(page, "Inspect")
    goal.wait_for(timeout=SLOW)
    page.wait_for_timeout(1500)
    assert goal.input_value() == "the gripper is above the cube"
    assert page.get_by_text("cannot be scored").count() == 0


def test_world_page_renders_cameras_and_switches_world(page, server):
    page.goto(f"{server}/world")
    wait_for_images(page, 4)
    sources = page.eval_on_selector_all('[data-testid="stImage"] img', "els => els.map(e => e.src)")
    assert len(set(sources)) == 4, "each camera shows its own picture"
    page.get_by_text("push the", exact=False).first.wait_for()
    select_option(page, "World", "Stack", scope=page.get_by_test_id("stSidebar"))
    page.get_by_text("stack the", exact=False).first.wait_for(timeout=60_000)
    # The new scene's pictures replace the old ones (different media files).
    page.wait_for_function(
        """old => { const s = [...document.querySelectorAll('[data-testid="stImage"] img')].map(e => e.src);
                    return s.length === 4 && s.every(x => !old.includes(x)); }""", arg=sources, timeout=60_000)
    wait_for_images(page, 4)
    assert page.get_by_test_id("stException").count() == 0


def test_scripted_demo_plays_in_the_browser(page, server):
    page.goto(f"{server}/world")
    wait_for_images(page, 4)
    page.get_by_role("button", name="Play scripted demo").click()
    video = page.wait_for_selector('[data-testid="stVideo"]', timeout=SLOW)
    page.wait_for_function("v => v.readyState >= 2 && v.duration > 1", arg=video, timeout=30_000)
    # The outcome metric is a later element of the same rerun: under load it can reach the page after the
    # video has loaded (CI stop 33 saw a count of 0), so wait for it. A "Failure" outcome still fails here.
    outcome = page.get_by_test_id("stMetric").filter(has_text="Outcome")
    outcome.wait_for(timeout=30_000)
    assert "Success" in outcome.inner_text(), outcome.inner_text()
    page.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=30_000)
    assert page.get_by_test_id("stException").count() == 0
