"""Observation and reward normalisation for PPO runs (SB3's ``VecNormalize``), saved beside a checkpoint as JSON.

PPO on the table-top worlds learns far better when it sees its observations and rewards normalised
(``bench.clip_push --algo ppo`` does it; PPO from demonstrations reached 98% and 100% on push there). SB3's
``VecNormalize`` keeps running statistics: the observations' mean and variance, and the variance of the
discounted return the rewards are divided by. A policy trained so acts only on observations normalised with
the statistics it ended with, so whoever plays a checkpoint needs them. SB3 saves them with ``pickle``
(``VecNormalize.save``), and unpickling a file can run code; the studio writes them as plain numbers into the
checkpoint's ``.json`` sidecar instead (key :data:`SIDECAR_KEY`), and reads nothing but numbers back.

* :func:`normalize_venv` wraps a studio VecEnv (set its ``gamma`` to the learner's, the returns it scales by),
  over a :class:`KeepRawTerminal` layer: ``VecNormalize`` normalises and clips an episode's terminal observation
  in place, and the layer gives it back as it was for the live-edit log.
* :func:`statistics` is a ``VecNormalize``'s state as JSON-able numbers.
* :class:`ObsNormalizer` maps raw observations exactly as the training env did at save time (frozen);
  :func:`checkpoint_normalizer` reads one from a checkpoint's sidecar, ``None`` for a run that did not normalise;
  :func:`observation_map` is what every player of a studio checkpoint puts observations through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

SIDECAR_KEY = "normalize"


class KeepRawTerminal(VecEnvWrapper):
    """Passes every step through and keeps a copy of each finished episode's terminal observation
    (:attr:`terminal`, env index -> observation, for the last step), before a ``VecNormalize`` above it
    normalises and clips the one in the info in place. Clipping at 10 spreads loses what an entry that hardly
    varies (a resting cube's height) really was, so undoing the normalisation cannot give it back."""

    def __init__(self, venv: VecEnv):
        super().__init__(venv)
        self.terminal: dict[int, Any] = {}

    def reset(self):
        self.terminal = {}
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        self.terminal = {int(i): np.array(infos[i]["terminal_observation"], copy=True)
                         for i in np.flatnonzero(dones) if "terminal_observation" in infos[i]}
        return obs, rewards, dones, infos

    def next_observations(self, raw_new: np.ndarray) -> np.ndarray:
        """The raw observation after the last step per env: ``raw_new`` (a ``VecNormalize``'s
        ``get_original_obs()``, a reset one where an episode ended) with each kept terminal observation in place."""
        out = np.array(raw_new, dtype=np.float32, copy=True)
        for i, term in self.terminal.items():
            out[i] = term
        return out


def normalize_venv(venv: VecEnv, gamma: float = 0.99) -> VecNormalize:
    """``venv`` with observations and rewards normalised for the learner (SB3's defaults: clipped at 10), over
    a :class:`KeepRawTerminal` layer. ``gamma`` must be the learner's (the worker sets it from the model)."""
    return VecNormalize(KeepRawTerminal(venv), norm_obs=True, norm_reward=True, gamma=float(gamma))


def statistics(venv: VecNormalize) -> dict[str, Any]:
    """What :class:`ObsNormalizer` and a reader of the run need: the observation statistics and the return
    spread the rewards were divided by, as plain numbers."""
    return {"norm_obs": bool(venv.norm_obs), "norm_reward": bool(venv.norm_reward),
            "obs_mean": np.asarray(venv.obs_rms.mean, np.float64).ravel().tolist(),
            "obs_var": np.asarray(venv.obs_rms.var, np.float64).ravel().tolist(),
            "obs_count": float(venv.obs_rms.count), "clip_obs": float(venv.clip_obs),
            "return_var": float(np.asarray(venv.ret_rms.var)), "clip_reward": float(venv.clip_reward),
            "gamma": float(venv.gamma), "epsilon": float(venv.epsilon)}


@dataclass(frozen=True)
class ObsNormalizer:
    """``clip((obs - mean) / sqrt(var + epsilon), -clip_obs, clip_obs)``: ``VecNormalize.normalize_obs`` with
    its statistics frozen."""

    mean: np.ndarray
    var: np.ndarray
    epsilon: float
    clip_obs: float

    @classmethod
    def from_statistics(cls, stats: dict[str, Any]) -> "ObsNormalizer":
        """From :func:`statistics`' output.

        Raises:
            ValueError: missing or mismatched numbers (a sidecar edited by hand, or from another version).
        """
        try:
            mean = np.asarray(stats["obs_mean"], np.float64)
            var = np.asarray(stats["obs_var"], np.float64)
            epsilon, clip_obs = float(stats["epsilon"]), float(stats["clip_obs"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"normalisation statistics are incomplete ({type(exc).__name__}: {exc}); the "
                             f"checkpoint's .json needs obs_mean, obs_var, epsilon and clip_obs") from None
        if mean.shape != var.shape or mean.ndim != 1 or not np.isfinite(mean).all() or not (var >= 0).all():
            raise ValueError(f"normalisation statistics do not fit: obs_mean {mean.shape}, obs_var {var.shape} "
                             f"(one finite mean and one non-negative variance per observation entry)")
        return cls(mean, var, epsilon, clip_obs)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs)
        if obs.shape[-1] != self.mean.shape[0]:
            raise ValueError(f"observation of {obs.shape[-1]} entries, but the statistics have "
                             f"{self.mean.shape[0]}: the checkpoint belongs to another world or world settings")
        out = np.clip((obs - self.mean) / np.sqrt(self.var + self.epsilon), -self.clip_obs, self.clip_obs)
        return out.astype(np.float32)


def checkpoint_normalizer(checkpoint: str | Path) -> ObsNormalizer | None:
    """The observation map a checkpoint was trained through (from ``<checkpoint>.json``), or ``None`` when the
    run did not normalise observations (or the sidecar is missing: every run before the option existed).

    Raises:
        ValueError: the sidecar names normalisation but its numbers are unusable (the message names the file).
    """
    sidecar = Path(checkpoint).with_suffix(".json")
    if not sidecar.is_file():
        return None
    try:
        stats = json.loads(sidecar.read_text()).get(SIDECAR_KEY)
    except (OSError, ValueError, AttributeError) as exc:
        raise ValueError(f"{sidecar} cannot be read ({type(exc).__name__}: {exc}); it should hold the checkpoint's "
                         f"step and, for a normalised run, its '{SIDECAR_KEY}' statistics") from None
    if not stats or not stats.get("norm_obs"):
        return None
    try:
        return ObsNormalizer.from_statistics(stats)
    except ValueError as exc:
        raise ValueError(f"{sidecar}: {exc}") from None


def observation_map(checkpoint: str | Path, normalized: bool) -> Callable[[np.ndarray], np.ndarray]:
    """What observations go through before ``model.predict`` for ``checkpoint``: unchanged, or, for a run that
    normalised them (``normalized``: its config's ``normalize``), its statistics at save time.

    Raises:
        ValueError: a normalised run's checkpoint without usable statistics beside it (the message says where).
    """
    found = checkpoint_normalizer(checkpoint)
    if found is None and normalized:
        raise ValueError(f"{Path(checkpoint).name} was trained on normalised observations, but "
                         f"{Path(checkpoint).with_suffix('.json')} holds no statistics ('{SIDECAR_KEY}'); its policy "
                         f"cannot act without them. Play a checkpoint saved by the studio, with its .json beside it")
    return found if found is not None else _unchanged


def _unchanged(obs):
    return obs


__all__ = ["KeepRawTerminal", "ObsNormalizer", "SIDECAR_KEY", "checkpoint_normalizer", "normalize_venv",
           "observation_map", "statistics"]
