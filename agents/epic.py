"""EPIC: how different two rewards are, up to potential shaping and positive scaling (Gleave et al., ICLR 2021).

Pure numpy. Two rewards that differ only by potential shaping ``gamma * phi(s') - phi(s)`` or by a positive
factor order every policy the same way; EPIC says how far apart they are once those differences are
removed, in [0, 1]: 0 for equivalent rewards, about ``1/sqrt(2) ~ 0.707`` for unrelated ones, 1 for
opposite ones.

**Method** (the sample-based estimator of ``evaluating_rewards.distances.epic_sample``):

1. *Canonicalise* each reward with sampled transitions. With ``S, S'`` drawn from a state distribution
   ``D_S`` and ``A`` from an action distribution ``D_A``, all independent::

       C(R)(s, a, s') = R(s, a, s') + gamma * E[R(s', A, S')] - E[R(s, A, S')] - gamma * E[R(S, A, S')]

   The expectations are sample means over ``M`` pairs ``(a_j, s'_j)`` (and, for the last one, over the same
   ``M`` states as ``S``). Because one sample set plays both ``S`` and ``S'``, adding ``gamma * phi(s') -
   phi(s)`` to ``R`` leaves ``C(R)`` unchanged exactly, whatever ``phi`` and however few samples (the
   ``phi`` terms cancel algebraically); a constant added to ``R`` cancels too.
2. *Compare* the canonical rewards on ``N`` coverage transitions ``(s, a, s')`` (e.g. the run's recent
   steps) with the Pearson distance ``D(X, Y) = sqrt((1 - rho(X, Y)) / 2)``, computed as
   ``||z_X - z_Y|| / (2 sqrt(N))`` on the standardised vectors ``z`` (the same number, but a positively
   scaled reward gives exactly identical ``z`` up to rounding, so the distance is ~1e-16 rather than the
   ~1e-8 that ``sqrt(1 - rho)`` would give from ``rho = 1 - 1e-16``).

A canonical reward that is constant on the coverage set (e.g. a reward that is itself pure shaping) has no
direction: two such rewards are at distance 0, and one such reward is at ``1/sqrt(2)`` from any other
(treated as uncorrelated). :func:`pearson_distance` documents this convention.

Caveats (STARC, Skalse et al. 2024): EPIC does not see the dynamics, so it cannot tell rewards apart that
differ only by redistributing reward over possible next states; and it is an estimate on the coverage
distribution: rewards that agree on the visited states but not elsewhere read as close.

**Rewards as functions of keys.** A reward here is ``reward(s, a, s_next) -> (K,)`` over arrays of *keys*
(any numpy arrays the function understands: tabular indices, observation rows, or indices into a table of
recorded transitions). :func:`canonicalize` only repeats and tiles the keys; it never looks inside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

RewardFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
UNRELATED = float(np.sqrt(0.5))


@dataclass(frozen=True)
class EpicResult:
    """An EPIC estimate: ``distance`` in [0, 1], the Pearson correlation ``rho`` of the canonical rewards
    (``nan`` when one is constant), and the coverage and sample sizes ``n`` and ``m``."""

    distance: float
    rho: float
    n: int
    m: int


def _take(keys: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.asarray(keys)[idx]


def canonicalize(reward: RewardFn, s: np.ndarray, a: np.ndarray, s_next: np.ndarray, state_samples: np.ndarray,
                 action_samples: np.ndarray, gamma: float) -> np.ndarray:
    """EPIC's canonically shaped reward ``C(R)`` on ``N`` transitions, from ``M`` sampled states and actions.

    Args:
        reward: ``reward(s, a, s_next)`` over key arrays of equal length, returning ``(K,)`` floats.
        s, a, s_next: ``N`` coverage transitions (key arrays, first axis ``N``).
        state_samples: ``M`` state keys from ``D_S``; they serve as both ``S`` and ``S'``.
        action_samples: ``M`` action keys from ``D_A`` (paired with ``state_samples`` as ``(A_j, S'_j)``).
        gamma: discount in [0, 1].

    Returns:
        ``(N,)`` float64 canonical rewards (see module docstring).
    """
    s, a, s_next = np.asarray(s), np.asarray(a), np.asarray(s_next)
    states, actions = np.asarray(state_samples), np.asarray(action_samples)
    n, m = len(s), len(states)
    if not (len(a) == len(s_next) == n) or len(actions) != m or n == 0 or m == 0:
        raise ValueError(f"canonicalize needs N coverage transitions with equal-length s, a, s_next "
                         f"({len(s)}, {len(a)}, {len(s_next)}) and M >= 1 state and action samples "
                         f"({m}, {len(actions)})")
    if not 0.0 <= float(gamma) <= 1.0:
        raise ValueError(f"gamma={gamma!r} is not a discount in [0, 1]")

    def mean_from(first: np.ndarray) -> np.ndarray:
        """``(len(first),)``: mean over j of R(first_i, A_j, S'_j)."""
        k = len(first)
        values = np.asarray(reward(_take(first, np.repeat(np.arange(k), m)), _take(actions, np.tile(np.arange(m), k)),
                                   _take(states, np.tile(np.arange(m), k))), dtype=np.float64)
        if values.shape != (k * m,):
            raise ValueError(f"reward returned shape {values.shape} for {k * m} transitions; expected ({k * m},)")
        return values.reshape(k, m).mean(axis=1)

    direct = np.asarray(reward(s, a, s_next), dtype=np.float64)
    if direct.shape != (n,):
        raise ValueError(f"reward returned shape {direct.shape} for {n} transitions; expected ({n},)")
    total = mean_from(states).mean()
    return direct + gamma * mean_from(s_next) - mean_from(s) - gamma * total


def _standardise(x: np.ndarray) -> np.ndarray | None:
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean()
    std = np.sqrt(np.mean(centred ** 2))
    scale = max(1.0, float(np.max(np.abs(x)))) if len(x) else 1.0
    if not np.isfinite(std) or std <= 1e-12 * scale:
        return None
    return centred / std


def pearson_distance(x: np.ndarray, y: np.ndarray) -> float:
    """``sqrt((1 - rho(x, y)) / 2)`` in [0, 1], computed from standardised vectors (see module docstring).

    A constant vector has no correlation: two constants give 0 (both carry no preference), one constant and
    one varying vector give ``1/sqrt(2)`` (as if uncorrelated).
    """
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape or len(x) < 2:
        raise ValueError(f"pearson_distance needs two vectors of equal length >= 2; got {x.shape} and {y.shape}")
    zx, zy = _standardise(x), _standardise(y)
    if zx is None or zy is None:
        return 0.0 if zx is None and zy is None else UNRELATED
    return float(min(1.0, np.linalg.norm(zx - zy) / (2.0 * np.sqrt(len(x)))))


def epic(reward_a: RewardFn, reward_b: RewardFn, s: np.ndarray, a: np.ndarray, s_next: np.ndarray,
         state_samples: np.ndarray, action_samples: np.ndarray, gamma: float) -> EpicResult:
    """EPIC distance between two rewards on the coverage transitions ``(s, a, s_next)`` (see module docstring)."""
    ca = canonicalize(reward_a, s, a, s_next, state_samples, action_samples, gamma)
    cb = canonicalize(reward_b, s, a, s_next, state_samples, action_samples, gamma)
    distance = pearson_distance(ca, cb)
    za, zb = _standardise(ca), _standardise(cb)
    rho = float(np.mean(za * zb)) if za is not None and zb is not None else float("nan")
    return EpicResult(distance, rho, len(ca), len(np.asarray(state_samples)))


def epic_distance(reward_a: RewardFn, reward_b: RewardFn, s: np.ndarray, a: np.ndarray, s_next: np.ndarray,
                  state_samples: np.ndarray, action_samples: np.ndarray, gamma: float) -> float:
    """Just the distance of :func:`epic`."""
    return epic(reward_a, reward_b, s, a, s_next, state_samples, action_samples, gamma).distance


__all__ = ["EpicResult", "RewardFn", "UNRELATED", "canonicalize", "epic", "epic_distance", "pearson_distance"]
