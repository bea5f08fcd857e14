"""Training sessions in real worker processes: live edits land in order at the right steps, pause and resume,
bad specs are refused while training goes on, kill -9 reads "failed" with readable files, and two sessions
run side by side without sharing anything.

Two sessions (PPO on studio/Reach-v0, world terms only, 2 envs) start together once for the module.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from studio.runs import list_runs
from studio.session import Session
from studio.spec import SpecError

TERMS = [{"kind": "world", "key": "reach"}, {"kind": "world", "key": "success"}]
SHAPING = {"kind": "shaping", "potential": "neg_tcp_object_distance", "gamma": 0.99, "weight": 2.0}
TIMEOUT = 90
ROOT = Path(__file__).resolve().parents[1]


def config(name):
    return {"world_id": "studio/Reach-v0", "n_envs": 2, "total_steps": 10**7, "name": name, "seed": 1,
            "algo_kwargs": {"n_steps": 64, "batch_size": 64, "n_epochs": 2}, "reward": {"terms": TERMS},
            "telemetry": {"flush_every_s": 0.2, "frame_every_s": 0.5, "frame_size": 64}}


def wait_until(predicate, timeout=TIMEOUT, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value is not None and value is not False:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


def wait_steps(session, beyond):
    return wait_until(lambda: session.status().step > beyond, what=f"{session.run_id} past step {beyond}")


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    a, b = Session.start(config("a"), root), Session.start(config("b"), root)
    try:
        for s in (a, b):
            s.wait(TIMEOUT, states=("running",))
        wait_steps(a, 0)
        wait_steps(b, 0)
        both_running = [s.status().state for s in (a, b)]
        yield a, b, root, both_running
    finally:
        for s in (a, b):
            if s.status().active:
                s.stop("test teardown")
        for s in (a, b):
            try:
                s.wait(TIMEOUT)
            except TimeoutError:
                os.killpg(s.status().pid, signal.SIGKILL)


def test_two_edits_reach_telemetry_in_order_at_the_right_steps(sessions):
    a = sessions[0]
    wait_steps(a, 150)
    first = a.apply_spec({"terms": [dict(t, weight=2.0) for t in TERMS], "note": "doubled"})
    e1 = a.wait_for_event("edit", id=first)
    wait_steps(a, e1["step"] + 150)
    second = a.apply_spec({"terms": [dict(t, weight=2.0) for t in TERMS] + [SHAPING]})
    e2 = a.wait_for_event("edit", id=second)
    assert (e1["old_version"], e1["new_version"], e2["old_version"], e2["new_version"]) == (0, 1, 1, 2)
    assert e1["step"] < e2["step"] and e1["latency_s"] < 5.0

    def flushed():
        steps = a.telemetry().steps
        return steps if len(steps) and steps.step.max() > e2["step"] + 50 else None
    steps = wait_until(flushed, what="telemetry after the second edit").sort_values(["step", "env"])
    expected = np.where(steps.step <= e1["step"], 0, np.where(steps.step <= e2["step"], 1, 2))
    np.testing.assert_array_equal(steps.spec_version.to_numpy(), expected)
    assert steps.term_shaping[steps.step <= e2["step"]].isna().all()
    assert steps.term_shaping[steps.step > e2["step"]].notna().all()
    np.testing.assert_allclose(steps.reward, steps[["term_reach", "term_success"]].sum(axis=1)
                               + steps.term_shaping.fillna(0.0), atol=1e-6)

    specs = a.specs()
    assert [s.version for s in specs] == [0, 1, 2]
    assert (specs[1].effective_step, specs[2].effective_step, specs[1].note) == (e1["step"], e2["step"], "doubled")
    # scaling and potential shaping keep EPIC at zero
    epic = {e["new_version"]: e for e in [a.wait_for_event("epic", new_version=v) for v in (1, 2)]}
    assert epic[1]["distance"] == pytest.approx(0.0, abs=1e-9)
    assert epic[2]["distance"] == pytest.approx(0.0, abs=1e-6)
    edits = a.telemetry().edits
    assert [e["new_version"] for e in edits] == [1, 2] and edits[0]["epic_distance"] is not None


def test_invalid_specs_are_refused_and_training_keeps_the_last_good_one(sessions):
    a = sessions[0]
    with pytest.raises(SpecError, match=r"terms\[0\]\.alpha"):
        a.apply_spec({"terms": [{"kind": "clip", "goal_prompts": ["x"], "baseline_prompts": ["y"], "alpha": 3}]})
    with pytest.raises(SpecError, match=r"terms\[0\]\.key: 'pushh' is not a term of this world"):
        a.apply_spec({"terms": [{"kind": "world", "key": "pushh"}]})
    version = a.status().spec_version
    bad = a.send("apply_spec", spec={"terms": [{"kind": "world", "key": "reach", "weight": "heavy"}]})  # no check
    refused = a.wait_for_event("edit_refused", id=bad)
    assert "terms[0].weight" in refused["error"]
    step = a.status().step
    wait_steps(a, step + 100)
    assert a.status().state == "running" and a.status().spec_version == version


def test_pause_and_resume(sessions):
    a = sessions[0]
    a.pause()
    paused = a.wait(TIMEOUT, states=("paused",))
    time.sleep(0.6)
    assert a.status().step == paused.step
    a.resume()
    wait_steps(a, paused.step)
    assert a.status().state == "running"
    kinds = [e["type"] for e in a.events("paused", "resumed")]
    assert kinds[-2:] == ["paused", "resumed"]


def test_kill_9_reads_failed_and_files_stay_readable(sessions):
    b = sessions[1]
    checkpoint = b.wait_for_event("checkpoint", id=b.save_checkpoint())
    wait_until(lambda: len(b.telemetry().steps) > 0, what="flushed telemetry")
    pid = b.status().pid
    os.kill(pid, signal.SIGKILL)
    status = wait_until(lambda: b.status() if b.status().state == "failed" else None, what="failed state")
    assert "killed by SIGKILL" in status.reason and str(pid) in status.reason
    # a new UI process, holding no process handle, sees the same from disk
    again = Session.attach(b.run_id, sessions[2])
    assert again.status().state == "failed" and "SIGKILL" in again.status().reason
    assert json.loads((b.run_dir / "status.json").read_text())["state"] == "failed"
    tel = again.telemetry()
    assert len(tel.steps) > 0 and tel.steps.step.is_monotonic_increasing
    assert "started" in [e["type"] for e in tel.events]
    from stable_baselines3 import PPO

    model = PPO.load(again.checkpoints()[-1], device="cpu")
    assert again.checkpoints()[-1].name == checkpoint["path"] and model.num_timesteps == checkpoint["step"]
    assert again.latest_frame().shape == (64, 64, 3)
    with pytest.raises(RuntimeError, match="failed"):
        again.pause()


def test_two_sessions_at_once_share_no_files(sessions):
    a, b, root, both_running = sessions
    assert both_running == ["running", "running"]
    assert a.run_dir != b.run_dir and a.run_dir.parent == b.run_dir.parent == root
    pids = {s.run_id: {e.get("pid") for e in s.events("started")} for s in (a, b)}
    assert pids[a.run_id].isdisjoint(pids[b.run_id])
    listed = {r.run_id for r in list_runs(root)}
    assert {a.run_id, b.run_id} <= listed


def test_training_outlives_the_process_that_started_it(tmp_path):
    code = ("import sys; from studio.session import Session; "
            "s = Session.start({'world_id': 'studio/Reach-v0', 'n_envs': 2, 'total_steps': 256, "
            "'algo_kwargs': {'n_steps': 64, 'n_epochs': 1}, 'reward': {'terms': [{'kind': 'world', 'key': 'reach'}]}},"
            " sys.argv[1]); print(s.run_id)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True)
    session = Session.attach(out.stdout.strip().splitlines()[-1], tmp_path)  # a new "UI" re-attaches from disk
    status = session.wait(TIMEOUT)
    assert status.state == "completed", status.reason
    assert session.telemetry().steps.step.max() >= 256


def test_stop_saves_a_final_checkpoint(sessions):
    a = sessions[0]
    a.stop()
    status = a.wait(TIMEOUT)
    assert status.state == "stopped" and status.reason == "stop requested"
    assert a.checkpoints()[-1].name == f"step-{status.step:09d}.zip"
    assert (a.run_dir / "sb3" / "progress.csv").is_file()


def test_a_clip_term_whose_model_cannot_load_is_refused_and_training_goes_on(tmp_path):
    """The run's CLIP model loads only when a CLIP term needs it: a live edit adding one with a model that cannot
    load (here a file that is no checkpoint) is refused with the loader's message; the run keeps training."""
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    s = Session.start({**config("clip"), "clip_model": f"studio-clip-small:{junk}"}, tmp_path / "runs")
    try:
        s.wait(TIMEOUT, states=("running",))
        assert s.config.clip_model == f"studio-clip-small:{junk}"
        clip = {"kind": "clip", "goal_prompts": ["a red cube on the pad"], "baseline_prompts": ["a red cube"]}
        edit = s.send("apply_spec", spec={"terms": TERMS + [clip]})
        refused = s.wait_for_event("edit_refused", id=edit)
        assert "could not load checkpoint" in refused["error"] and "junk.pt" in refused["error"]
        step = s.status().step
        wait_steps(s, step + 100)
        assert s.status().state == "running" and s.status().spec_version == 0
    finally:
        s.stop("test done")
        s.wait(TIMEOUT)


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Linux /proc): env processes are children of the fork server."""
    found, todo = set(), [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                kids = {int(k) for k in (task / "children").read_text().split()} - found
            except OSError:
                continue
            found |= kids
            todo.extend(kids)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_a_run_with_envs_in_subprocesses_takes_an_edit_and_stops_on_a_group_sigterm(tmp_path):
    """Envs in their own processes (subprocess_envs): the worker has them as children while it trains; a live
    edit lands; SIGTERM to the whole process group (what a closing terminal sends) stops the run cleanly with a
    checkpoint, since the env processes leave that signal to the trainer; no env process outlives it."""
    s = Session.start({**config("subproc"), "subprocess_envs": True}, tmp_path / "runs")
    try:
        s.wait(TIMEOUT, states=("running",))
        wait_steps(s, 200)
        pid = s.status().pid
        kids = _descendants(pid)
        assert len(kids) >= 3                                   # the fork server and the 2 env processes
        edit = s.wait_for_event("edit", id=s.apply_spec({"terms": TERMS + [SHAPING]}))
        assert (edit["old_version"], edit["new_version"]) == (0, 1)
        wait_steps(s, edit["step"] + 200)
        os.killpg(pid, signal.SIGTERM)
        status = s.wait(TIMEOUT)
    finally:
        if s.status().active:
            s.stop("test teardown")
            s.wait(TIMEOUT)
    assert status.state == "stopped" and "SIGTERM" in status.reason
    assert s.checkpoints()[-1].name == f"step-{status.step:09d}.zip"
    wait_until(lambda: not any(_alive(k) for k in kids), timeout=10, what="the env processes to end")
