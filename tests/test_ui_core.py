"""The studio UI's core (no streamlit): reward presets and the run config they build, the incremental run
watcher, reward version diffs and readable errors, and the frame relay of the live view."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from studio.frame_relay import FrameRelay, prune
from studio.presets import PRESETS, parse_algo_args, preset_reward, presets_for, run_config
from studio.runs import new_run
from studio.spec import ClipTermSpec, RewardSpec, ShapingTermSpec, SpecError, WorldTermSpec
from studio.telemetry import TelemetryWriter, read_telemetry
from studio.versions import diff_specs, history, readable_errors, spec_from_form, yaml_diff
from studio.watch import RunWatcher, latest_frame_png, wait_for_edit


# ---------------------------------------------------------------------------------------------- presets
@pytest.mark.parametrize("world_id", ["studio/Reach-v0", "studio/Push-v0", "studio/PickPlace-v0", "studio/Stack-v0",
                                      "studio/HumanoidKneel-v0"])
def test_every_preset_builds_a_valid_run_config(world_id):
    for preset in presets_for(world_id):
        config = run_config(world_id, preset.key, n_envs=2, total_steps=1000)
        assert config.world_id == world_id and config.n_envs == 2
        assert config.telemetry.frame_every_s <= 0.2, "the live view needs at least 5 frames/s"
        assert any(isinstance(t, ClipTermSpec) for t in config.reward.terms) == preset.uses_clip


def test_clip_presets_fix_the_colours_their_prompt_names():
    spec, kwargs = preset_reward("clip", "studio/Push-v0")
    assert kwargs == {"colors": ["red"], "shapes": ["cube"], "pad_colors": ["blue"]}
    (clip,) = spec.terms
    assert clip.goal_prompts == ["the red cube is on the blue pad"]
    assert clip.baseline_prompts == ["the red cube is far from the blue pad"]
    spec, kwargs = preset_reward("clip_shaping", "studio/Stack-v0")
    assert spec.terms[0].goal_prompts == ["the red cube is on the green cube"]
    assert isinstance(spec.terms[1], ShapingTermSpec)
    spec, kwargs = preset_reward("clip", "studio/HumanoidKneel-v0")
    assert kwargs == {} and spec.terms[0].goal_prompts == ["a humanoid robot kneeling"]


def test_dense_preset_is_the_worlds_own_terms_and_reach_has_no_clip_prompt():
    spec, kwargs = preset_reward("dense", "studio/Push-v0")
    assert [t.key for t in spec.terms] == ["reach", "push", "success"] and kwargs == {}
    assert "clip" not in [p.key for p in presets_for("studio/Reach-v0")]
    with pytest.raises(SpecError, match="does not apply to studio/Reach-v0"):
        preset_reward("clip", "studio/Reach-v0")
    assert set(PRESETS) == {"dense", "clip", "clip_shaping", "sparse_shaping", "seek_names"}
    assert "seek_names" not in [p.key for p in presets_for("studio/Push-v0")]     # memory-room only
    assert "seek_names" in [p.key for p in presets_for("studio/FastMapRoom-v0")]


def test_algorithm_arguments_are_checked_with_readable_errors():
    assert parse_algo_args("", "ppo") == {}
    assert parse_algo_args("learning_rate: 1e-3\nn_steps: 128", "ppo") == {"learning_rate": 1e-3, "n_steps": 128}
    with pytest.raises(SpecError, match="not a number"):
        parse_algo_args("learning_rate: fast", "ppo")
    with pytest.raises(SpecError, match="n_step is not a PPO argument"):
        parse_algo_args("n_step: 128", "ppo")
    with pytest.raises(SpecError, match="name: value"):
        parse_algo_args("just words", "ppo")


# ---------------------------------------------------------------------------------------------- watcher
def _steps(start: int, n: int, n_envs: int = 2, version: int = 0) -> dict:
    step = np.repeat(np.arange(start + n_envs, start + n_envs * (n + 1), n_envs), n_envs)
    return {"step": step, "env": np.tile(np.arange(n_envs), n), "t": np.full(n * n_envs, time.time()),
            "spec_version": np.full(n * n_envs, version, np.int32), "reward": np.ones(n * n_envs),
            "world_reward": np.full(n * n_envs, 0.5), "success": np.zeros(n * n_envs, bool),
            "term_reach": np.ones(n * n_envs)}


@pytest.fixture
def run_folder(tmp_path):
    paths = new_run(tmp_path, "studio/Reach-v0", "ppo")
    writer = TelemetryWriter(paths)
    yield paths, writer
    writer.close()


def test_watcher_reads_only_what_is_new_and_bins_it(run_folder):
    paths, writer = run_folder
    watcher = RunWatcher(paths.root, bin_steps=100, max_bins=10)
    assert watcher.refresh().steps.empty
    writer.steps(_steps(0, 50))                     # 100 env steps
    writer.episodes([{"episode": 0, "step": 100, "env": 0, "t": 0.0, "spec_version": 0, "return": 3.0,
                      "length": 50, "success": True, "world_return": 1.0, "return_reach": 3.0}])
    writer.steps(_steps(100, 50))
    view = watcher.refresh()
    assert view.steps["rows"].sum() == 200
    assert np.allclose(view.steps["reward"], 1.0) and np.allclose(view.steps["world_reward"], 0.5)
    assert view.recent_success() == 1.0 and view.recent_return() == 3.0 and view.recent_return(world=True) == 1.0
    assert view.term_names == ["reach"]
    writer.steps(_steps(200, 2000))                # many more bins than max_bins: neighbours merge
    view = watcher.refresh()
    assert view.steps["rows"].sum() == 200 + 4000
    assert len(view.steps) <= 20 and view.bin_steps > 100
    full = read_telemetry(paths).steps
    assert view.steps["rows"].sum() == len(full), "the incremental reader saw every row the full reader sees"


def test_watcher_survives_a_torn_tail_and_reads_it_once_complete(run_folder):
    paths, writer = run_folder
    writer.steps(_steps(0, 10))
    segment = next(paths.telemetry.glob("steps-*.arrows"))
    data = segment.read_bytes()
    watcher = RunWatcher(paths.root)
    writer.steps(_steps(20, 10))
    complete = segment.read_bytes()
    segment.write_bytes(complete[:len(data) + 40])  # a half-written second batch
    assert watcher.refresh().steps["rows"].sum() == 20
    segment.write_bytes(complete)
    assert watcher.refresh().steps["rows"].sum() == 40


def test_watcher_pairs_edits_with_their_epic_distance(run_folder):
    paths, writer = run_folder
    writer.event("edit", id="c1", old_version=0, new_version=1, step=64, note="doubled")
    watcher = RunWatcher(paths.root)
    assert watcher.refresh().edits[0]["epic_distance"] is None
    writer.event("epic", old_version=0, new_version=1, distance=0.25)
    writer.event("edit_refused", id="c2", error="terms[0].alpha: too big")
    view = watcher.refresh()
    assert view.edits[0]["epic_distance"] == 0.25 and view.edits[0]["note"] == "doubled"
    assert view.refused[0]["error"].startswith("terms[0].alpha")
    assert wait_for_edit(paths, "c2", timeout=1)["type"] == "edit_refused"
    assert wait_for_edit(paths, "missing", timeout=0.3) is None


def test_latest_frame_png_passes_the_file_through(run_folder):
    paths, writer = run_folder
    assert latest_frame_png(paths) == (None, 0.0)
    writer.frame(np.zeros((16, 16, 3), np.uint8), 0)
    png, mtime = latest_frame_png(paths)
    assert png.startswith(b"\x89PNG") and mtime > 0


# ---------------------------------------------------------------------------------------------- versions
V0 = RewardSpec(terms=[ClipTermSpec(goal_prompts=["a"], baseline_prompts=["b"], alpha=1.0),
                       ShapingTermSpec(weight=10.0), WorldTermSpec(key="success")])


def test_diffs_say_what_changed_in_words():
    v1 = spec_from_form([{**t.model_dump(mode="json")} for t in V0.terms], note="tweak").bump(1)
    assert diff_specs(V0, v1) == ["note: tweak"]
    terms = [t.model_dump(mode="json") for t in V0.terms]
    terms[0]["goal_prompts"] = "c\n"
    terms[1]["weight"] = 5.0
    terms[2]["enabled"] = False
    v2 = spec_from_form(terms).bump(2)
    assert diff_specs(V0, v2) == ["clip: goal prompts 'a' → 'c'", "shaping: weight 10 → 5", "success: turned off"]
    assert "-  - a" in yaml_diff(V0, v2) or "- a" in yaml_diff(V0, v2)
    v3 = spec_from_form(terms[:2] + [{"kind": "world", "key": "reach"}]).bump(3)
    assert "reach: added (world term, weight 1)" in diff_specs(v2, v3) and "success: removed" in diff_specs(v2, v3)


def test_history_joins_specs_and_edits():
    v1 = V0.model_copy(update={"terms": V0.terms[:2]}).bump(1, time.time(), 512)
    rows = history([V0, v1], [{"new_version": 1, "epic_distance": 0.3}])
    assert rows[0]["changes"] == ["initial reward"] and rows[0]["epic_distance"] is None
    assert rows[1]["step"] == 512 and rows[1]["epic_distance"] == 0.3 and rows[1]["changes"] == ["success: removed"]


def test_bad_prompts_read_as_sentences_naming_the_term():
    terms = [t.model_dump(mode="json") for t in V0.terms]
    terms[0]["goal_prompts"] = "   "
    with pytest.raises(SpecError) as exc:
        spec_from_form(terms)
    assert readable_errors(exc.value, terms) == ["clip: goal prompts: write at least one prompt"]
    terms[0]["goal_prompts"] = "one\ntwo"
    with pytest.raises(SpecError) as exc:
        spec_from_form(terms)
    (message,) = readable_errors(exc.value, terms)
    assert message.startswith("clip: ") and "equal length" in message


# ---------------------------------------------------------------------------------------------- relay
def _wait(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def test_frame_relay_publishes_each_frame_under_a_name_of_its_own_and_cleans_up(tmp_path):
    source, status, folder = tmp_path / "latest.png", tmp_path / "status.json", tmp_path / "static"
    relay = FrameRelay(source, status, folder, "run", poll_s=0.01, idle_s=1.0, keep_s=1.5)
    relay.touch()

    def watching(condition):           # a tab keeps touching the relay while it waits (or it idles out)
        return lambda: relay.touch() or condition()

    assert not relay.status_path.exists()              # nothing to publish yet
    source.write_bytes(b"frame 1")
    status.write_text(json.dumps({"step": 1}))

    def published():
        try:
            return json.loads(relay.status_path.read_text())
        except (OSError, ValueError):
            return {}

    assert _wait(watching(lambda: published().get("step") == 1 and published().get("frame"))), published()
    first = published()["frame"]
    assert first.startswith("run.") and first.endswith(".png") and (folder / first).read_bytes() == b"frame 1"
    time.sleep(0.05)
    source.write_bytes(b"frame 2")
    assert _wait(watching(lambda: published().get("frame") not in (None, first))), published()
    second = published()["frame"]
    assert (folder / second).read_bytes() == b"frame 2" and published()["step"] == 1
    assert (folder / first).read_bytes() == b"frame 1", "the replaced frame stays a while for fetches in flight"
    assert _wait(watching(lambda: not (folder / first).exists())), "then it goes"
    assert (folder / second).exists(), "the newest frame stays as long as someone watches"
    assert _wait(lambda: not relay.running, timeout=6), "idle: the relay stops"
    assert not any(folder.iterdir()), f"and removes what it published: {list(folder.iterdir())}"


def test_the_relay_removes_what_it_published_when_the_server_exits(tmp_path):
    """A stopped server's thread never reaches its idle clean-up: the files go at interpreter exit instead."""
    folder = tmp_path / "static"
    script = f"""
import json, pathlib, sys
from studio.frame_relay import FrameRelay
tmp = pathlib.Path({str(tmp_path)!r})
(tmp / "latest.png").write_bytes(b"frame")
(tmp / "status.json").write_text(json.dumps({{"step": 3}}))
relay = FrameRelay(tmp / "latest.png", tmp / "status.json", tmp / "static", "run")
assert relay.copy_changed()
print(sorted(p.name for p in (tmp / "static").iterdir()))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert "run.json" in out.stdout and ".png" in out.stdout, out.stdout      # it did publish
    assert not any(folder.iterdir()), list(folder.iterdir())


def test_the_relayed_status_keeps_its_size_so_a_read_after_a_stat_gets_what_the_stat_declared(tmp_path):
    """Starlette's FileResponse declares the Content-Length it stats, then opens the path: the relayed status
    (the one file replaced in place) must keep its size across replacements, or the response is cut or overruns
    and the server logs a traceback."""
    source, status, folder = tmp_path / "latest.png", tmp_path / "status.json", tmp_path / "static"
    relay = FrameRelay(source, status, folder, "run", pad=4096)
    short, long = {"step": 1}, {"step": 123456, "state": "running", "message": "x" * 1500}
    assert len(json.dumps(short)) != len(json.dumps(long))     # the sources' sizes differ
    status.write_text(json.dumps(short))
    assert relay.copy_changed()
    declared = relay.status_path.stat().st_size
    status.write_text(json.dumps(long))
    os.utime(status, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))      # a new mtime even on a coarse clock
    assert relay.copy_changed()
    body = relay.status_path.read_bytes()
    assert len(body) == declared == 4096
    assert json.loads(body) == {**long, "frame": None}
    assert not relay.copy_changed(), "nothing changed: nothing rewritten"
    status.write_text(json.dumps({"message": "y" * 5000}))
    os.utime(status, ns=(time.time_ns(), time.time_ns() + 3 * 10**9))
    relay.copy_changed()
    assert relay.status_path.stat().st_size == 8192, "a status longer than the pad takes the next multiple"


def test_prune_removes_only_stale_copies(tmp_path):
    old, new, keep = tmp_path / "old.png", tmp_path / "new.png", tmp_path / ".gitignore"
    for path in (old, new, keep):
        path.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    os.utime(keep, (time.time() - 7200, time.time() - 7200))
    assert prune(tmp_path) == 1
    assert not old.exists() and new.exists() and keep.exists()
