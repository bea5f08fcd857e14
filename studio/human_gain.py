"""The Human gain page's core (no streamlit): compare the shipped agents beside a simulated person, train an
RLHG agent in the background with an alpha and beta that can be changed while it trains, and open the
play-along window.

A background training lives in a folder: ``settings.json`` (alpha, beta; re-read every rollout, so writing it
is a live edit), ``progress.json`` (steps, mean human gain, the settings in force) and ``agent.zip`` at the end.

::

    python -m studio.human_gain train --folder runs/human_gain/x --steps 200000 --alpha 2 --beta 0.5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from agents.humans import HELD_OUT_HUMAN, HUMAN_NAMES
from agents.rlhg import RLHG_PATH, TASK_ONLY_PATH, EvalResult, RLHGSettings, evaluate, load_agent

SHIPPED = {"task_only": TASK_ONLY_PATH, "rlhg": RLHG_PATH}
ROOT = Path(__file__).parents[1]


@dataclass(frozen=True)
class Comparison:
    """Both shipped agents beside one person on the same seeds, and a frame of each at the end of episode 1."""

    human: str
    task_only: EvalResult
    rlhg: EvalResult
    frames: dict[str, np.ndarray]

    @property
    def gain_fraction(self) -> float:
        base = self.task_only.human_goals_done
        return (self.rlhg.human_goals_done - base) / base if base > 0 else float("nan")

    @property
    def task_retained(self) -> float:
        return self.rlhg.task_return / self.task_only.task_return if self.task_only.task_return else float("nan")


def compare(human: str = HELD_OUT_HUMAN, episodes: int = 10, seed: int = 20_000, frame_size: int = 320,
            agents: dict[str, Path] | None = None) -> Comparison:
    """Evaluate the shipped task-only and RLHG agents beside ``human`` on the same ``episodes`` seeds."""
    from worlds.collab import CollabTableEnv
    from agents.humans import make_human

    agents = agents or SHIPPED
    results, frames = {}, {}
    for name, path in agents.items():
        policy = load_agent(path)
        results[name] = evaluate(policy, human, episodes=episodes, seed=seed)
        env = CollabTableEnv(human=make_human(human), render_profile="viewer", width=frame_size, height=frame_size,
                             camera="top", render_mode="rgb_array")
        obs, _ = env.reset(seed=seed)
        for _ in range(env.episode_steps):
            obs, *_ = env.step(policy.predict(obs, deterministic=True)[0])
        frames[name] = env.render()
        env.close()
    return Comparison(human, results["task_only"], results["rlhg"], frames)


# ------------------------------------------------------------------ background RLHG training
class FileSettings:
    """RLHG settings read from ``settings.json`` in a folder each rollout (a live knob anyone can write)."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / "settings.json"
        self._last = RLHGSettings()

    def __call__(self) -> RLHGSettings:
        try:
            data = json.loads(self.path.read_text())
            self._last = RLHGSettings(float(data["alpha"]), float(data["beta"])).checked()
        except (OSError, ValueError, KeyError):
            pass                        # a half-written or bad file keeps the last good settings
        return self._last


def write_settings(folder: Path, alpha: float, beta: float) -> None:
    """Change alpha and beta of a training in ``folder`` (takes effect at its next rollout)."""
    RLHGSettings(alpha, beta).checked()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "settings.json.tmp"
    tmp.write_text(json.dumps({"alpha": alpha, "beta": beta}))
    os.replace(tmp, folder / "settings.json")


def read_progress(folder: Path) -> dict:
    """The latest progress of a training in ``folder`` ({} before the first rollout)."""
    try:
        return json.loads((Path(folder) / "progress.json").read_text())
    except (OSError, ValueError):
        return {}


def start_training(folder: Path, steps: int, alpha: float, beta: float) -> subprocess.Popen:
    """Start an RLHG training from the shipped task-only agent in its own process, writing to ``folder``."""
    write_settings(folder, alpha, beta)
    log = open(Path(folder) / "train.log", "w")
    return subprocess.Popen([sys.executable, "-m", "studio.human_gain", "train", "--folder", str(folder),
                             "--steps", str(steps)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def launch_play_along(agent: str = "rlhg", record: Path | None = None) -> subprocess.Popen:
    """Open the pygame play-along window in its own process (it needs a display)."""
    cmd = [sys.executable, "-m", "studio.play_along", "--agent", agent]
    if record is not None:
        cmd += ["--record", str(record)]
    return subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)


def _train(folder: Path, steps: int) -> None:
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from agents.rlhg import fit_primitive_value, train_rlhg

    torch.set_num_threads(1)
    settings = FileSettings(folder)

    def report(state: str, model=None) -> None:
        last = model.gain_log[-1] if model is not None and model.gain_log else {}
        tmp = folder / "progress.json.tmp"
        tmp.write_text(json.dumps({"state": state, "steps": model.num_timesteps if model else 0, "total": steps,
                                   "time": time.time(), **asdict(settings()), **{f"last_{k}": v for k, v in
                                                                                 last.items()}}))
        os.replace(tmp, folder / "progress.json")

    class Progress(BaseCallback):
        def _on_rollout_end(self) -> None:
            report("training", self.model)

        def _on_step(self) -> bool:
            return True

    report("stage1")
    task_only = load_agent(TASK_ONLY_PATH)
    values, _ = fit_primitive_value(task_only, episodes_per_human=16, epochs=15)
    model = train_rlhg(task_only, steps, settings, human_values=values, callback=Progress())
    model.save(folder / "agent.zip", exclude=["human_values", "settings", "gain_log", "_delta_opt"])
    report("done", model)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m studio.human_gain")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train an RLHG agent from the shipped task-only agent")
    t.add_argument("--folder", type=Path, required=True)
    t.add_argument("--steps", type=int, default=200_000)
    t.add_argument("--alpha", type=float)
    t.add_argument("--beta", type=float)
    args = p.parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    if args.alpha is not None or args.beta is not None or not (args.folder / "settings.json").exists():
        d = RLHGSettings()
        write_settings(args.folder, d.alpha if args.alpha is None else args.alpha,
                       d.beta if args.beta is None else args.beta)
    _train(args.folder, args.steps)
    return 0


__all__ = ["Comparison", "compare", "FileSettings", "write_settings", "read_progress", "start_training",
           "launch_play_along", "SHIPPED", "HUMAN_NAMES"]

if __name__ == "__main__":
    sys.exit(main())
