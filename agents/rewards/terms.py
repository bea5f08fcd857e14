"""Reward terms from the world itself: its own task terms, and potential-based shaping on observations.

* :class:`WorldTerm` passes through one of the world's task terms, ``info["reward_<key>"]`` (already
  weighted by the world; the stack's weight multiplies on top).
* :class:`PotentialShaping` adds ``F = gamma * phi(s') - phi(s)`` (Ng, Harada and Russell, 1999), which
  leaves the optimal policy unchanged. The potential of a terminal state is 0, so at a true termination
  ``F = -phi(s)``; at a time-limit truncation ``s'`` is not terminal and keeps its potential. With
  ``gamma = 1`` the terms of an episode telescope to ``phi(s_T) - phi(s_0)``.

Named potentials for the manipulation world's observation layout (see :mod:`worlds.manipulation`: object 0
at ``obs[8:11]``, object 0 minus TCP at ``obs[11:14]``, goal at the last 3 entries):

=============================  ======================================================================
name                           phi(obs)
=============================  ======================================================================
neg_object_goal_distance       ``-||object0 - goal||`` (m)
neg_object_goal_distance_xy    ``-||(object0 - goal)_xy||`` (m), for pushing
neg_tcp_object_distance        ``-||object0 - tcp||`` (m)
=============================  ======================================================================
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from agents.rewards.base import RewardTerm, StepBatch, check_number

Potential = Callable[[np.ndarray], np.ndarray]
MANIPULATION_MIN_OBS = 20  # 11 + 9 * 1 object


def _layout(obs: np.ndarray, name: str) -> np.ndarray:
    obs = np.asarray(obs, dtype=np.float64)
    if obs.ndim != 2 or obs.shape[1] < MANIPULATION_MIN_OBS or (obs.shape[1] - 11) % 9:
        raise ValueError(f"potential {name!r} expects the manipulation world's observations (N, 11 + 9 * "
                         f"n_objects); got shape {obs.shape}. Use another potential or pass a callable")
    return obs


def neg_object_goal_distance(obs: np.ndarray) -> np.ndarray:
    """``-||object0 - goal||`` per row, in metres."""
    obs = _layout(obs, "neg_object_goal_distance")
    return -np.linalg.norm(obs[:, 8:11] - obs[:, -3:], axis=1)


def neg_object_goal_distance_xy(obs: np.ndarray) -> np.ndarray:
    """``-||(object0 - goal)_xy||`` per row, in metres (ignores height, for pushing)."""
    obs = _layout(obs, "neg_object_goal_distance_xy")
    return -np.linalg.norm(obs[:, 8:10] - obs[:, -3:-1], axis=1)


def neg_tcp_object_distance(obs: np.ndarray) -> np.ndarray:
    """``-||object0 - tcp||`` per row, in metres."""
    obs = _layout(obs, "neg_tcp_object_distance")
    return -np.linalg.norm(obs[:, 11:14], axis=1)


POTENTIALS: dict[str, Potential] = {
    "neg_object_goal_distance": neg_object_goal_distance,
    "neg_object_goal_distance_xy": neg_object_goal_distance_xy,
    "neg_tcp_object_distance": neg_tcp_object_distance,
}


class WorldTerm(RewardTerm):
    """One of the world's own task terms, read from ``info["reward_<key>"]``.

    Args:
        key: the world's term name (``"reach"``, ``"push"``, ``"success"``, ...).
        name: the term's name in the stack (default: ``key``).

    ``score`` returns ``(N,)`` float64; a missing key raises ``KeyError`` listing the keys the info has.
    """

    needs = frozenset({"infos"})

    def __init__(self, key: str, name: str | None = None):
        super().__init__(name or key, key=key)

    def _check_params(self, params: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        key = params["key"]
        if not isinstance(key, str) or not key:
            raise ValueError(f"{self.name}: key={key!r} must be a world term name such as 'push'")
        return params, f"reward_{key}"

    def score(self, batch: StepBatch) -> np.ndarray:
        params, info_key = self._config
        out = np.empty(len(batch.infos), dtype=np.float64)
        for i, info in enumerate(batch.infos):
            try:
                out[i] = info[info_key]
            except KeyError:
                keys = sorted(k[len("reward_"):] for k in info if k.startswith("reward_") and k != "reward_terms")
                raise KeyError(f"term {self.name!r}: the world's info has no {info_key!r}; its terms are {keys}. "
                               f"Use WorldTerm(key) with one of those") from None
        return out


class PotentialShaping(RewardTerm):
    """Potential-based shaping ``gamma * phi(next_obs) * (1 - done) - phi(obs)`` (see module docstring).

    Args:
        potential: a name from :data:`POTENTIALS` or a callable ``phi(obs (N, d)) -> (N,)``.
        gamma: discount in [0, 1]; use the learner's gamma to keep optimal policies unchanged, 1 to telescope.
        name: the term's name in the stack.

    Live parameters: ``potential`` (a name; a callable shows as its ``__name__``) and ``gamma``.
    Reads ``obs`` and ``next_obs``; ``dones`` when given (``None`` means no step ended in a terminal state).
    """

    needs = frozenset({"obs", "next_obs"})

    def __init__(self, potential: str | Potential = "neg_object_goal_distance", gamma: float = 0.99,
                 name: str = "shaping"):
        super().__init__(name, potential=potential, gamma=gamma)

    def _check_params(self, params: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        potential = params["potential"]
        current_label, current_state = self._config[0].get("potential"), self._config[1]
        if callable(potential):
            fn, label = potential, getattr(potential, "__name__", type(potential).__name__)
        elif potential in POTENTIALS:
            fn, label = POTENTIALS[potential], potential
        elif current_state is not None and potential == current_label:
            fn, label = current_state[0], potential  # a callable given earlier, kept while other fields change
        else:
            raise ValueError(f"{self.name}: potential={potential!r} is unknown; choose one of {sorted(POTENTIALS)} "
                             f"or pass a callable phi(obs) -> (N,)")
        gamma = check_number(self.name, "gamma", params["gamma"], 0.0, 1.0)
        return {"potential": label, "gamma": gamma}, (fn, gamma)

    def potential(self, obs: np.ndarray) -> np.ndarray:
        """``phi(obs)`` as ``(N,)`` float64 under the current potential."""
        return _phi(self._config[1][0], obs)

    def score(self, batch: StepBatch) -> np.ndarray:
        fn, gamma = self._config[1]
        phi_s, phi_next = _phi(fn, batch.obs), _phi(fn, batch.next_obs)
        if batch.dones is not None:
            phi_next = np.where(np.asarray(batch.dones, dtype=bool), 0.0, phi_next)  # phi(terminal) = 0
        return gamma * phi_next - phi_s


def _phi(fn: Potential, obs: np.ndarray) -> np.ndarray:
    obs = np.asarray(obs, dtype=np.float64)
    return np.asarray(fn(obs if obs.ndim == 2 else obs[None]), dtype=np.float64).reshape(-1)


__all__ = ["POTENTIALS", "PotentialShaping", "WorldTerm", "neg_object_goal_distance",
           "neg_object_goal_distance_xy", "neg_tcp_object_distance"]
