"""Recording: what is recorded loads back identical through plain Minari; a kill during an episode leaves every
finished episode loadable; half-written datasets are detected and repaired (or refused); a full disk stops
recording, not training; the CLI records on a fresh run folder; the notebook example runs without the studio.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import minari
import numpy as np
import pytest

from agents.reward_factory import build_stack
from agents.sb3_factory import make_venv
from studio.recording import health, reader
from studio.recording.layout import RecordingPaths, dataset_id, world_spec
from studio.recording.vec_recorder import VecRecorder
from studio.recording.writer import RecordingError, RecordingWriter
from studio.spec import RecordingConfig, RewardSpec

ROOT = Path(__file__).resolve().parents[1]
TERMS = {"studio/Push-v0": [{"kind": "world", "key": "reach"}, {"kind": "world", "key": "push"}],
         "studio/Reach-v0": [{"kind": "world", "key": "reach"}, {"kind": "world", "key": "success"}]}


def recorder(root: Path, world="studio/Push-v0", n_envs=2, video_every=0, name="train", background=False,
             **world_kwargs):
    stack = build_stack(RewardSpec.model_validate({"terms": TERMS[world]}).term_params(), lambda: None)
    venv, _ = make_venv(world, world_kwargs, n_envs, 0, stack)
    paths = RecordingPaths(root, dataset_id(world, name))
    writer = RecordingWriter(paths, world_spec(world, world_kwargs), venv.observation_space, venv.action_space,
                             metadata={"run_id": "test", "reward_specs": [{"version": 0}]}, description="test",
                             background=background)
    return VecRecorder(venv, writer, video_every=video_every, video_size=64), paths


def play(rec, steps, seed=0):
    """Random actions; returns env 0's stream of (reward, done, terminal obs or obs). ``seed=None``: the envs
    are reset without a seed (no episode records one)."""
    rng = np.random.default_rng(seed or 0)
    if seed is not None:
        rec.seed(seed)
    rec.reset()
    stream = []
    for _ in range(steps):
        actions = rng.uniform(-1, 1, (rec.num_envs, *rec.action_space.shape)).astype(np.float32)
        obs, rewards, dones, infos = rec.step(actions)
        final = infos[0]["terminal_observation"] if dones[0] else obs[0]
        stream.append((float(rewards[0]), bool(dones[0]), np.array(final), actions[0].copy(),
                       float(infos[0]["reward_reach"])))
    return stream


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Two Push envs, 250 steps (episodes are 100 steps): 4 finished episodes, 2 in progress at the end."""
    root = tmp_path_factory.mktemp("minari")
    rec, paths = recorder(root, video_every=1)
    kept = []
    write = rec.writer.write
    rec.writer.write = lambda episode: kept.append(episode) or write(episode)
    stream = play(rec, 250)
    rec.close()
    return root, paths, kept, stream


def test_record_then_load_gives_identical_arrays(recorded, monkeypatch):
    root, paths, kept, _ = recorded
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    dataset = minari.load_dataset(paths.dataset_id)
    assert dataset.total_episodes == len(kept) == 4
    assert dataset.total_steps == 400
    for original, loaded in zip(kept, dataset.iterate_episodes()):
        np.testing.assert_array_equal(loaded.observations, original.observations)
        np.testing.assert_array_equal(loaded.actions, original.actions)
        np.testing.assert_array_equal(loaded.rewards, original.rewards)
        np.testing.assert_array_equal(loaded.terminations, original.terminations)
        np.testing.assert_array_equal(loaded.truncations, original.truncations)
        assert set(loaded.infos) == set(original.infos)
        for key, values in original.infos.items():
            np.testing.assert_array_equal(loaded.infos[key], values, err_msg=key)
    assert dataset.recover_environment().spec.id == "studio/Push-v0"
    assert dataset.storage.metadata["studio"]["run_id"] == "test"


def test_recorded_steps_are_what_the_learner_saw(recorded):
    """Env 0's episodes, in order, equal the step stream the VecEnv returned (the reward, the true final
    observation rather than the auto-reset one, truncation at the time limit), and terms sum to the reward."""
    _, _, kept, stream = recorded
    env0 = [ep for ep in kept if ep.env_index == 0]
    assert len(env0) == 2
    rewards = np.concatenate([ep.rewards for ep in env0])
    np.testing.assert_allclose(rewards, [s[0] for s in stream[:200]])
    np.testing.assert_allclose(np.concatenate([ep.actions for ep in env0]), [s[3] for s in stream[:200]])
    np.testing.assert_allclose(env0[0].observations[-1], stream[99][2])
    assert env0[0].truncations[-1] and not env0[0].terminations.any()
    for ep in kept:
        np.testing.assert_allclose(ep.infos["reward_reach"][1:] + ep.infos["reward_push"][1:], ep.rewards, atol=1e-9)
        assert (ep.infos["spec_version"] == 0).all()
    assert kept[0].seed == 0 and kept[1].seed == 1          # first episodes of envs 0 and 1 (seed + i)


def test_index_and_videos(recorded):
    _, paths, kept, _ = recorded
    index = reader.episode_index(paths)
    assert [row["episode"] for row in index] == [0, 1, 2, 3]
    assert [row["return"] for row in index] == pytest.approx([float(ep.rewards.sum()) for ep in kept], abs=1e-5)
    filmed = [row for row in index if row["video"]]
    assert [row["env_index"] for row in filmed] == [0, 0]       # every episode of env 0 (video_every=1)
    import imageio.v3 as iio

    frames = iio.imread(paths.videos / filmed[0]["video"], plugin="FFMPEG")
    assert frames.shape[1:] == (64, 64, 3) and len(frames) >= 99
    assert frames[0].std() > 5                                   # a scene, not a blank frame
    assert not list(paths.videos.glob(".*.mp4"))                 # no encoding left half-done
    assert health.check(paths).ok


def test_export_zip_loads_elsewhere(recorded, tmp_path, monkeypatch):
    _, paths, _, _ = recorded
    archive = reader.export_zip(paths, tmp_path / "rec.zip")
    import zipfile

    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp_path / "unzipped")
        names = z.namelist()
    assert any(n.endswith(".mp4") for n in names) and any(n.endswith("index.jsonl") for n in names)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "unzipped"))
    assert minari.load_dataset(paths.dataset_id).total_episodes == 4


def _copy(paths: RecordingPaths, tmp_path: Path) -> RecordingPaths:
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(paths.root, target)
    return RecordingPaths(target, paths.dataset_id)


def test_unreadable_metadata_is_detected_and_repaired(recorded, tmp_path):
    paths = _copy(recorded[1], tmp_path)
    paths.metadata.write_text(paths.metadata.read_text()[:40])           # killed while Minari rewrote it
    state = health.check(paths)
    assert not state.ok and state.repairable and "repair" in state.message
    with pytest.raises(RecordingError, match="repair"):
        reader.load(paths)
    fixed = health.repair(paths)
    assert fixed.ok, fixed.message
    assert reader.load(paths).total_episodes == 4


def test_cut_short_append_is_adopted_and_a_partial_one_removed(recorded, tmp_path):
    import shutil

    paths = _copy(recorded[1], tmp_path)
    meta = json.loads(paths.metadata.read_text())
    # a finished episode 4 whose metadata update never happened, and a half-written episode 5
    shutil.copytree(paths.data / "3", paths.data / "4")
    meta_ep = json.loads((paths.data / "4" / "metadata.json").read_text())
    (paths.data / "4" / "metadata.json").write_text(json.dumps({**meta_ep, "id": 4}))
    (paths.data / "5").mkdir()
    (paths.data / "5" / "part-0.arrow").write_bytes(b"ARROW1 cut")
    with open(paths.index, "a") as f:
        f.write('{"episode": 4, "ste')                                   # cut-off index line
    state = health.check(paths)
    assert not state.ok and state.repairable
    fixed = health.repair(paths)
    assert fixed.ok, fixed.message
    assert any("adopted 1" in f for f in fixed.fixes) and any("removed the half-written" in f for f in fixed.fixes)
    dataset = reader.load(paths)
    assert dataset.total_episodes == 5 and dataset.total_steps == meta["total_steps"] + 100
    assert [row["episode"] for row in reader.episode_index(paths)] == [0, 1, 2, 3, 4]


def test_unrepairable_recording_is_refused_with_what_to_do(recorded, tmp_path):
    paths = _copy(recorded[1], tmp_path)
    paths.metadata.write_text("{")
    paths.backup.write_text("")
    state = health.check(paths)
    assert not state.ok and not state.repairable
    assert "beyond safe repair" in state.message and str(paths.data) in state.message
    with pytest.raises(RecordingError, match="copy them elsewhere"):
        reader.load(paths)


def test_disk_full_stops_recording_not_training(tmp_path):
    rec, paths = recorder(tmp_path, world="studio/Reach-v0", n_envs=1, video_every=1)
    errors = []
    rec.writer.on_error = errors.append
    real = rec.writer._append
    calls = []

    def flaky(episode):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(episode)

    rec.writer._append = flaky
    stream = play(rec, 200)                                    # 4 episodes of 50 steps: training never stops
    rec.close()
    assert len(stream) == 200
    assert len(errors) == 1 and "disk is full" in errors[0] and "Training goes on" in errors[0]
    assert rec.writer.episodes == 1 and len(calls) == 2        # nothing is attempted after the failure
    assert reader.load(paths).total_episodes == 1
    assert not list(paths.videos.glob(".*.mp4"))


WRITER_SCRIPT = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from worlds import gl
from tests.test_recording import recorder
from pathlib import Path
rec, paths = recorder(Path({out!r}), world="studio/Reach-v0", n_envs=1, video_every=1, background=True)
rec.reset()
rng = np.random.default_rng(0)
while True:
    rec.step(rng.uniform(-1, 1, (1, 4)).astype(np.float32))
"""


def test_kill_during_an_episode_leaves_finished_episodes_loadable(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT.format(root=str(ROOT), out=str(tmp_path / "root")))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    paths = RecordingPaths(tmp_path / "root", dataset_id("studio/Reach-v0", "train"))
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if paths.index.is_file() and len(paths.index.read_text().splitlines()) >= 3:
                break
            assert proc.poll() is None, "the writer process died"
            time.sleep(0.05)
        time.sleep(0.3)                                        # now somewhere inside a later episode
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    state = health.repair(paths)                               # e.g. a video cut short while encoding
    assert state.ok, state.message
    dataset = reader.load(paths)
    assert dataset.total_episodes >= 3
    for episode in dataset.iterate_episodes():
        assert len(episode.rewards) == 50 and episode.observations.shape == (51, *dataset.observation_space.shape)
    assert len(reader.episode_index(paths)) == dataset.total_episodes


def test_background_writer_writes_everything_in_order_and_reports_a_full_disk(tmp_path):
    rec, paths = recorder(tmp_path, world="studio/Reach-v0", n_envs=2, video_every=2, background=True)
    errors, calls = [], []
    rec.writer.on_error = errors.append
    real = rec.writer._append

    def flaky(episode):
        calls.append(episode.env_index)
        if len(calls) == 7:
            raise OSError(28, "No space left on device")
        return real(episode)

    rec.writer._append = flaky
    play(rec, 200)                                             # 8 episodes finish (2 envs x 4)
    rec.close()                                                # drains the queue
    assert len(calls) == 7 and len(errors) == 1 and "disk is full" in errors[0]
    dataset = reader.load(paths)
    assert dataset.total_episodes == 6
    index = reader.episode_index(paths)
    assert [row["episode"] for row in index] == list(range(6)) and [r["env_index"] for r in index] == calls[:6]
    filmed = sorted(p.name for p in paths.videos.glob("*.mp4"))
    assert filmed == [row["video"] for row in index if row["video"]] and len(filmed) == 2


def test_recording_config_validates():
    assert RecordingConfig().enabled is False
    with pytest.raises(ValueError, match="video_every"):
        RecordingConfig(video_every=-1)


def test_cli_records_on_a_fresh_run_folder(tmp_path):
    env = {**os.environ, "STUDIO_RUNS_DIR": str(tmp_path / "runs"), "PYTHONPATH": str(ROOT)}
    def run(*a):
        return subprocess.run([sys.executable, "-m", "studio", *a], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=240)
    train = run("train", "--world", "studio/Reach-v0", "--steps", "256", "--n-envs", "2", "--record",
                "--video-every", "1", "--set", "algo_kwargs.n_steps=64", "--no-progress")
    assert train.returncode == 0, train.stderr
    run_id = next((tmp_path / "runs").iterdir()).name
    rec = run("record", "--run", run_id, "--episodes", "2", "--json", "--video-size", "64")
    assert rec.returncode == 0, rec.stderr
    result = json.loads(rec.stdout.strip().splitlines()[-1])
    assert result["episodes"] == 2 and result["dataset_id"].startswith("studio/reach/eval-step-")
    listing = run("recordings", "list", "--json")
    found = {r["dataset_id"]: r for r in json.loads(listing.stdout)}
    assert found["studio/reach/train-v0"]["episodes"] >= 4 and found["studio/reach/train-v0"]["ok"]
    eval_paths = RecordingPaths.from_folder(result["folder"])
    assert [row["seed"] for row in reader.episode_index(eval_paths)] == [10_000, 10_001]
    assert len(list(eval_paths.videos.glob("*.mp4"))) == 2
    bad = run("record", "--run", run_id, "--episodes", "0")
    assert bad.returncode == 2 and "--episodes 0" in bad.stderr
    missing = run("recordings", "check", str(tmp_path / "nope" / "studio" / "x" / "y-v0"))
    assert missing.returncode != 0


def test_notebook_example_runs_without_the_studio(recorded, tmp_path):
    root, paths, _, _ = recorded
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = tmp_path / "analysis.png"
    done = subprocess.run([sys.executable, "-I", str(ROOT / "examples" / "analyse_recording.py"), str(root),
                           paths.dataset_id, "--out", str(out)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "terms sum to the reward: True" in done.stdout
    assert out.stat().st_size > 10_000


def _worker_config(**recording):
    from studio.spec import parse_run_config

    return parse_run_config({"world_id": "studio/Reach-v0", "n_envs": 2, "total_steps": 256,
                             "reward": {"terms": TERMS["studio/Reach-v0"]},
                             "algo_kwargs": {"n_steps": 64, "batch_size": 64, "n_epochs": 1},
                             "telemetry": {"frame_every_s": 0}, "recording": {"enabled": True, **recording}})


def test_unwritable_recordings_folder_stops_recording_not_training(tmp_path):
    from studio.runs import RunPaths, new_run, read_status
    from studio.worker import Worker

    cfg = _worker_config()
    paths = new_run(tmp_path, cfg.world_id, cfg.algo)
    paths.config.write_text(cfg.to_yaml())
    (paths.root / "recordings").write_text("not a folder")         # mkdir fails: like a read-only mount
    assert Worker(paths, cfg).train() == "completed"
    status = read_status(RunPaths(paths.root))
    assert status.state == "completed" and status.step >= 256
    assert "recording is off" in status.recording["error"] and "STUDIO_RUNS_DIR" in status.recording["error"]
    events = [json.loads(line) for line in paths.events.read_text().splitlines()]
    assert any(e["type"] == "recording_failed" for e in events)


def test_worker_records_edits_as_spec_versions(tmp_path):
    from studio.runs import new_run, read_status
    from studio.spec import parse_reward_spec
    from studio.worker import Worker

    cfg = _worker_config(video_every=0).with_overrides({"total_steps": 512})
    paths = new_run(tmp_path, cfg.world_id, cfg.algo)
    paths.config.write_text(cfg.to_yaml())
    worker = Worker(paths, cfg).build()
    edited = parse_reward_spec({"terms": [{"kind": "world", "key": "reach", "weight": 3.0},
                                          {"kind": "world", "key": "success"}]})
    worker.model.learn(256, callback=worker.callbacks())
    assert worker.apply_spec(edited)
    assert worker.train() == "completed"
    rec = read_status(paths).recording
    rec_paths = RecordingPaths(paths.root / "recordings", rec["dataset_id"])
    dataset = reader.load(rec_paths)
    versions = np.concatenate([ep.infos["spec_version"][1:] for ep in dataset.iterate_episodes()])
    assert set(versions) == {0, 1} and rec["episodes"] == dataset.total_episodes >= 8
    history = dataset.storage.metadata["studio"]["reward_specs"]
    assert [h["version"] for h in history] == [0, 1] and history[1]["terms"][0]["weight"] == 3.0
    for ep in dataset.iterate_episodes():                      # weight 3 on reach after the edit
        late = ep.infos["spec_version"][1:] == 1
        np.testing.assert_allclose(ep.infos["reward_reach"][1:][late] + ep.infos["reward_success"][1:][late],
                                   ep.rewards[late], atol=1e-9)


def test_play_along_records_a_persons_episodes_as_minari(tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    from studio.play_along import PlayAlong

    class Still:
        def predict(self, obs, deterministic=True):
            return np.zeros(3, np.float32), None

    game = PlayAlong(policy=Still(), agent="still", size=(160, 120), fps=0, seed=3, minari_root=tmp_path)
    steps = game.env.episode_steps
    game.run(episodes=2, max_frames=steps + 10)          # one finished episode, one cut short
    paths = game.writer.paths
    assert paths.dataset_id == "studio/collabtable/play-along-v0" and game.writer.episodes == 1
    dataset = reader.load(paths)
    episode = next(dataset.iterate_episodes())
    assert len(episode.rewards) == steps and episode.observations.shape[0] == steps + 1
    assert {"human_action_0", "human_progress_2", "is_success"} <= set(episode.infos)
    assert dataset.storage.metadata["studio"]["kind"] == "play-along"
    assert reader.episode_index(paths)[0]["seed"] == 3 and paths.video(0).stat().st_size > 1000


def test_memory_agent_run_records_the_world_not_the_agents_memory(tmp_path):
    from studio.runs import new_run, read_status
    from studio.spec import parse_run_config
    from studio.worker import Worker

    cfg = parse_run_config({"world_id": "studio/FastMapRoom-v0", "agent": "dcem", "n_envs": 2, "total_steps": 256,
                            "reward": {"terms": [{"kind": "world", "key": "success"}]},
                            "algo_kwargs": {"n_steps": 64, "batch_size": 64, "n_epochs": 1},
                            "telemetry": {"frame_every_s": 0}, "recording": {"enabled": True, "video_every": 0}})
    paths = new_run(tmp_path, cfg.world_id, cfg.algo)
    paths.config.write_text(cfg.to_yaml())
    assert Worker(paths, cfg).train() == "completed"
    rec = read_status(paths).recording
    dataset = reader.load(RecordingPaths(paths.root / "recordings", rec["dataset_id"]))
    assert dataset.total_episodes >= 1
    keys = set(dataset.observation_space.spaces)
    assert {"fovea", "text", "objects"} <= keys and not any(k.startswith("mem_") for k in keys)
    episode = next(dataset.iterate_episodes())
    assert episode.observations["fovea"].shape == (len(episode.rewards) + 1, 9)
    size = reader.folder_size(RecordingPaths(paths.root / "recordings", rec["dataset_id"]).data)
    assert size / dataset.total_steps < 3000, "bytes per step: the memory (10 KB a step) must not be recorded"
