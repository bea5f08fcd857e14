"""Train the studio CLIP: a small open_clip model fitted contrastively to captioned renders of the studio.

``python -m agents.vlm.train_domain_clip [--episodes N] [--epochs E] [--init CKPT] [--out assets/studio_clip.pt]``

The shipped model was made in three runs: the defaults (seed 0, 16 epochs), then twice 8 more epochs on fresh
scenes from the previous checkpoint: ``--init assets/studio_clip.pt --seed 5000 --epochs 8 --lr 6e-4``, then
``--init assets/studio_clip.pt --seed 10000 --epochs 8 --lr 5e-4`` (the second run's
loss on unseen scenes started at 2.9 where the first had ended at 0.97 on its own: the first had overfitted
its scenes; the fresh data lifted every held-out figure, see ``assets/studio_clip.json``).

Reproducible (seeded data, seeded torch); runs on the CPU (2 cores: ~61 min for the first run on a shared
machine, ~19 min for the second on one thread, ~14 min for the third on two) or on a GPU when one is present.
Steps:

1. Render captioned frames (:mod:`agents.vlm.domain_data`): manipulation episodes from the ``workspace``
   camera at 96 px (the ``reward`` profile), plus the humanoid poses.
2. Train ``studio-clip-tiny`` (:mod:`agents.vlm.model_configs`) with a multi-positive contrastive loss: every
   caption in the batch that states the same facts as an image's own is a positive for it, so duplicate
   captions are not pushed apart, and each image brings one hard negative (its caption with one fact changed). Each epoch draws a fresh training paraphrase per frame; frames are jittered
   by a few pixels and in brightness (never in hue: colour is what captions talk about).
3. Measure on held-out scenes, paraphrases and a held-out colour/shape combination
   (:mod:`agents.vlm.domain_eval`), then save fp16 weights (loadable by
   ``open_clip.create_model_and_transforms("studio-clip-tiny", pretrained=path)``) and a JSON sidecar with
   the configuration and the measurements.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import open_clip
import torch
import torch.nn.functional as F

from agents.vlm.captions import HELDOUT_TEMPLATES, POSE_HELDOUT_TEMPLATES, POSE_TRAIN_TEMPLATES, TRAIN_TEMPLATES, \
    caption, distractors
from agents.vlm.domain_data import FrameSet, concat, manipulation_frames
from agents.vlm.domain_eval import caption_retrieval, progress_spearman
from agents.vlm.model_configs import STUDIO_CLIP, register
from worlds.manipulation import COLORS, SHAPES

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "assets" / "studio_clip.pt"
MEAN = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> normalised float (N, 3, H, W), as the embedder's preprocessing at native size."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    return (x - MEAN) / STD


def augment(x: torch.Tensor, gen: torch.Generator, shift: int = 3) -> torch.Tensor:
    """Random translation by up to ``shift`` pixels (edge padding) and brightness x[0.9, 1.1]."""
    n, _, h, w = x.shape
    padded = F.pad(x, (shift, shift, shift, shift), mode="replicate")
    dx, dy = torch.randint(0, 2 * shift + 1, (2,), generator=gen).tolist()
    x = padded[:, :, dy:dy + h, dx:dx + w]
    scale = 1.0 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.2
    return (x * STD + MEAN).mul(scale).sub(MEAN).div(STD)


def pose_frames(n_per_pose: int, seed: int, heldout: bool = False) -> FrameSet | None:
    """Humanoid pose renders when the humanoid world exists (``worlds.humanoid``), else ``None``."""
    try:
        from agents.vlm.pose_data import pose_frames as make
    except ImportError:
        return None
    return make(n_per_pose, seed, heldout=heldout)


class Embedders:
    """Plain callables over a torch CLIP model, for :mod:`agents.vlm.domain_eval`."""

    def __init__(self, model, tokenizer, device):
        self.model, self.tokenizer, self.device = model, tokenizer, device

    @torch.inference_mode()
    def images(self, images: np.ndarray) -> np.ndarray:
        out = [F.normalize(self.model.encode_image(to_tensor(images[i:i + 512]).to(self.device)), dim=-1)
               for i in range(0, len(images), 512)]
        return torch.cat(out).float().cpu().numpy()

    @torch.inference_mode()
    def texts(self, texts: list[str]) -> np.ndarray:
        tokens = self.tokenizer(texts).to(self.device)
        return F.normalize(self.model.encode_text(tokens), dim=-1).float().cpu().numpy()


def evaluate(emb: Embedders, heldout: FrameSet, heldout_poses: FrameSet | None, seed: int) -> dict:
    """Held-out caption retrieval (seen and held-out paraphrases), held-out object, progress correlation."""
    from agents.vlm.domain_data import HELDOUT_OBJECT

    result = {
        "retrieval_heldout_scenes_train_templates": caption_retrieval(emb.images, emb.texts, heldout,
                                                                      TRAIN_TEMPLATES, seed=seed),
        "retrieval_heldout_scenes_heldout_templates": caption_retrieval(emb.images, emb.texts, heldout,
                                                                        HELDOUT_TEMPLATES, seed=seed + 1),
    }
    mask = np.array([HELDOUT_OBJECT in f.obj for f in heldout.facts])
    if mask.any():
        result["retrieval_heldout_object"] = caption_retrieval(emb.images, emb.texts, heldout.subset(mask),
                                                               TRAIN_TEMPLATES, seed=seed + 2)
    if heldout_poses is not None:
        result["retrieval_poses_heldout_templates"] = caption_retrieval(
            emb.images, emb.texts, heldout_poses, POSE_HELDOUT_TEMPLATES, k=4, seed=seed + 3)
        result["retrieval_poses_train_templates"] = caption_retrieval(
            emb.images, emb.texts, heldout_poses, POSE_TRAIN_TEMPLATES, k=4, seed=seed + 4)
    result["progress_spearman"] = progress_spearman(emb.images, emb.texts, seed=seed)
    return result


def train(episodes: int = 600, epochs: int = 16, batch_size: int = 256, lr: float = 2e-3, seed: int = 0,
          eval_episodes: int = 60, poses_per_class: int = 300, out: Path = DEFAULT_OUT, device: str = "auto",
          init: Path | None = None, log=print) -> dict:
    """Render data, train, evaluate, save; return the metadata written beside the checkpoint."""
    started = time.time()
    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)

    log(f"rendering {episodes} training episodes ...")
    parts = [manipulation_frames(episodes, seed)]
    poses = pose_frames(poses_per_class, seed)
    if poses is not None:
        parts.append(poses)
    data = concat(*parts)
    heldout = manipulation_frames(eval_episodes, seed, heldout=True)
    heldout_poses = pose_frames(max(poses_per_class // 8, 20), seed, heldout=True)
    log(f"{len(data)} training frames, {len(heldout)} held-out frames ({time.time() - started:.0f} s)")

    register()
    model = open_clip.create_model(STUDIO_CLIP)
    if init is not None:        # continue from a checkpoint (e.g. more epochs at a lower learning rate)
        model.load_state_dict({k: v.float() for k, v in torch.load(init, map_location="cpu").items()})
        log(f"initialised from {init}")
    model = model.to(device)
    tokenizer = open_clip.get_tokenizer(STUDIO_CLIP)
    images = to_tensor(data.images)
    fact_ids: dict = {}

    def fact_id(f) -> int:
        return fact_ids.setdefault(f, len(fact_ids))

    labels = torch.tensor([fact_id(f) for f in data.facts])
    colours, shapes = list(COLORS), list(SHAPES)

    def hard_negative(f, present, rng):
        options = distractors(f, colours, shapes, present)
        return options[rng.integers(len(options))]
    templates = [POSE_TRAIN_TEMPLATES if f.is_pose else TRAIN_TEMPLATES for f in data.facts]

    steps_per_epoch = math.ceil(len(data) / batch_size)
    total = steps_per_epoch * epochs
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.05 * total)) * 0.5 * (1 + math.cos(math.pi * min(s / total, 1.0))))
    token_cache: dict[str, torch.Tensor] = {}

    def tokens(texts: list[str]) -> torch.Tensor:
        missing = [t for t in texts if t not in token_cache]
        if missing:
            for t, tok in zip(missing, tokenizer(missing)):
                token_cache[t] = tok
        return torch.stack([token_cache[t] for t in texts])

    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(data), generator=gen)
        losses = []
        for b in range(steps_per_epoch):
            idx = perm[b * batch_size:(b + 1) * batch_size]
            chosen = [templates[i][rng.integers(len(templates[i]))] for i in idx.tolist()]
            texts = [caption(data.facts[i], t) for i, t in zip(idx.tolist(), chosen)]
            # One hard negative per image: its caption with exactly one fact changed (NegCLIP-style), so the
            # model must learn relations and bindings, not only which colours are in the picture.
            negatives = [hard_negative(data.facts[i], data.present[i], rng) for i in idx.tolist()]
            texts += [caption(f, t) for f, t in zip(negatives, chosen)]
            text_labels = torch.cat([labels[idx], torch.tensor([fact_id(f) for f in negatives])])
            x = augment(images[idx], gen).to(device)
            img = F.normalize(model.encode_image(x), dim=-1)
            txt = F.normalize(model.encode_text(tokens(texts).to(device)), dim=-1)
            logits = model.logit_scale.exp() * img @ txt.T                       # (B, 2B)
            same = (labels[idx][:, None] == text_labels[None, :]).float().to(device)
            n = len(idx)
            loss = 0.5 * (torch.sum(-same / same.sum(1, keepdim=True) * F.log_softmax(logits, 1), 1).mean()
                          + torch.sum(-same[:, :n] / same[:, :n].sum(0, keepdim=True)
                                      * F.log_softmax(logits[:, :n], 0), 0).mean())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            losses.append(loss.item())
        log(f"epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.3f} ({time.time() - started:.0f} s)")

    model.eval()
    train_minutes = (time.time() - started) / 60
    metrics = evaluate(Embedders(model, tokenizer, device), heldout, heldout_poses, seed)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, out)
    meta = {
        "model": STUDIO_CLIP, "checkpoint": out.name, "checkpoint_mb": round(out.stat().st_size / 2**20, 2),
        "device": device, "train_minutes_including_rendering": round(train_minutes, 1),
        "config": {"episodes": episodes, "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
                   "init": None if init is None else Path(init).name,
                   "poses_per_class": poses_per_class, "train_frames": len(data), "heldout_frames": len(heldout)},
        "metrics": metrics,
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    log(json.dumps(meta["metrics"], indent=1))
    return meta


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=600, help="manipulation episodes rendered for training")
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--poses-per-class", type=int, default=300)
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--init", type=Path, default=None, help="start from this checkpoint (continue training)")
    p.add_argument("--quick", action="store_true", help="a one-minute smoke run (tiny data, 1 epoch)")
    a = p.parse_args(argv)
    if a.quick:
        train(episodes=20, epochs=1, eval_episodes=4, poses_per_class=10, seed=a.seed, out=a.out, device=a.device)
    else:
        train(a.episodes, a.epochs, a.batch_size, a.lr, a.seed, poses_per_class=a.poses_per_class, out=a.out,
              device=a.device, init=a.init)


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    main()
