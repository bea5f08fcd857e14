"""The CLIP reward page and its core: one recorded episode, instant re-scoring, clear errors on bad prompts."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from agents.vlm.clip_reward import vlm_rm_reward
from agents.vlm.embedder import default_embedder
from studio.clip_preview import closest_captions, record_episode, score

PAGE = "from studio.ui import inspect_page\ninspect_page.render()"


@pytest.fixture(scope="module")
def embedder():
    return default_embedder(device="cpu")


@pytest.fixture(scope="module")
def push_record(embedder):
    return record_episode("studio/Push-v0", 0, embedder, size=64)


def test_record_keeps_truth_and_one_embedding_per_step(push_record):
    r = push_record
    assert len(r.frames) == len(r.embeddings) == len(r.success) == len(r.progress) == 101
    assert r.success[-1], "the scripted push succeeds on seed 0"
    assert not r.success[0]
    np.testing.assert_allclose(np.linalg.norm(r.embeddings, axis=1), 1.0, atol=1e-5)
    assert "is on the" in r.goal_prompt and "far from" in r.baseline_prompt


def test_rescoring_equals_the_reference_formula(push_record, embedder):
    goals, bases = ["the red cube is on the blue pad"], ["the red cube is far from the blue pad"]
    for alpha in (0.0, 0.5, 1.0):
        fast = score(push_record, embedder, goals, bases, alpha)
        ref = vlm_rm_reward(push_record.embeddings, embedder.embed_texts(goals), embedder.embed_texts(bases), alpha)
        np.testing.assert_allclose(fast, ref, atol=1e-6)
    p = score(push_record, embedder, goals, bases, 0.0, mode="success")
    assert np.all((p >= 0) & (p <= 1))


def test_bad_prompts_are_refused_by_name(push_record, embedder):
    with pytest.raises(ValueError, match="equal length"):
        score(push_record, embedder, ["a", "b"], ["c"], 0.5)
    with pytest.raises(ValueError, match="alpha"):
        score(push_record, embedder, ["a"], ["c"], 1.5)


def test_closest_captions_rank_every_candidate(push_record, embedder):
    ranked = closest_captions(push_record, 50, embedder, ["my own caption"])
    assert {c for c, _ in ranked} >= set(push_record.candidate_captions) | {"my own caption"}
    sims = [s for _, s in ranked]
    assert sims == sorted(sims, reverse=True)


def test_humanoid_sweep_reaches_the_target_pose(embedder):
    r = record_episode("studio/HumanoidKneel-v0", 0, embedder, size=64)
    assert r.progress[0] == 0 and r.progress[-1] == 1
    assert r.success[-1] and not r.success[0]


@pytest.mark.parametrize("world_id", ["studio/Push-v0", "studio/HumanoidKneel-v0"])
def test_reward_frames_are_rendered_at_the_embedders_input_size(world_id):
    """A 224-px model (ViT-B-32's size) is fed 224-px frames by the Inspect page, not 96-px ones upsampled."""
    from tests.test_reward_stack import Big

    big = Big()     # asserts the frames it embeds are 224 px
    r = record_episode(world_id, 0, big, size=64)
    assert len(r.embeddings) == len(r.frames) and r.frames.shape[1:3] == (64, 64)


def test_page_renders_and_reports_bad_prompts_on_the_page():
    at = AppTest.from_string(PAGE, default_timeout=300)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Inspect"
    assert [m.label for m in at.metric][0] == "Rank corr. with progress"
    at.text_area(key="lab_base").set_value("one\ntwo").run()
    assert not at.exception
    assert "equal length" in at.error[0].value
    at.text_area(key="lab_base").set_value("the cube is far from the pad").run()
    at.slider(key="lab_alpha").set_value(0.0).run()
    assert not at.exception and not at.error


def test_the_objects_slider_fits_each_world_it_comes_back_to():
    """Choices are kept for the session (persist_state), so each range of the Objects slider has its own key: a
    kept 1 from Push would be below Stack's least of 2, an error on the page."""
    at = AppTest.from_string(PAGE, default_timeout=300)
    at.run()
    assert at.slider(key="lab_objects_1").value == 1
    at.selectbox(key="lab_world").set_value("studio/Stack-v0").run()
    assert not at.exception, at.exception
    assert at.slider(key="lab_objects_2").value == 2
    at.selectbox(key="lab_world").set_value("studio/Push-v0").run()
    assert not at.exception and at.slider(key="lab_objects_1").value == 1


def test_a_runs_policy_episode_is_embedded_at_the_embedders_input_size(tmp_path):
    """The Inspect page's "a run's saved policy" source: a real (tiny) run's checkpoint, played and embedded."""
    from studio.clip_preview import record_policy_episode
    from studio.runs import new_run
    from studio.spec import parse_run_config
    from studio.worker import Worker
    from tests.test_reward_stack import Big

    cfg = parse_run_config({"world_id": "studio/Reach-v0", "n_envs": 2, "total_steps": 128,
                            "reward": {"terms": [{"kind": "world", "key": "reach"}]},
                            "algo_kwargs": {"n_steps": 64, "batch_size": 64, "n_epochs": 1},
                            "telemetry": {"frame_every_s": 0}})
    paths = new_run(tmp_path, cfg.world_id, cfg.algo)
    paths.config.write_text(cfg.to_yaml())
    assert Worker(paths, cfg).train() == "completed"
    r = record_policy_episode(paths.root, Big(), size=64)      # Big asserts every frame it embeds is 224 px
    assert len(r.embeddings) == len(r.frames) == len(r.success) > 1
    assert r.frames.shape[1:3] == (64, 64)
