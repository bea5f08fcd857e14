"""A weighted, live-editable stack of reward terms; the reward the agent sees is its total.

``RewardStack([(WorldTerm("push"), 1.0), (ClipTerm(...), 0.5, False)])`` holds ``(term, weight, enabled)``
entries. :meth:`RewardStack.evaluate` scores a :class:`StepBatch` and returns every term's WEIGHTED value
under fixed keys (a disabled term gives zeros and is not computed), their total, and the stack ``version``
that produced them.

Thread safety: the whole configuration is one immutable tuple of :class:`StackEntry`. :meth:`update` builds
a changed copy (a copy of the term with new parameters, validated first) under a lock and swaps it in with
one assignment; a failed update raises and leaves the stack as it was. ``evaluate`` reads the tuple once, so
each call sees one consistent version even while another thread edits. The stack owns its terms: get the
live one with ``stack[name]``; a term object held from before an edit is the old version.

Embeddings: when an enabled term needs ``embeddings`` and the batch has none, the stack embeds
``batch.frames`` once with its embedder (shared by every CLIP term) and stores them in the batch.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, replace
from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np

from agents.rewards.base import RewardTerm, StepBatch

RESERVED_NAMES = frozenset({"terms", "version", "frame", "total"})
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
EntryLike = RewardTerm | tuple[RewardTerm, float] | tuple[RewardTerm, float, bool]


@dataclass(frozen=True)
class StackEntry:
    """One term in the stack with its weight and on/off switch."""

    term: RewardTerm
    weight: float = 1.0
    enabled: bool = True

    @property
    def name(self) -> str:
        return self.term.name


class StackState(NamedTuple):
    """One configuration of the stack: its entries and the version number they carry."""

    entries: tuple[StackEntry, ...]
    version: int


@dataclass(frozen=True)
class StackScores:
    """What one :meth:`RewardStack.evaluate` call produced.

    Attributes:
        weighted: ``{name: (N,) float64}`` weight * value for every term (zeros when disabled), stack order.
        raw: ``{name: (N,) float64}`` unweighted values (zeros when disabled), for charts.
        total: ``(N,)`` float64 sum of ``weighted``: the reward the agent sees.
        version: the stack version that produced them.
    """

    weighted: dict[str, np.ndarray]
    raw: dict[str, np.ndarray]
    total: np.ndarray
    version: int


def _check_weight(name: str, weight: Any) -> float:
    if isinstance(weight, bool) or not isinstance(weight, (int, float, np.integer, np.floating)) \
            or not np.isfinite(weight):
        raise ValueError(f"term {name!r}: weight={weight!r} is not a finite number; use e.g. 1.0 (0 silences it)")
    return float(weight)


def _check_enabled(name: str, enabled: Any) -> bool:
    if not isinstance(enabled, (bool, np.bool_)):
        raise ValueError(f"term {name!r}: enabled={enabled!r} must be True or False")
    return bool(enabled)


class RewardStack:
    """Weighted reward terms composed into one reward (see module docstring).

    Args:
        terms: terms, ``(term, weight)`` or ``(term, weight, enabled)`` tuples.
        embedder: embeds frames for terms that need ``embeddings``; default: the embedder of the first such
            term. All such terms must share it (text and image embeddings must come from one model).
    """

    def __init__(self, terms: Iterable[EntryLike] = (), embedder: Any = None):
        self._lock = threading.Lock()
        # (entries, version) in one attribute, replaced whole: a reader gets a matching pair without locking.
        self._state = StackState((), 0)
        self._embedder = embedder
        for item in terms:
            term, *rest = item if isinstance(item, tuple) else (item,)
            self.add(term, *rest)
        self._state = StackState(self._state.entries, 0)  # construction is version 0; later changes count

    # ------------------------------------------------------------------ configuration
    @property
    def state(self) -> StackState:
        """The current configuration, an immutable snapshot to pass to :meth:`evaluate` later."""
        return self._state

    @property
    def entries(self) -> tuple[StackEntry, ...]:
        """The current entries (an immutable snapshot)."""
        return self._state.entries

    @property
    def version(self) -> int:
        """Counts configuration changes: 0 after construction, +1 for every add, remove and update."""
        return self._state.version

    @property
    def names(self) -> list[str]:
        """Term names in stack order: the fixed keys of every score."""
        return [e.name for e in self.entries]

    @property
    def embedder(self) -> Any:
        """The embedder used for frames (``None`` when no term needs embeddings and none was given)."""
        return self._embedder

    def __getitem__(self, name: str) -> RewardTerm:
        return self._entry(self.entries, name).term

    def __contains__(self, name: str) -> bool:
        return any(e.name == name for e in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def needs(self, enabled_only: bool = True, state: StackState | None = None) -> frozenset[str]:
        """Union of the batch fields the (enabled) terms of ``state`` (default: current) read."""
        entries = (state or self._state).entries
        return frozenset().union(*(e.term.needs for e in entries if e.enabled or not enabled_only))

    def needs_frames(self, enabled_only: bool = True, state: StackState | None = None) -> bool:
        """Whether scoring needs rendered frames (a term reads frames, or embeddings the stack must compute)."""
        return bool(self.needs(enabled_only, state) & {"frames", "embeddings"})

    def add(self, term: RewardTerm, weight: float = 1.0, enabled: bool = True) -> int:
        """Append a term; returns the new version. ``ValueError`` for a bad or duplicate name or weight."""
        with self._lock:
            name = term.name
            if not _NAME.match(name) or name in RESERVED_NAMES:
                raise ValueError(f"term name {name!r} must be lower_snake_case and not one of {sorted(RESERVED_NAMES)} "
                                 f"(it becomes info['reward_<name>'])")
            if name in self:
                raise ValueError(f"a term named {name!r} is already in the stack; give the new one another name")
            entry = StackEntry(term, _check_weight(name, weight), _check_enabled(name, enabled))
            embedder = self._embedder_for(term)
            self._embedder = embedder
            return self._commit(self.entries + (entry,))

    def remove(self, name: str) -> int:
        """Drop a term (its key disappears from scores); returns the new version."""
        with self._lock:
            self._entry(self.entries, name)
            return self._commit(tuple(e for e in self.entries if e.name != name))

    def update(self, name: str, *, weight: float | None = None, enabled: bool | None = None, **params: Any) -> int:
        """Change a term's weight, switch and/or parameters in one atomic step; returns the new version.

        Raises:
            KeyError: no term called ``name``.
            ValueError: a bad weight, switch or parameter (message names it); the stack is left unchanged.
        """
        with self._lock:
            entry = self._entry(self.entries, name)
            changes: dict[str, Any] = {}
            if weight is not None:
                changes["weight"] = _check_weight(name, weight)
            if enabled is not None:
                changes["enabled"] = _check_enabled(name, enabled)
            if params:
                changes["term"] = entry.term.with_params(**params)  # validated copy; the live term is untouched
            new = replace(entry, **changes)
            return self._commit(tuple(new if e.name == name else e for e in self.entries))

    def describe(self) -> list[dict[str, Any]]:
        """JSON-friendly snapshot: one ``{name, type, weight, enabled, params}`` dict per term."""
        return [{**e.term.describe(), "weight": e.weight, "enabled": e.enabled} for e in self.entries]

    def _commit(self, entries: tuple[StackEntry, ...]) -> int:
        version = self._state.version + 1
        self._state = StackState(entries, version)  # one assignment: readers see old or new, never a mix
        return version

    def _embedder_for(self, term: RewardTerm) -> Any:
        if "embeddings" not in term.needs:
            return self._embedder
        own = getattr(term, "embedder", None)
        if self._embedder is None:
            if own is None:
                raise ValueError(f"term {term.name!r} needs embeddings but neither it nor the stack has an embedder; "
                                 f"pass RewardStack(..., embedder=ClipEmbedder(...))")
            return own
        if own is not None and own is not self._embedder:
            raise ValueError(f"term {term.name!r} uses a different embedder than the stack ({own!r} vs "
                             f"{self._embedder!r}); its prompts and the frames must be embedded by one model: "
                             f"create every CLIP term with the stack's embedder")
        return self._embedder

    @staticmethod
    def _entry(entries: Sequence[StackEntry], name: str) -> StackEntry:
        for e in entries:
            if e.name == name:
                return e
        raise KeyError(f"no term named {name!r} in the stack; its terms are {[e.name for e in entries]}")

    # ------------------------------------------------------------------ scoring
    def evaluate(self, batch: StepBatch, state: StackState | None = None) -> StackScores:
        """Score ``batch`` with every term; see :class:`StackScores`.

        ``state`` (from :attr:`state`) pins the configuration, e.g. the one a wrapper decided to render
        frames for before the step; default: the current one.

        Raises:
            ValueError: the batch lacks a field an enabled term needs, or a term returns the wrong shape or
                non-finite values (the message names the term).
        """
        entries, version = state or self._state
        batch.validate()
        n = len(batch)
        enabled = [e for e in entries if e.enabled]
        needs = frozenset().union(*(e.term.needs for e in enabled))
        if "embeddings" in needs and batch.embeddings is None and batch.frames is not None:
            batch.embeddings = self._embedder.embed_images(batch.frames)
        missing = batch.missing(needs)
        if missing:
            users = [e.name for e in enabled if e.term.needs & set(missing)]
            raise ValueError(f"terms {users} need {missing} but the batch has none; pass them in the StepBatch "
                             f"(embeddings can come from frames)")
        weighted, raw = {}, {}
        for e in entries:
            value = self._score_term(e.term, batch, n) if e.enabled else np.zeros(n)
            raw[e.name] = value
            weighted[e.name] = e.weight * value
        total = np.sum(list(weighted.values()), axis=0) if weighted else np.zeros(n)
        return StackScores(weighted, raw, np.asarray(total, dtype=np.float64), version)

    def score(self, batch: StepBatch) -> dict[str, np.ndarray]:
        """``{name: (N,)}`` weighted values for every term (zeros when disabled)."""
        return self.evaluate(batch).weighted

    def total(self, batch: StepBatch) -> np.ndarray:
        """``(N,)`` sum of the weighted terms: the reward the agent sees."""
        return self.evaluate(batch).total

    @staticmethod
    def _score_term(term: RewardTerm, batch: StepBatch, n: int) -> np.ndarray:
        value = np.asarray(term.score(batch), dtype=np.float64)
        if value.shape != (n,):
            raise ValueError(f"term {term.name!r} returned shape {value.shape} for {n} steps; expected ({n},)")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"term {term.name!r} returned non-finite rewards {value[~np.isfinite(value)][:3]}; "
                             f"check its inputs and parameters")
        return value


__all__ = ["RESERVED_NAMES", "RewardStack", "StackEntry", "StackScores", "StackState"]
