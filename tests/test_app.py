"""AppTest: page logic of the studio. The Studio page starts a run from the sidebar and watches it; the Reward
editor applies a new version (and refuses a bad prompt on the page); Runs lists, opens and compares runs;
Inspect plays a run's checkpoint; the World viewer and the planned pages render.

Two real runs (worker processes) serve the module, in a temporary runs folder: one started through the Studio
page's sidebar (Reach, world terms, 1,000 steps: it completes and leaves a checkpoint), and one live Push run
with a CLIP term that keeps training until the module ends.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from studio.presets import run_config
from studio.runs import list_runs
from studio.session import Session

APP = str(Path(__file__).parents[1] / "app.py")
TIMEOUT = 180
SMALL_PPO = {"n_steps": 64, "batch_size": 64, "n_epochs": 2}


def page(name: str, prelude: str = "") -> AppTest:
    return AppTest.from_string(f"{prelude}\nfrom studio.ui import {name}\n{name}.render()", default_timeout=TIMEOUT)


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STUDIO_RUNS_DIR", str(root))
        yield root


@pytest.fixture(scope="module")
def finished_run(runs_dir):
    """A run started the way a person starts one: widgets in the Studio sidebar, then Start training."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.sidebar.selectbox(key="new_task_manipulation").set_value("studio/Reach-v0").run()
    at.sidebar.number_input(key="new_envs").set_value(2)
    at.sidebar.number_input(key="new_steps").set_value(1000)
    at.sidebar.text_area(key="new_args").set_value("n_steps: 250\nbatch_size: 100\nn_epochs: 2")
    at.sidebar.toggle(key="new_subproc").set_value(True)      # envs in subprocesses: the toggle reaches the run
    at.sidebar.button(key="start_training").click().run()
    assert not at.exception, at.exception
    (info,) = list_runs(runs_dir)
    session = Session.attach(info.path)
    assert session.config.subprocess_envs is True
    assert session.wait(TIMEOUT).state == "completed"
    return session, at


@pytest.fixture(scope="module")
def live_run(runs_dir, finished_run):
    config = run_config("studio/Push-v0", "clip_shaping", n_envs=2, total_steps=10**7, algo_kwargs=SMALL_PPO)
    session = Session.start(config.with_overrides({"telemetry.flush_every_s": 0.3}), runs_dir)
    try:
        session.wait(TIMEOUT, states=("running",))
        while session.status().step < 200 and not session.status().finished:
            time.sleep(0.2)
        yield session
    finally:
        try:
            session.stop("test teardown")
            session.wait(TIMEOUT)
        except (RuntimeError, TimeoutError):
            pass


# ---------------------------------------------------------------------------------------------- Studio
def test_a_new_user_lands_on_the_studio_with_the_run_picker(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Studio"
    assert "press **Start training**" in at.markdown[0].value
    assert [s.label for s in at.sidebar.selectbox] == ["World", "Task", "Reward", "Algorithm"]
    assert at.sidebar.selectbox(key="new_task_manipulation").value == "studio/Push-v0"
    assert at.subheader[0].value == "The next run" and "push the" in at.markdown[1].value
    assert at.image[0].proto.imgs[0].caption.startswith("The scene on seed 0")
    at.sidebar.selectbox(key="new_preset_studio/Push-v0").set_value("clip").run()
    assert "push the red cube onto the blue pad" in at.markdown[1].value, "CLIP presets fix the colours"
    at.sidebar.selectbox(key="new_family").set_value("humanoid").run()
    assert not at.exception, at.exception
    reward = at.sidebar.selectbox(key="new_preset_studio/HumanoidArmsRaised-v0")
    assert reward.options == ["Dense reference (world terms)", "CLIP prompt only", "CLIP + control cost"]


def test_starting_from_the_sidebar_makes_the_config_the_widgets_say(finished_run):
    session, at = finished_run
    config = session.config
    assert (config.world_id, config.n_envs, config.total_steps) == ("studio/Reach-v0", 2, 1000)
    assert config.algo_kwargs == {"n_steps": 250, "batch_size": 100, "n_epochs": 2}
    assert [t.term_name for t in config.reward.terms] == ["reach", "success"]
    assert config.telemetry.frame_every_s <= 0.2
    assert at.selectbox(key="studio_run").value == session.run_id, "the new run is the one watched"
    assert at.query_params["run"] == session.run_id, "the URL names the run, so another tab can watch it"


def test_bad_algorithm_argument_is_an_error_on_the_page(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.sidebar.text_area(key="new_args").set_value("learning_rate: fast")
    at.sidebar.button(key="start_training").click().run()
    assert not at.exception
    assert "learning_rate: 'fast' is not a number" in at.error[0].value
    assert list_runs(tmp_path) == [], "nothing started"


def test_scripted_demonstrations_are_offered_for_sac_and_ppo_and_reach_the_run_config(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert "new_demos" in [w.key for w in at.sidebar.number_input]          # PPO (the default) starts cloned
    at.sidebar.selectbox(key="new_algo").set_value("recurrent_ppo").run()
    assert "new_demos" not in [w.key for w in at.sidebar.number_input]
    at.sidebar.selectbox(key="new_algo").set_value("sac").run()
    at.sidebar.number_input(key="new_demos").set_value(3)
    at.sidebar.toggle(key="new_subproc").set_value(True)       # which demonstrations cannot go with
    at.sidebar.button(key="start_training").click().run()
    assert not at.exception
    assert "demos: 3 needs the envs in the trainer's process" in at.error[0].value
    assert list_runs(tmp_path) == [], "nothing started"
    at.sidebar.selectbox(key="new_family").set_value("humanoid").run()
    at.sidebar.selectbox(key="new_algo").set_value("sac").run()
    assert "new_demos" not in [w.key for w in at.sidebar.number_input]      # no controller plays the humanoid


def _page_keeping_configs(tmp_path, monkeypatch) -> tuple[AppTest, list]:
    """The Studio page, run once, with the session's start replaced (for the test only) by one that keeps the
    config it is given and refuses, so no worker is started; returns the page and the kept configs."""
    kept = []

    def keep(config):
        kept.append(config)
        raise OSError("kept, not started")

    monkeypatch.setenv("STUDIO_RUNS_DIR", str(tmp_path))
    monkeypatch.setattr(Session, "start", staticmethod(keep))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    return at, kept


def test_standardising_the_reward_is_offered_for_sac_and_reaches_the_run_config(tmp_path, monkeypatch):
    """The toggle appears for SAC only; switched on, the config the page starts says so."""
    at, kept = _page_keeping_configs(tmp_path, monkeypatch)
    assert "new_standardize" not in [w.key for w in at.sidebar.toggle]      # PPO (the default): not offered
    at.sidebar.selectbox(key="new_algo").set_value("sac").run()
    at.sidebar.toggle(key="new_standardize").set_value(True)
    at.sidebar.button(key="start_training").click().run()
    assert not at.exception and "kept, not started" in at.error[0].value
    assert [(c.algo, c.standardize_reward) for c in kept] == [("sac", True)]


def test_normalising_is_offered_for_ppo_and_reaches_the_run_config_with_its_demonstrations(tmp_path, monkeypatch):
    """The PPO recipe of examples/clip_push_ppo_demos.yaml from the page: the toggle is PPO's (not SAC's), and the
    config the page starts has both."""
    at, kept = _page_keeping_configs(tmp_path, monkeypatch)
    at.sidebar.selectbox(key="new_algo").set_value("sac").run()
    assert "new_normalize" not in [w.key for w in at.sidebar.toggle]
    at.sidebar.selectbox(key="new_algo").set_value("ppo").run()
    at.sidebar.toggle(key="new_normalize").set_value(True)
    at.sidebar.number_input(key="new_demos").set_value(5)
    at.sidebar.button(key="start_training").click().run()
    assert not at.exception and "kept, not started" in at.error[0].value
    assert [(c.algo, c.normalize, c.demos) for c in kept] == [("ppo", True, 5)]


def test_missing_clip_model_file_is_a_warning_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_RUNS_DIR", str(tmp_path))
    at = page("studio_page", "import pathlib, studio.ui.studio_page as sp\n"
                             "sp.STUDIO_CHECKPOINT = pathlib.Path('/nonexistent/studio_clip.pt')")
    at.run()
    at.sidebar.selectbox(key="new_preset_studio/Push-v0").set_value("clip").run()
    assert not at.exception
    assert "model file" in at.sidebar.warning[0].value and "missing" in at.sidebar.warning[0].value


def test_studio_shows_a_finished_run_with_charts_and_its_last_frame(finished_run):
    session, _ = finished_run
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["run"] = session.run_id
    at.run()
    assert not at.exception, at.exception
    assert "Training completed" in at.info[0].value
    assert [m.label for m in at.metric] == ["Success (ground truth)", "Learned return", "Reference return"]
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2 and "term" in str(charts[1].proto)
    assert at.get("image")[0].proto.imgs[0].caption == "Last frame of environment 0"
    assert [b.label for b in at.main.button] == [], "a finished run has no Pause/Save/Stop"


def test_a_url_naming_a_missing_run_says_so_and_shows_the_newest(finished_run, live_run):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["run"] = "no-such-run"
    at.run()
    assert not at.exception, at.exception
    assert any("No run `no-such-run` on this machine" in t.value for t in at.toast), [t.value for t in at.toast]
    assert at.query_params["run"] == live_run.run_id, "the newest (active) run is shown and put in the URL"


def test_studio_live_view_and_controls_for_a_training_run(live_run):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["run"] = live_run.run_id
    at.run()
    assert not at.exception, at.exception
    html = at.get("html")
    assert len(html) == 1 and f"/app/static/live/{live_run.run_id}.json" in str(html[0].proto)
    assert {b.label for b in at.button} >= {"Pause", "Save", "Stop"}
    assert any("clip" in m.value and "the red cube is on the blue pad" in m.value for m in at.markdown)
    at.button(key="pause").click().run()
    assert live_run.wait(60, states=("paused",)).state == "paused"
    at.run()
    at.button(key="resume").click().run()
    assert live_run.wait(60, states=("running",)).state == "running"


# ---------------------------------------------------------------------------------------------- Reward editor
def test_editor_refuses_a_bad_prompt_on_the_page_and_applies_a_good_one(live_run):
    at = page("editor_page")
    at.query_params["run"] = live_run.run_id
    at.run()
    assert not at.exception, at.exception
    prefix = f"ed_{live_run.run_id}_0_0"
    at.text_area(key=f"{prefix}_base").set_value("one\ntwo")
    at.button[0].click().run()
    assert not at.exception
    assert "clip: " in at.error[0].value and "equal length" in at.error[0].value
    assert live_run.current_spec().version == 0, "nothing was sent"

    at.text_area(key=f"{prefix}_base").set_value("the red cube is far from the blue pad")
    at.text_area(key=f"{prefix}_goal").set_value("the red cube is next to the blue pad")
    at.button[0].click().run()
    assert not at.exception, at.exception
    spec = live_run.current_spec()
    assert spec.version == 1 and spec.terms[0].goal_prompts == ["the red cube is next to the blue pad"]
    assert "Applied as reward **v1**" in at.success[0].value
    assert at.metric[0].label == "EPIC distance v0 → v1"
    live_run.wait_for_event("epic", timeout=60, new_version=1)
    at.run()
    assert float(at.metric[0].value) >= 0.0, "the distance readout shows a number once computed"
    assert len(at.dataframe[0].value) == 2, "version history: v0 and v1"
    assert any("goal prompts" in e.label or "v0 → v1" in e.label for e in at.expander)


# ---------------------------------------------------------------------------------------------- Runs and Inspect
def test_runs_page_lists_opens_and_compares(finished_run, live_run):
    session, _ = finished_run
    at = page("runs_page")
    at.run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert set(table["id"]) == {session.run_id, live_run.run_id}
    at.selectbox(key="runs_open").set_value(session.run_id).run()
    assert any(session.run_id in c.value for c in at.caption)
    at.selectbox(key="cmp_a").set_value(session.run_id)
    at.selectbox(key="cmp_b").set_value(live_run.run_id).run()
    assert len(at.get("vega_lite_chart")) >= 6, "the opened run's two charts and two per compared run"
    live_run.save_checkpoint()
    live_run.wait_for_event("checkpoint", timeout=60)
    at.button(key="cmp_play").click().run()
    assert not at.exception, at.exception
    assert len(at.get("video")) == 2


def test_inspect_plays_a_runs_checkpoint_and_scores_it(finished_run):
    session, _ = finished_run
    at = page("inspect_page", "import streamlit as st\nst.session_state.run_id = " + repr(session.run_id))
    at.run()
    at.sidebar.radio(key="lab_source").set_value("run").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Inspect"
    assert "reach the" in at.markdown[0].value
    assert [m.label for m in at.metric][0] == "Rank corr. with progress"
    assert len(at.get("image")) >= 9, "the chart, the current frame and the filmstrip"


# ---------------------------------------------------------------------------------------------- World viewer
@pytest.fixture
def world():
    at = page("world_page")
    at.run()
    assert not at.exception, at.exception
    return at


def test_world_page_shows_every_camera(world):
    assert world.title[0].value == "World viewer"
    captions = [img.proto.imgs[0].caption for img in world.get("image")]
    assert captions == ["Front camera", "Top camera", "Workspace camera", "Wrist camera"]
    assert "push the" in world.markdown[0].value


def test_changing_world_and_seed_changes_the_scene(world):
    first = world.markdown[0].value
    world.sidebar.number_input[0].set_value(7).run()
    assert not world.exception
    assert world.markdown[0].value != first
    world.sidebar.selectbox[0].set_value("studio/Stack-v0").run()
    assert not world.exception
    assert "stack the" in world.markdown[0].value


def test_humanoid_world_shows_cameras_and_target_pose(world):
    world.sidebar.selectbox[0].set_value("studio/HumanoidKneel-v0").run()
    assert not world.exception
    assert "kneeling" in world.markdown[0].value
    assert len(world.sidebar.slider) == 0, "object count is a manipulation setting"
    captions = [img.proto.imgs[0].caption for img in world.get("image")]
    assert captions == ["Front camera", "Side camera", "Front camera, target pose", "Side camera, target pose"]


def test_scripted_demo_plays_and_reports_success(world):
    world.button(key="play_demo").click().run()
    assert not world.exception
    assert world.metric[0].value == "Success"
    assert len(world.get("video")) == 1
    charts = world.get("vega_lite_chart")
    assert len(charts) == 1 and "reach" in str(charts[0].proto), "the chart plots the reward terms"


@pytest.mark.parametrize("key", ["lessons"])
def test_planned_pages_say_what_they_will_do(key):
    at = AppTest.from_string(f"from studio.ui import planned_page\nplanned_page.renderer({key!r})()",
                             default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert at.title[0].value and any("This page will let you" in m.value for m in at.markdown)
