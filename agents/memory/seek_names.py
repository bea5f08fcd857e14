"""The "seek names" intrinsic reward from the dual-coding memory, as a term of the reward stack.

Hill et al. (2021, section 4.2) use the dual-coding memory as an intrinsic-motivation signal that stimulates
the agent to seek names for objects. Here: a step earns 1 when a name is heard for a view that the memory,
keyed by its visual column, holds no name for yet (:class:`agents.memory.DualCodingMemory` computes it into
``info["memory_new_name"]``). The stack's weight scales it and its switch turns it on and off, live, like
any other term; with the world's ``shaping=0`` it replaces the world's naming shaping.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.rewards.base import RewardTerm, StepBatch

INFO_KEY = "memory_new_name"


class SeekNamesTerm(RewardTerm):
    """1 on steps that name a view the memory had no name for (see module docstring); reads ``infos``.

    Args:
        name: the term's name in the stack.

    Live parameter: ``cap``, the most the term pays per step (default 1; 0 silences it without removing it).
    """

    needs = frozenset({"infos"})

    def __init__(self, name: str = "seek_names", cap: float = 1.0):
        super().__init__(name, cap=cap)

    def _check_params(self, params: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        cap = params["cap"]
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not 0 <= cap <= 10:
            raise ValueError(f"{self.name}: cap={cap!r} must be a number in [0, 10]")
        return {"cap": float(cap)}, None

    def score(self, batch: StepBatch) -> np.ndarray:
        cap = self._config[0]["cap"]
        out = np.zeros(len(batch.infos), dtype=np.float64)
        for i, info in enumerate(batch.infos):
            if INFO_KEY not in info:
                raise KeyError(f"term {self.name!r} reads info[{INFO_KEY!r}], which only "
                               f"agents.memory.DualCodingMemory writes; wrap the world in it")
            out[i] = min(float(info[INFO_KEY]), cap)
        return out


__all__ = ["INFO_KEY", "SeekNamesTerm"]
