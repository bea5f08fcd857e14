"""The CLIP reward term: VLM-RM's goal-baseline projection, or a sparse success classifier, from image embeddings.

``ClipTerm(goal_prompts=["a red cube on the green pad"], baseline_prompts=["a red cube on a table"],
embedder=embedder, alpha=0.5)`` scores steps from ``batch.embeddings`` (the stack fills them in from the
frames with the same embedder). Prompts, ``alpha``, ``mode`` and ``threshold`` are live parameters: an edit
re-embeds only prompts the embedder has not seen (its per-string cache) and swaps the new geometry in at once.
The maths is in :mod:`agents.vlm.clip_reward`.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np

from agents.rewards.base import RewardTerm, StepBatch
from agents.vlm.clip_reward import (GoalBaseline, check_alpha, check_mode, check_prompts, check_threshold,
                                    goal_baseline, projection_reward, success_probability)


class TextImageEmbedder(Protocol):
    """What a CLIP term needs from an embedder (:class:`agents.vlm.embedder.ClipEmbedder` is one)."""

    logit_scale: float

    def embed_texts(self, prompts: Sequence[str]) -> np.ndarray: ...

    def embed_images(self, frames: np.ndarray) -> np.ndarray: ...


class ClipTerm(RewardTerm):
    """A CLIP reward on the frame after each step.

    Args:
        goal_prompts: one or more descriptions of the goal state (a bare string is one prompt).
        baseline_prompts: as many descriptions of the neutral scene (VLM-RM's baseline ``b``).
        embedder: the model that embeds both prompts and frames; the stack embeds frames with it too.
        alpha: VLM-RM regularisation in [0, 1] (0: plain cosine similarity to the goal; 1: only the
            goal-baseline direction counts).
        mode: ``"projection"``, the dense VLM-RM reward ``1 - 0.5 ||(s - g) P||^2`` (at most 1), or
            ``"success"``, ``1[p(goal caption) > threshold]`` in {0, 1} (RoboFuME-style classifier).
        threshold: success-mode probability threshold, strictly between 0 and 1.
        name: the term's name in the stack.
    """

    needs = frozenset({"embeddings"})

    def __init__(self, goal_prompts: str | Sequence[str], baseline_prompts: str | Sequence[str],
                 embedder: TextImageEmbedder, alpha: float = 0.0, mode: str = "projection",
                 threshold: float = 0.5, name: str = "clip"):
        self.embedder = embedder
        super().__init__(name, goal_prompts=goal_prompts, baseline_prompts=baseline_prompts, alpha=alpha,
                         mode=mode, threshold=threshold)

    def _check_params(self, params: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        try:
            goal, baseline = check_prompts(params["goal_prompts"], params["baseline_prompts"])
            checked = {"goal_prompts": list(goal), "baseline_prompts": list(baseline),
                       "alpha": check_alpha(params["alpha"]), "mode": check_mode(params["mode"]),
                       "threshold": check_threshold(params["threshold"])}
            # Validate everything cheap before touching the model; the embedder caches each prompt string.
            geometry = goal_baseline(self.embedder.embed_texts(goal), self.embedder.embed_texts(baseline))
        except ValueError as exc:
            raise ValueError(f"{self.name}: {exc}") from None
        return checked, (geometry, float(self.embedder.logit_scale))

    @property
    def geometry(self) -> GoalBaseline:
        """The current prompt geometry (mean goal ``g``, direction ``d_hat``, ...)."""
        return self._config[1][0]

    def score(self, batch: StepBatch) -> np.ndarray:
        """``(N,)`` rewards from ``batch.embeddings`` (``(N, D)``)."""
        return self.score_embeddings(batch.embeddings)

    def score_embeddings(self, embeddings: np.ndarray, normalized: bool = False) -> np.ndarray:
        """``(N,)`` float64 rewards for ``(N, D)`` image embeddings, with one matrix product.

        ``normalized=True`` skips re-normalising rows that already have unit norm (stored embeddings).
        """
        params, (geometry, logit_scale) = self._config
        if params["mode"] == "projection":
            return projection_reward(embeddings, geometry, params["alpha"], normalized=normalized)
        p = success_probability(embeddings, geometry, logit_scale, normalized=normalized)
        return (p > params["threshold"]).astype(np.float64)

    def success_probability(self, embeddings: np.ndarray, normalized: bool = False) -> np.ndarray:
        """``(N,)`` ``p(goal caption | image)`` against the baseline caption, whatever the mode."""
        _, (geometry, logit_scale) = self._config
        return success_probability(embeddings, geometry, logit_scale, normalized=normalized)


__all__ = ["ClipTerm", "TextImageEmbedder"]
