"""The object-naming room in the studio: the seek-names term in reward specs, training runs with the memory agent
(and an edit that switches the bonus off), and recording of its dict observations through Minari."""

import json

import minari
import numpy as np
import pytest

from studio.spec import RewardSpec, SpecError, parse_reward_spec, parse_run_config, world_probe

WORLD = "studio/FastMapRoom-v0"
BONUS = [{"kind": "world", "key": "success"}, {"kind": "seek_names", "weight": 0.1}]


# ---------------------------------------------------------------------------------------------- spec
def test_spec_accepts_seek_names_and_refuses_bad_cap():
    spec = parse_reward_spec({"terms": BONUS})
    assert spec.names == ["success", "seek_names"]
    params = spec.term_params()[1]
    assert params["kind"] == "seek_names" and params["weight"] == 0.1 and params["cap"] == 1.0
    assert RewardSpec.model_validate_json(spec.model_dump_json()) == spec          # round trip
    with pytest.raises(SpecError) as err:
        parse_reward_spec({"terms": [{"kind": "seek_names", "cap": 11}]})
    assert err.value.fields == ["terms[0].cap"]
    with pytest.raises(SpecError) as err:
        parse_reward_spec({"terms": [{"kind": "seek_names", "key": "success"}]})
    assert err.value.fields == ["terms[0].key"]


def test_seek_names_needs_a_run_whose_infos_carry_the_memory_signal():
    spec = parse_reward_spec({"terms": BONUS})
    terms, with_memory = world_probe(WORLD, {}, "dcem")
    assert "memory_new_name" in with_memory and terms == ["success", "naming"]
    assert spec.check_world_terms(terms, with_memory) is spec
    for agent in ("no_memory", "lstm"):
        with pytest.raises(SpecError, match="memory_new_name") as err:
            spec.check_world_terms(terms, world_probe(WORLD, {}, agent)[1])
        assert err.value.fields == ["terms[1].kind"]
    with pytest.raises(SpecError) as err:
        spec.check_world_terms(["reach", "success"], world_probe("studio/Reach-v0")[1])
    assert err.value.fields == ["terms[1].kind"]


def test_run_config_agent_defaults_and_refusals():
    config = parse_run_config({"world_id": WORLD, "reward": {"terms": BONUS}})
    assert (config.agent, config.algo) == ("dcem", "ppo")
    assert parse_run_config(config.to_yaml()) == config
    lstm = parse_run_config({"world_id": WORLD, "agent": "lstm", "reward": {"terms": BONUS[:1]}})
    assert lstm.algo == "recurrent_ppo"
    assert parse_run_config({"world_id": "studio/Reach-v0", "reward": {"terms": [{"kind": "world", "key": "reach"}]}}
                            ).agent == "mlp"
    refused = [({"agent": "no_memory"}, "seek_names"), ({"agent": "mlp"}, "dict observations"),
               ({"agent": "lstm", "algo": "ppo", "reward": {"terms": BONUS[:1]}}, "recurrent_ppo"),
               ({"world_id": "studio/Reach-v0", "agent": "dcem",
                 "reward": {"terms": [{"kind": "world", "key": "reach"}]}}, "FastMap")]
    for changes, words in refused:
        with pytest.raises(SpecError, match=words) as err:
            parse_run_config({"world_id": WORLD, "reward": {"terms": BONUS}, **changes})
        assert err.value.fields == ["agent"]


# ---------------------------------------------------------------------------------------------- training
def test_worker_trains_the_memory_agent_and_switches_the_bonus_off(tmp_path):
    import torch

    from studio.runs import new_run, read_status
    from studio.worker import Worker

    torch.set_num_threads(1)
    cfg = parse_run_config({"world_id": WORLD, "world_kwargs": {"shaping": 0.0}, "agent": "dcem", "n_envs": 2,
                            "total_steps": 384, "reward": {"terms": BONUS},
                            "algo_kwargs": {"n_steps": 64, "batch_size": 64, "n_epochs": 1},
                            "telemetry": {"frame_every_s": 0.01, "frame_size": 64}})
    paths = new_run(tmp_path, cfg.world_id, cfg.algo)
    paths.config.write_text(cfg.to_yaml())
    worker = Worker(paths, cfg).build()
    assert type(worker.model.policy.features_extractor).__name__ == "DCEMExtractor"
    frame = worker.venv.env_method("render_camera", None, "reward", 64, 64, indices=[0])[0]
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8 and frame.std() > 1
    worker.model.learn(128, callback=worker.callbacks())
    off = parse_reward_spec({"terms": [BONUS[0], {**BONUS[1], "enabled": False}]})
    assert worker.apply_spec(off)
    entry = {e.name: e for e in worker.stack.entries}["seek_names"]
    assert not entry.enabled and worker.spec.version == 1
    rows = worker.live.log.rows()
    assert all("memory_new_name" in info for info in worker.live.log.infos(rows))   # re-scoring/EPIC can read it
    assert worker.train() == "completed"
    status = read_status(paths)
    assert status.state == "completed" and status.step >= 384 and status.spec_version == 1
    events = [json.loads(line) for line in paths.events.read_text().splitlines()]
    epic = [e for e in events if e["type"] == "epic"]
    assert epic and epic[0].get("error") is None, epic
    assert json.loads(paths.world.read_text())["agent"] == "dcem"
    assert (paths.root / "frames" / "latest.png").stat().st_size > 100


# ---------------------------------------------------------------------------------------------- recording
def test_dict_observations_record_and_load_back_identical(tmp_path, monkeypatch):
    from agents.reward_factory import build_stack
    from agents.sb3_factory import make_venv
    from studio.recording.layout import RecordingPaths, dataset_id, world_spec
    from studio.recording.vec_recorder import VecRecorder
    from studio.recording.writer import RecordingWriter

    stack = build_stack(parse_reward_spec({"terms": BONUS}).term_params())
    venv, _ = make_venv(WORLD, {"shaping": 0.0}, 2, 0, stack, agent="dcem")
    paths = RecordingPaths(tmp_path, dataset_id(WORLD, "train"))
    writer = RecordingWriter(paths, world_spec(WORLD, {"shaping": 0.0}), venv.observation_space, venv.action_space,
                             metadata={"run_id": "test", "reward_specs": [{"version": 0}]}, description="test")
    rec = VecRecorder(venv, writer, video_every=0)
    kept = []
    write = rec.writer.write
    rec.writer.write = lambda episode: kept.append(episode) or write(episode)
    rng = np.random.default_rng(0)
    rec.seed(0)
    rec.reset()
    for _ in range(200):
        rec.step(rng.integers(0, 6, rec.num_envs))
    rec.close()
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    dataset = minari.load_dataset(paths.dataset_id)
    assert dataset.total_episodes == len(kept) >= 3
    assert set(kept[0].observations) >= {"fovea", "text", "mem_vis", "mem_text", "mem_mask"}
    for original, loaded in zip(kept, dataset.iterate_episodes()):
        assert set(loaded.observations) == set(original.observations)
        for key, values in original.observations.items():
            np.testing.assert_array_equal(loaded.observations[key], values, err_msg=key)
        np.testing.assert_array_equal(loaded.actions, original.actions)
        np.testing.assert_array_equal(loaded.rewards, original.rewards)
        np.testing.assert_array_equal(loaded.terminations, original.terminations)
        np.testing.assert_array_equal(loaded.truncations, original.truncations)
        for key, values in original.infos.items():
            np.testing.assert_array_equal(loaded.infos[key], values, err_msg=key)
        np.testing.assert_allclose(original.infos["reward_success"][1:] + original.infos["reward_seek_names"][1:],
                                   original.rewards, atol=1e-9)


# ---------------------------------------------------------------------------------------------- Studio page
def test_studio_page_offers_the_naming_room_with_its_agents(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from studio.presets import run_config

    monkeypatch.setenv("STUDIO_RUNS_DIR", str(tmp_path))
    at = AppTest.from_string("from studio.ui import studio_page\nstudio_page.render()", default_timeout=60).run()
    at.sidebar.selectbox(key="new_family").set_value("fastmap").run()
    assert not at.exception, at.exception
    assert [s.label for s in at.sidebar.selectbox] == ["World", "Task", "Reward", "Agent"]
    assert at.sidebar.selectbox(key="new_preset_studio/FastMapRoom-v0").options == [
        "Task + naming shaping", "Task + seek-names bonus"]
    assert at.sidebar.selectbox(key="new_agent").value == "dcem"
    assert "pick up the" in at.markdown[1].value
    config = run_config(WORLD, "seek_names", agent=at.sidebar.selectbox(key="new_agent").value)
    assert (config.agent, config.world_kwargs, config.reward.names) == ("dcem", {"shaping": 0.0},
                                                                        ["success", "seek_names"])


def test_worker_refuses_a_seek_names_edit_on_a_baseline_without_memory(tmp_path):
    from studio.runs import new_run
    from studio.worker import Worker

    cfg = parse_run_config({"world_id": WORLD, "agent": "no_memory", "n_envs": 1, "total_steps": 64,
                            "reward": {"terms": BONUS[:1]}, "algo_kwargs": {"n_steps": 64, "batch_size": 64}})
    paths = new_run(tmp_path, cfg.world_id, cfg.algo)
    worker = Worker(paths, cfg).build()
    assert type(worker.model.policy.features_extractor).__name__ == "CombinedExtractor"
    worker._accept({"cmd": "apply_spec", "id": "e1", "spec": {"terms": BONUS}})
    assert not worker._commands
    worker.tel.close()
    refused = [json.loads(line) for line in paths.events.read_text().splitlines()
               if json.loads(line)["type"] == "edit_refused"]
    assert refused and refused[0]["fields"] == ["terms[1].kind"] and "memory_new_name" in refused[0]["error"]
