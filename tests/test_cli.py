"""``python -m studio``: train a few hundred steps, list runs, evaluate, refuse a bad spec, and Ctrl-C that saves
a checkpoint and exits 0."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.runs import list_runs

ROOT = Path(__file__).resolve().parents[1]


def studio(*args, runs, timeout=120, **kwargs):
    return subprocess.run([sys.executable, "-m", "studio", *args, "--runs-dir", str(runs)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    spec = runs / "spec.yaml"
    spec.write_text("terms:\n  - {kind: world, key: reach, weight: 2.0}\n"
                    "  - {kind: shaping, potential: neg_tcp_object_distance}\n")
    done = studio("train", "--world", "studio/Reach-v0", "--reward", str(spec), "--steps", "300", "--n-envs", "2",
                  "--set", "algo_kwargs.n_steps=64", "--set", "algo_kwargs.n_epochs=2", "--no-progress", runs=runs)
    return runs, done


def test_train_runs_to_completion_with_a_checkpoint(trained):
    runs, done = trained
    assert done.returncode == 0, done.stderr + done.stdout
    assert "completed: reached total_steps" in done.stdout
    (run,) = list_runs(runs)
    assert run.status.state == "completed" and run.status.step >= 300
    assert sorted(p.name for p in (run.path / "checkpoints").glob("*.zip")) == [f"step-{run.status.step:09d}.zip"]


def test_runs_lists_it(trained):
    runs, _ = trained
    out = studio("runs", "--json", runs=runs)
    (row,) = json.loads(out.stdout)
    assert (row["world_id"], row["algo"], row["state"]) == ("studio/Reach-v0", "ppo", "completed")
    table = studio("runs", runs=runs)
    assert row["run_id"] in table.stdout


def test_eval_reports_returns_and_success(trained):
    runs, _ = trained
    run_id = list_runs(runs)[0].run_id
    out = studio("eval", "--run", run_id[-4:], "--episodes", "2", runs=runs)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["episodes"] == 2 and 0.0 <= result["success_rate"] <= 1.0 and result["mean_length"] == 50
    assert list((runs / run_id / "eval").glob("eval-*.json"))


def test_bad_spec_is_refused_naming_the_field(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("terms:\n  - {kind: clip, goal_prompts: [a], baseline_prompts: [b], alpha: 2}\n")
    out = studio("train", "--world", "studio/Reach-v0", "--reward", str(spec), "--steps", "10", runs=tmp_path)
    assert out.returncode == 2 and "terms[0].alpha" in out.stderr
    assert list_runs(tmp_path) == []


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "studio", "train", "--world", "studio/Reach-v0", "--steps",
                             "1000000", "--n-envs", "2", "--no-progress", "--runs-dir", str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            runs = list_runs(tmp_path)
            if runs and runs[0].status.state == "running" and runs[0].status.step > 0:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the run never started")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    (run,) = list_runs(tmp_path)
    assert run.status.state == "stopped" and run.status.reason == "Ctrl-C in the CLI"
    assert (run.path / "checkpoints" / f"step-{run.status.step:09d}.zip").is_file()
    assert "saving a checkpoint and stopping" in out + err


def test_a_bad_clip_model_is_refused_naming_the_flag_value(tmp_path):
    out = studio("train", "--world", "studio/Reach-v0", "--clip-model", "ViT-B-32", "--steps", "10", runs=tmp_path)
    assert out.returncode == 2 and "clip_model" in out.stderr and "'ViT-B-32'" in out.stderr
    assert list_runs(tmp_path) == []


def test_demos_without_sac_or_ppo_are_refused_naming_the_fix(tmp_path):
    out = studio("train", "--world", "studio/Push-v0", "--algo", "recurrent_ppo", "--demos", "5", "--steps", "10",
                 runs=tmp_path)
    assert out.returncode == 2 and "demos: 5 needs algo sac (kept beside its replay buffer) or ppo" in out.stderr
    assert list_runs(tmp_path) == []


def test_standardising_rewards_without_sac_is_refused_naming_the_fix(tmp_path):
    out = studio("train", "--world", "studio/Push-v0", "--standardize-reward", "--steps", "10", runs=tmp_path)
    assert out.returncode == 2 and "standardize_reward: true needs algo sac" in out.stderr
    assert "set algo: sac" in out.stderr and list_runs(tmp_path) == []


def test_a_no_flag_switches_off_what_the_config_file_switches_on(tmp_path):
    from studio.cli import _parser, build_config

    config = tmp_path / "run.yaml"
    config.write_text("world_id: studio/Push-v0\nalgo: sac\nstandardize_reward: true\nsubprocess_envs: true\n")
    as_given = build_config(_parser().parse_args(["train", "--config", str(config)]))
    assert as_given.standardize_reward is True and as_given.subprocess_envs is True
    off = build_config(_parser().parse_args(["train", "--config", str(config), "--no-standardize-reward",
                                             "--no-subprocess-envs"]))
    assert off.standardize_reward is False and off.subprocess_envs is False
    ppo = tmp_path / "ppo.yaml"
    ppo.write_text("world_id: studio/Push-v0\nalgo: ppo\nnormalize: true\n")
    assert build_config(_parser().parse_args(["train", "--config", str(ppo)])).normalize is True
    assert build_config(_parser().parse_args(["train", "--config", str(ppo), "--no-normalize"])).normalize is False
    assert build_config(_parser().parse_args(["train", "--world", "studio/Push-v0", "--normalize"])).normalize
