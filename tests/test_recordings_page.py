"""AppTest: the Recordings page lists a run's recording, filters its episodes, shows an episode's video and
per-term chart, and offers Repair for a recording that was not closed cleanly."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from studio.recording import reader
from tests.test_recording import play, recorder

TIMEOUT = 120


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_RUNS_DIR", str(tmp_path))
    rec, paths = recorder(tmp_path / "20261126-000000-push-v0-ppo-abcd" / "recordings", video_every=1)
    play(rec, 210)
    rec.close()
    return tmp_path, paths


def page() -> AppTest:
    return AppTest.from_string("from studio.ui import recordings_page\nrecordings_page.render()",
                               default_timeout=TIMEOUT)


def test_lists_filters_and_shows_an_episode(runs_dir):
    _, paths = runs_dir
    at = page().run()
    assert not at.exception, at.exception
    assert any("train-v0" in o and "4 episodes" in o for o in at.selectbox[0].options)
    frames = at.dataframe
    assert len(frames) == 1 and len(frames[0].value) == 4
    seeds = [row["seed"] for row in reader.episode_index(paths)]
    # the seed column is there only when some episode was reset with a seed of its own
    assert ("seed" in frames[0].value.columns) == any(s is not None for s in seeds), seeds
    assert len(at.get("vega_lite_chart")) == 1
    chart = str(at.get("vega_lite_chart")[0].proto)
    assert "reach" in chart and "is_success" in chart
    assert at.get("video"), "the filmed episode's video is on the page"
    failed = at.segmented_control[0].set_value("succeeded").run()
    assert not failed.exception
    if not any(row["success"] for row in reader.episode_index(paths)):      # random actions rarely succeed
        assert any("No episode matches" in i.value for i in failed.info)
    assert any("studio/push/train-v0" in c.value for c in at.caption)


def test_a_recording_without_seeds_shows_no_seed_column(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_RUNS_DIR", str(tmp_path))
    rec, paths = recorder(tmp_path / "20261126-000000-push-v0-ppo-abcd" / "recordings")
    play(rec, 210, seed=None)
    rec.close()
    assert all(row["seed"] is None for row in reader.episode_index(paths))
    at = page().run()
    assert not at.exception, at.exception
    assert len(at.dataframe[0].value) == 4 and "seed" not in at.dataframe[0].value.columns


def test_damaged_recording_offers_repair(runs_dir):
    _, paths = runs_dir
    paths.metadata.write_text("{")
    at = page().run()
    assert not at.exception, at.exception
    assert any("not closed cleanly" in w.value for w in at.warning)
    repair = [b for b in at.button if b.label == "Repair"]
    assert repair
    at = repair[0].click().run()
    assert any("restored metadata.json" in s.value for s in at.success)
    assert not at.warning and len(at.dataframe) == 1 and np.isfinite(len(at.dataframe[0].value))


@pytest.mark.skipif(not __import__("pathlib").Path("/usr/bin/chromium").exists(), reason="apt-get install chromium")
def test_recordings_page_plays_the_video_in_chromium(runs_dir, tmp_path):
    from tests.browser_helpers import browser_page, studio_server

    root, _ = runs_dir
    artifacts = tmp_path / "page.png"       # kept for a look: pytest's tmp_path
    with studio_server(env={"STUDIO_RUNS_DIR": str(root)}) as url, browser_page(height=1400) as page:
        page.goto(f"{url}/recordings")
        page.get_by_role("heading", name="Recordings", exact=True).first.wait_for(timeout=120_000)
        video = page.wait_for_selector('[data-testid="stVideo"]', timeout=120_000)
        page.wait_for_function("v => v.readyState >= 2 && v.duration > 1", arg=video, timeout=60_000)
        page.get_by_text("reward per step").first.wait_for(timeout=60_000)     # the episode's term chart
        page.screenshot(path=str(artifacts), full_page=True)
    assert artifacts.stat().st_size > 20_000
