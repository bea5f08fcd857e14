"""The reward-term interface: a named, live-editable function from a window of steps to one float per step.

A :class:`StepBatch` holds ``N`` transitions ``(obs, action, next_obs)`` and whatever was observed about them
(frames of the next state, infos, image embeddings). A :class:`RewardTerm` declares which of those fields it
reads (``needs``) and returns ``(N,)`` floats from :meth:`RewardTerm.score`. Its parameters live in
``params`` and change only through :meth:`RewardTerm.set_params`, which validates the whole new set first and
swaps it in at once, so a failed edit leaves the term exactly as it was and a concurrent ``score`` sees either
the old or the new parameters, never a mix.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import numpy as np

BATCH_FIELDS = ("obs", "next_obs", "frames", "infos", "embeddings", "dones")


@dataclass
class StepBatch:
    """A window of ``N`` steps to score. Every field is optional; a term names the ones it reads in ``needs``.

    Attributes:
        obs: ``(N, obs_dim)`` observations before each step.
        next_obs: ``(N, obs_dim)`` observations after each step (for a finished episode: the terminal
            observation, not the one after the automatic reset).
        frames: ``(N, H, W, 3)`` uint8 renders of the state after each step (the state ``next_obs`` describes).
        infos: ``N`` step info dicts from the world (with ``reward_<term>`` entries and ``is_success``).
        embeddings: ``(N, D)`` float32 L2-normalised image embeddings of ``frames``.
        dones: ``(N,)`` bool, True where ``next_obs`` is a true terminal state (``terminated``). Time-limit
            truncations are NOT terminal: the episode was cut short, the state still has a future.
    """

    obs: np.ndarray | None = None
    next_obs: np.ndarray | None = None
    frames: np.ndarray | None = None
    infos: list[dict[str, Any]] | None = None
    embeddings: np.ndarray | None = None
    dones: np.ndarray | None = None

    def __len__(self) -> int:
        for f in BATCH_FIELDS:
            value = getattr(self, f)
            if value is not None:
                return len(value)
        return 0

    def validate(self) -> "StepBatch":
        """Check that every given field has the same length ``N``; ``ValueError`` names the mismatch."""
        lengths = {f: len(getattr(self, f)) for f in BATCH_FIELDS if getattr(self, f) is not None}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"StepBatch fields disagree on the number of steps: {lengths}; give every field one "
                             f"entry per step")
        if self.frames is not None and (self.frames.ndim != 4 or self.frames.shape[-1] != 3
                                        or self.frames.dtype != np.uint8):
            raise ValueError(f"StepBatch.frames has shape {self.frames.shape} and dtype {self.frames.dtype}; "
                             f"expected (N, H, W, 3) uint8")
        return self

    def missing(self, needs: set[str] | frozenset[str]) -> list[str]:
        """The fields in ``needs`` that are ``None`` here."""
        return sorted(f for f in needs if getattr(self, f) is None)


class RewardTerm(ABC):
    """A named reward term with live parameters, scored over a window of steps.

    Subclasses set ``needs`` (the :class:`StepBatch` fields read), implement :meth:`_check_params` (validate
    and normalise a full parameter dict; may also return derived state such as prompt embeddings) and
    :meth:`score`. Parameter names are fixed at construction: ``set_params`` rejects unknown ones.

    Attributes:
        name: unique name within a stack; becomes ``info["reward_<name>"]``.
        needs: :class:`StepBatch` fields this term reads.
    """

    needs: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str, **params: Any):
        self.name = str(name)
        # (params, derived state) in ONE attribute: set_params replaces the tuple, so a concurrent score()
        # that reads self._config once sees either the old or the new configuration, never a mix.
        self._config: tuple[dict[str, Any], Any] = ({}, None)
        self._swap(params)

    # ------------------------------------------------------------------ parameters
    @property
    def params(self) -> dict[str, Any]:
        """A copy of the current parameters (edit them with :meth:`set_params`)."""
        return dict(self._config[0])

    def set_params(self, **changes: Any) -> None:
        """Change some parameters; all are validated before any is applied.

        Raises:
            ValueError: an unknown parameter name, or a value ``_check_params`` rejects (the message names the
                field). The term keeps its previous parameters.
        """
        unknown = sorted(set(changes) - set(self._config[0]))
        if unknown:
            raise ValueError(f"term {self.name!r} has no parameter(s) {unknown}; its parameters are "
                             f"{sorted(self._config[0])}")
        self._swap({**self._config[0], **changes})

    def with_params(self, **changes: Any) -> "RewardTerm":
        """A copy of this term with some parameters changed (this term is untouched)."""
        other = copy.copy(self)
        other.set_params(**changes)
        return other

    def _swap(self, params: Mapping[str, Any]) -> None:
        checked, state = self._check_params(dict(params))
        self._config = (checked, state)

    @abstractmethod
    def _check_params(self, params: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """Validate a complete parameter dict; return ``(normalised params, derived state)``.

        Raise ``ValueError`` naming the bad field and how to fix it.
        """

    # ------------------------------------------------------------------ scoring
    @abstractmethod
    def score(self, batch: StepBatch) -> np.ndarray:
        """Score every step of ``batch``; returns ``(N,)`` float64 (unweighted; the stack applies weights)."""

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description: type, name and parameters."""
        return {"type": type(self).__name__, "name": self.name, "params": _plain(self.params)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}(name={self.name!r}, {args})"


def _plain(value: Any) -> Any:
    """Tuples to lists and numpy scalars to Python numbers, for JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def check_number(term: str, field: str, value: Any, low: float, high: float) -> float:
    """Return ``value`` as a float in ``[low, high]``; otherwise ``ValueError`` naming ``term.field``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or not low <= float(value) <= high:
        raise ValueError(f"{term}: {field}={value!r} is not a number in [{low}, {high}]")
    return float(value)


__all__ = ["BATCH_FIELDS", "RewardTerm", "StepBatch", "check_number"]
