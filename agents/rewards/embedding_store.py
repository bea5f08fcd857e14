"""A ring buffer of per-step image embeddings (plus scalar columns) that can be re-scored with any CLIP term.

Keeping every step's embedding lets the studio answer "what would this run's reward have been with these
prompts or this alpha?" without re-rendering or re-embedding: :meth:`EmbeddingStore.rescore` is one
``(N, D) @ (D, 2)`` matrix product (100k steps x 128 dims takes milliseconds on a laptop CPU).

Columns are float64 scalars per step (the global step, env index, world terms, the reward version, ...),
created on first use; a step that does not give a column gets NaN there.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np


class EmbeddingStore:
    """The last ``capacity`` steps' ``(dim,)`` float32 embeddings, unit-normalised on insert, with scalar columns.

    Args:
        capacity: steps kept; older ones are overwritten (``capacity * dim * 4`` bytes: 100k x 512 = 205 MB).
        dim: embedding dimension ``D``.

    All reads return steps oldest first. Methods are thread-safe (a lock around each).
    """

    def __init__(self, capacity: int, dim: int):
        if int(capacity) < 1 or int(dim) < 1:
            raise ValueError(f"capacity={capacity!r} and dim={dim!r} must both be at least 1")
        self.capacity, self.dim = int(capacity), int(dim)
        self._emb = np.zeros((self.capacity, self.dim), dtype=np.float32)
        self._cols: dict[str, np.ndarray] = {}
        self._size = 0
        self._head = 0          # next row to write
        self.total_added = 0    # steps ever added (including overwritten ones)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size

    @property
    def columns(self) -> list[str]:
        """Names of the scalar columns."""
        return list(self._cols)

    def add(self, embeddings: np.ndarray, **columns: Any) -> None:
        """Append ``n`` steps: ``(n, D)`` embeddings and, per column, ``(n,)`` values or one scalar for all.

        Raises:
            ValueError: wrong embedding width, or a column of the wrong length.
        """
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim == 1:
            emb = emb[None]
        if emb.ndim != 2 or emb.shape[1] != self.dim:
            raise ValueError(f"embeddings have shape {emb.shape}; this store holds (n, {self.dim})")
        n = emb.shape[0]
        values = {}
        for name, value in columns.items():
            arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)) if np.ndim(value) == 0 \
                else np.asarray(value, dtype=np.float64)
            if arr.shape != (n,):
                raise ValueError(f"column {name!r} has shape {arr.shape}; expected ({n},) or one scalar")
            values[name] = arr
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        emb = emb / np.maximum(norms, 1e-12)
        if n > self.capacity:  # only the newest rows survive anyway
            emb, values, n = emb[-self.capacity:], {k: v[-self.capacity:] for k, v in values.items()}, self.capacity
        with self._lock:
            rows = (self._head + np.arange(n)) % self.capacity
            self._emb[rows] = emb
            for name in set(self._cols) | set(values):
                col = self._cols.get(name)
                if col is None:
                    col = self._cols[name] = np.full(self.capacity, np.nan)
                col[rows] = values.get(name, np.nan)
            self._head = (self._head + n) % self.capacity
            self._size = min(self._size + n, self.capacity)
            self.total_added += n

    def _chronological(self, arr: np.ndarray) -> np.ndarray:
        if self._size < self.capacity:
            return arr[: self._size].copy()
        return np.concatenate([arr[self._head:], arr[: self._head]])

    def embeddings(self) -> np.ndarray:
        """``(len, D)`` float32 copy of the stored embeddings, oldest first."""
        with self._lock:
            return self._chronological(self._emb)

    def column(self, name: str) -> np.ndarray:
        """``(len,)`` float64 copy of one column, oldest first; ``KeyError`` lists the columns."""
        with self._lock:
            if name not in self._cols:
                raise KeyError(f"no column {name!r}; the store has {self.columns}")
            return self._chronological(self._cols[name])

    def rescore(self, term: Any, **params: Any) -> np.ndarray:
        """Score every stored step with a CLIP term; returns ``(len,)`` float64, oldest first.

        Args:
            term: anything with ``score_embeddings(embeddings, normalized=True)``, e.g. a
                :class:`agents.rewards.clip_term.ClipTerm` (made with the model that produced the embeddings).
            params: optional parameter changes applied to a copy of ``term`` (``alpha=0.5``,
                ``goal_prompts=[...]``); ``term`` itself is not changed.
        """
        if params:
            term = term.with_params(**params)
        with self._lock:
            # Score the buffer in storage order (no copy of the big array), then reorder the N scores.
            scores = term.score_embeddings(self._emb[: self._size], normalized=True)
            return self._chronological(np.asarray(scores))

    def clear(self) -> None:
        """Forget every step (columns too)."""
        with self._lock:
            self._cols.clear()
            self._size = self._head = 0


__all__ = ["EmbeddingStore"]
