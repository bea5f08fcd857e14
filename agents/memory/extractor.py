"""Features extractors for SB3 policies: the Dual-Coding Episodic Memory (DCEM) read, and the oracle's.

:class:`DCEMExtractor` reads the memory that :class:`agents.memory.DualCodingMemory` carries in the
observation and turns it into policy input. Shapes: ``B`` batch, ``M`` memory rows, ``K`` object slots,
``k`` rows read, ``A`` appearance features, ``V`` vocabulary size, ``d`` visual code size.

Codes (the two columns of every memory row, re-encoded at each read so the encoders learn through reads):

* visual code ``v = LayerNorm(MLP(appearance))`` (d); the same encoder codes the memory, the fovea and the
  objects in view;
* language code ``l = W bag(tokens)`` (V): a bag of words times a learned matrix initialised to the
  identity. Every word, held-out names included, starts orthogonal to every other word, so a name never
  heard in training still matches itself exactly (learned embeddings of unseen names would be untrained).

Reads (cosine, top-k hard threshold, softmax weights, as in Hill et al.'s DCEM), with either column as key:

1. **language key**: query ``q = W bag(instruction)``; cosine against every row's language code (rows that
   heard nothing are excluded); top-k; weights ``s = softmax(tau * cos)``; the rows, scaled by ``s`` (both
   columns), go through one self-attention layer whose outputs are summed into ``r`` (d + V), and their
   visual codes are averaged by ``s`` into ``v_read``: "what the dax looks like".
2. **visual key**: for every object in view, its visual code against the visual column of the rows that
   heard a name; top-k; softmax; the weighted language codes give ``name_i``: "what this object is called",
   and the best cosine gives ``known_i``: "this object has a name".

Pointers (the inductive bias that lets PPO learn in minutes on a CPU; research note section 4.4): a softmax
over the visible objects, turned into a relative position ``sum_i p_i * (x_i - hand)``:

* ``target_a``: objects whose visual code matches ``v_read`` (read 1);
* ``target_b``: objects whose ``name_i`` matches the instruction (read 2);
* ``explore``: the nearest objects with no name yet (``1 - known_i``), for discovery.

``goal`` is ``explore`` until an instruction is heard, then the mean of the two target pointers. The
features ``[r, q, target_a, target_b, explore, goal, fovea-matches-target, share unnamed, proprio]`` pass a
ReLU layer. The paper feeds ``r`` to an LSTM and adds reconstruction losses; here the memory itself carries
the episode's state, and the hand-built pointers stand in for what pixels and an LSTM would have to learn.

:attr:`DCEMExtractor.last` keeps the latest read (rows, weights, pointers) for the studio's memory panel.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch as th
import torch.nn.functional as F
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

NEG = -1e4


def bag_of_words(tokens: th.Tensor, vocab: int) -> th.Tensor:
    """Token ids ``(..., L)`` (float, 0 = padding) to word counts ``(..., V)`` with the padding column zero."""
    idx = tokens.long().clamp(0, vocab - 1)
    out = th.zeros(*idx.shape[:-1], vocab, device=tokens.device)
    out.scatter_add_(-1, idx, th.ones_like(idx, dtype=out.dtype))
    out[..., 0] = 0.0
    return out


def masked_softmax(logits: th.Tensor, mask: th.Tensor) -> th.Tensor:
    """Softmax over the last axis where ``mask``; rows with no valid entry give all zeros."""
    w = th.softmax(logits.masked_fill(~mask, NEG), -1)
    return w * mask.any(-1, keepdim=True)


def top_k_read(sim: th.Tensor, valid: th.Tensor, k: int, tau: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
    """Keep the ``k`` most similar valid rows: returns their indices and softmax weights (0 where invalid)."""
    top, idx = sim.masked_fill(~valid, NEG).topk(min(k, sim.shape[-1]), -1)
    found = top > NEG / 2
    return idx, masked_softmax(tau * top, found)


def cosine(a: th.Tensor, b: th.Tensor) -> th.Tensor:
    """Cosine similarity of every row of ``a (B, n, c)`` with every row of ``b (B, m, c)``: ``(B, n, m)``.

    Zero vectors give 0. A normalised batched matmul: ``F.cosine_similarity`` over broadcast shapes would
    materialise ``(B, n, m, c)``.
    """
    return F.normalize(a, dim=-1, eps=1e-6) @ F.normalize(b, dim=-1, eps=1e-6).transpose(-1, -2)


def pointer(logits: th.Tensor, mask: th.Tensor, rel: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
    """Softmax over objects and the weighted relative position it points at."""
    p = masked_softmax(logits, mask)
    return p, (p[..., None] * rel).sum(-2)


def _visual_encoder(appearance: int, d: int) -> nn.Module:
    return nn.Sequential(nn.Linear(appearance, 32), nn.ReLU(), nn.Linear(32, d), nn.LayerNorm(d))


def _language_encoder(vocab: int) -> nn.Linear:
    lang = nn.Linear(vocab, vocab, bias=False)
    with th.no_grad():
        lang.weight.copy_(th.eye(vocab))
    return lang


class DCEMExtractor(BaseFeaturesExtractor):
    """Dual-coding episodic memory read for ``PPO("MultiInputPolicy", ...)`` (see module docstring).

    Args:
        observation_space: the room's Dict space plus ``mem_vis``, ``mem_text``, ``mem_mask``.
        d: visual code size.
        k: rows kept by each top-k read.
        heads: self-attention heads over the rows read (must divide ``d + V``).
        features_dim: output size.
        max_heard: memory rows that heard something kept for reading (the earliest; see
            :meth:`rows_that_heard`).
    """

    def __init__(self, observation_space: gym.spaces.Dict, d: int = 32, k: int = 4, heads: int = 2,
                 features_dim: int = 128, max_heard: int = 48):
        super().__init__(observation_space, features_dim)
        s = observation_space.spaces
        missing = {"mem_vis", "mem_text", "mem_mask", "objects", "instruction", "fovea"} - set(s)
        if missing:
            raise ValueError(f"DCEMExtractor needs observation keys {sorted(missing)}; wrap the world in "
                             f"agents.memory.DualCodingMemory")
        self.A, self.P = s["fovea"].shape[0], s["proprio"].shape[0]
        self.V = int(s["text"].high.max()) + 1
        self.d, self.k, self.max_heard = d, k, int(max_heard)
        if (d + self.V) % heads:
            raise ValueError(f"heads={heads} must divide d + vocabulary = {d + self.V}")
        self.vis = _visual_encoder(self.A, d)
        self.lang = _language_encoder(self.V)
        self.mix = nn.MultiheadAttention(d + self.V, heads, batch_first=True)
        # log temperatures: language read, visual read, pointers, exploration; distance penalty for exploring
        self.log_tau = nn.Parameter(th.log(th.tensor([20.0, 20.0, 20.0, 50.0])))
        self.dist_scale = nn.Parameter(th.tensor(1.0))
        n_in = (d + self.V) + self.V + 8 + 2 + self.P
        self.head = nn.Sequential(nn.Linear(n_in, features_dim), nn.ReLU())
        self.last: dict[str, Any] = {}

    def rows_that_heard(self, o: dict[str, th.Tensor]) -> tuple[th.Tensor, th.Tensor, th.Tensor, th.Tensor]:
        """The first ``max_heard`` memory rows that heard something (both reads only ever use those).

        Every step is written, but a row with an empty language column can never be read: read 1 keys on
        language and read 2 returns language. Dropping them before encoding cuts the cost ~3x. Returns the
        rows' indices in memory ``(B, H)``, their two columns, and which of them really heard something.
        """
        B, M = o["mem_mask"].shape
        heard = (o["mem_mask"] > 0.5) & (o["mem_text"].abs().sum(-1) > 0)
        order = heard.float() * th.arange(M, 0, -1, device=heard.device, dtype=th.float32)  # earliest first
        rows = order.topk(min(self.max_heard, M), -1).indices
        pick = lambda x: x.gather(1, rows[..., None].expand(-1, -1, x.shape[-1]))  # noqa: E731
        return rows, pick(o["mem_vis"]), pick(o["mem_text"]), heard.gather(1, rows)

    def forward(self, o: dict[str, th.Tensor]) -> th.Tensor:
        tau = self.log_tau.exp()
        rows_seen, mem_vis, mem_text, heard = self.rows_that_heard(o)
        mem_bag = bag_of_words(mem_text, self.V)
        mv, ml = self.vis(mem_vis), self.lang(mem_bag)                           # (B, H, d), (B, H, V)
        named = heard & (mem_vis.abs().sum(-1) > 0)
        instr_bag = bag_of_words(o["instruction"], self.V)
        q = self.lang(instr_bag)                                                 # (B, V)
        asked = instr_bag.sum(-1, keepdim=True) > 0

        # read 1, language key: which rows heard the instructed name, and what did they see
        idx, w = top_k_read(cosine(q[:, None], ml)[:, 0], heard, self.k, tau[0])
        w = w * asked
        rows = th.cat([mv, ml], -1).gather(1, idx[..., None].expand(-1, -1, self.d + self.V))
        scaled = rows * w[..., None]                                             # (B, k, d + V)
        r = self.mix(scaled, scaled, scaled, need_weights=False)[0].sum(1)
        v_read = (rows[..., :self.d] * w[..., None]).sum(1)                      # (B, d)

        # read 2, visual key: for every object in view, the name memory holds for it
        rel, omask = 4.0 * o["objects"][..., :2], o["obj_mask"] > 0.5            # x4: pointers ~ unit scale
        ov = self.vis(o["objects"][..., 2:])                                     # (B, K, d)
        K = ov.shape[1]
        sim2 = cosine(ov, mv)                                                    # (B, K, M)
        idx2, w2 = top_k_read(sim2, named[:, None].expand(-1, K, -1), self.k, tau[1])
        dense = th.zeros_like(sim2).scatter(2, idx2, w2)                         # weights over all rows
        name_i = dense @ ml                                                      # (B, K, V)
        known = (sim2.masked_fill(~named[:, None], 0.0).amax(-1).clamp(min=0.0)) * named.any(-1, keepdim=True)

        pa, target_a = pointer(tau[2] * cosine(ov, v_read[:, None])[..., 0], omask, rel)
        pb, target_b = pointer(tau[2] * cosine(name_i, q[:, None])[..., 0], omask, rel)
        pe, explore = pointer(tau[3] * (1.0 - known) - self.dist_scale * rel.norm(dim=-1), omask, rel)
        fovea_on = (o["fovea"].abs().sum(-1, keepdim=True) > 0).float()
        fovea_target = F.cosine_similarity(self.vis(o["fovea"]), v_read, dim=-1)[:, None] * fovea_on
        unnamed = ((1.0 - known) * omask).sum(-1, keepdim=True) / omask.sum(-1, keepdim=True).clamp(min=1)

        # where to go now: to the instructed object once there is an instruction, else to an unnamed one
        goal = th.where(asked, 0.5 * (target_a + target_b), explore)
        self.last = {"read_rows": rows_seen.gather(1, idx).detach(), "read_weights": w.detach(),
                     "pointer_a": pa.detach(), "pointer_b": pb.detach(), "explore": pe.detach(),
                     "known": known.detach()}
        return self.head(th.cat([r, q, target_a, target_b, explore, goal, fovea_target, unnamed, o["proprio"]],
                                -1))


class OracleExtractor(BaseFeaturesExtractor):
    """The oracle: told the binding (``target_appearance``), it points at the matching object. No memory.

    Same visual encoder, pointer and head shape as :class:`DCEMExtractor`, so it is an upper bound for it.
    """

    def __init__(self, observation_space: gym.spaces.Dict, d: int = 32, features_dim: int = 128):
        super().__init__(observation_space, features_dim)
        s = observation_space.spaces
        if "target_appearance" not in s:
            raise ValueError("OracleExtractor needs 'target_appearance': build the world with oracle=True")
        self.V = int(s["text"].high.max()) + 1
        self.vis = _visual_encoder(s["fovea"].shape[0], d)
        self.lang = _language_encoder(self.V)
        self.log_tau = nn.Parameter(th.log(th.tensor(20.0)))
        self.head = nn.Sequential(nn.Linear(self.V + 2 + 1 + s["proprio"].shape[0], features_dim), nn.ReLU())

    def forward(self, o: dict[str, th.Tensor]) -> th.Tensor:
        told = self.vis(o["target_appearance"]) * (o["target_appearance"].abs().sum(-1, keepdim=True) > 0)
        rel, omask = 4.0 * o["objects"][..., :2], o["obj_mask"] > 0.5
        _, target = pointer(self.log_tau.exp() * cosine(self.vis(o["objects"][..., 2:]), told[:, None])[..., 0],
                            omask, rel)
        fovea_on = (o["fovea"].abs().sum(-1, keepdim=True) > 0).float()
        fovea_target = F.cosine_similarity(self.vis(o["fovea"]), told, dim=-1)[:, None] * fovea_on
        q = self.lang(bag_of_words(o["instruction"], self.V))
        return self.head(th.cat([q, target, fovea_target, o["proprio"]], -1))


__all__ = ["DCEMExtractor", "OracleExtractor", "bag_of_words", "masked_softmax", "cosine", "pointer", "top_k_read"]
