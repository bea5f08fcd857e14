"""AppTest: the World page renders every camera, reacts to the scene picker, and plays the scripted demo."""

from __future__ import annotations

from pathlib import Path
import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture
def app():
    at = AppTest.from_file(str(Path(__file__).parents[1] / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_world_page_shows_every_camera(app):
    assert app.title[0].value == "World viewer"
    captions = [img.proto.imgs[0].caption for img in app.get("image")]
    assert captions == ["Front camera", "Top camera", "Workspace camera", "Wrist camera"]
    assert "push the" in app.markdown[0].value


def test_changing_world_and_seed_changes_the_scene(app):
    first = app.markdown[0].value
    app.sidebar.number_input[0].set_value(7).run()
    assert not app.exception
    assert app.markdown[0].value != first
    app.sidebar.selectbox[0].set_value("studio/Stack-v0").run()
    assert not app.exception
    assert "stack the" in app.markdown[0].value


def test_humanoid_world_shows_cameras_and_target_pose(app):
    app.sidebar.selectbox[0].set_value("studio/HumanoidKneel-v0").run()
    assert not app.exception
    assert "kneeling" in app.markdown[0].value
    assert len(app.sidebar.slider) == 0, "object count is a manipulation setting"
    captions = [img.proto.imgs[0].caption for img in app.get("image")]
    assert captions == ["Front camera", "Side camera", "Front camera, target pose", "Side camera, target pose"]


def test_scripted_demo_plays_and_reports_success(app):
    app.button(key="play_demo").click().run()
    assert not app.exception
    assert app.metric[0].value == "Success"
    videos = app.get("video")
    assert len(videos) == 1
    charts = app.get("vega_lite_chart")
    assert len(charts) == 1
    assert "reach" in str(charts[0].proto), "the chart plots the reward terms"
