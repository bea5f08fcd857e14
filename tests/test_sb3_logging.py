"""SB3 models the studio builds leave the temporary folder alone (no empty ``SB3-<date>`` folder per ``learn``)."""

from __future__ import annotations

import tempfile

from worlds import gl  # noqa: F401

from stable_baselines3 import PPO

from agents.reward_factory import build_stack
from agents.sb3_factory import make_model, make_venv, quiet_logger


def _sb3_folders(root):
    return sorted(p.name for p in root.iterdir() if p.name.startswith("SB3-"))


def test_learning_without_a_log_dir_makes_no_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    venv, _ = make_venv("studio/Reach-v0", {}, n_envs=1, seed=0,
                        stack=build_stack([{"kind": "world", "key": "success"}]))
    try:
        # the control: SB3's own default does make one here, so the check below can fail
        PPO("MlpPolicy", venv, n_steps=32, batch_size=32, verbose=0, device="cpu").learn(32)
        made_by_default = _sb3_folders(tmp_path)
        assert len(made_by_default) == 1
        make_model("ppo", venv, {"n_steps": 32, "batch_size": 32}, seed=0).learn(32)
    finally:
        venv.close()
    assert _sb3_folders(tmp_path) == made_by_default


def test_a_verbose_quiet_logger_still_prints(capsys):
    logger = quiet_logger(verbose=1)
    logger.record("train/loss", 0.5)
    logger.dump(0)
    assert "loss" in capsys.readouterr().out
    silent = quiet_logger()
    silent.record("train/loss", 0.5)
    silent.dump(0)
    assert capsys.readouterr().out == ""
    assert silent.get_dir() is None
