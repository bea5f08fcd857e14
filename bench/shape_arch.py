"""Which image tower can see an object's shape at 96 px? A supervised probe of architectures.

``python -m bench.shape_arch [--quick]`` renders one-object push and pick-and-place scenes (the reward camera,
96 px; training-range seeds to fit, held-out seeds to score, as :func:`agents.vlm.domain_eval.shape_probe`)
and trains each candidate, end to end, to say "cube" or "cylinder" (cross-entropy, AdamW, the studio CLIP's
own augmentation). Per candidate: held-out accuracy after each epoch, training accuracy, and images/s at
batch 256 on the CPU (what it would cost the reward pipeline).

Candidates:

* ``vit_shipped``: the shipped studio CLIP's image tower (a 3-block ViT, 96 wide, 12 px patches), from its
  weights: can fine-tuning teach it shape?
* ``vit_scratch``: the same architecture from random weights;
* ``cnn``: a small convolutional tower (3x3 convolutions, a stride-2 stem, global max pooling) from random
  weights: locality and max pooling suit an 8 px object anywhere in the frame;
* ``cnn_fullres``: the same idea with its first two convolutions at full resolution (about 15 times the
  ViT's cost per image).

Headline: ``<candidate>_heldout`` (last epoch), ``<candidate>_images_per_s`` and ``majority`` (the held-out
share of the commoner shape: what seeing nothing scores). The studio CLIP's own embedding, probed linearly,
is ``shape_probe_heldout`` of ``bench.domain_clip``.
"""

from __future__ import annotations

import time

from worlds import gl  # noqa: F401

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.vlm.domain_eval import is_cube, shape_sets
from agents.vlm.embedder import STUDIO_CHECKPOINT
from agents.vlm.model_configs import checkpoint_model, register
from agents.vlm.train_domain_clip import augment, to_tensor
from bench.common import finish, parser, rate


class FullResCNN(nn.Module):
    """Two 3x3 convolutions at full resolution before any pooling, two more at half and a quarter: dearer, but
    no pixel of an 8 px object is averaged away before the first convolutions see it."""

    def __init__(self, width: int = 32, dim: int = 128):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.Conv2d(2 * width, 2 * width, 3, padding=1),
            nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * width, dim, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).amax((2, 3))


class SmallCNN(nn.Module):
    """Conv stem (stride 2) and two stages of 3x3 convolutions, globally max-pooled to ``dim`` features."""

    def __init__(self, width: int = 24, dim: int = 128):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.Conv2d(64, dim, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).amax((2, 3))


def candidates() -> dict[str, nn.Module]:
    import open_clip

    register()
    torch.manual_seed(0)            # the random towers start from the same weights every run
    name = checkpoint_model(STUDIO_CHECKPOINT)
    shipped = open_clip.create_model(name)
    shipped.load_state_dict({k: v.float() for k, v in torch.load(STUDIO_CHECKPOINT, map_location="cpu").items()})
    return {"vit_shipped": shipped.visual, "vit_scratch": open_clip.create_model(name).visual, "cnn": SmallCNN(),
            "cnn_fullres": FullResCNN()}


def images_per_s(tower: nn.Module, seconds: float) -> float:
    tower.eval()
    x = torch.randn(256, 3, 96, 96)
    with torch.inference_mode():
        return len(x) * rate(lambda: tower(x), seconds)


def fit(tower: nn.Module, data: dict, epochs: int, lr: float, seed: int) -> list[dict]:
    """Train ``tower`` plus a linear head; the accuracies after each epoch."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x, y, xt, yt = data["x"], data["y"], data["xt"], data["yt"]
    with torch.no_grad():
        dim = tower.eval()(x[:2]).shape[1]
    head = nn.Linear(dim, 2)
    opt = torch.optim.AdamW([*tower.parameters(), *head.parameters()], lr=lr, weight_decay=0.05)
    history = []
    for epoch in range(epochs):
        tower.train()
        perm, hits = torch.randperm(len(x), generator=gen), 0
        for b in range(0, len(x), 128):
            i = perm[b:b + 128]
            out = head(tower(augment(x[i], gen, flip=True)))
            loss = F.cross_entropy(out, y[i])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            hits += int((out.argmax(1) == y[i]).sum())
        tower.eval()
        with torch.inference_mode():
            held = float((head(tower(xt)).argmax(1) == yt).float().mean())
        history.append({"epoch": epoch + 1, "train_acc": round(hits / len(x), 4), "heldout_acc": round(held, 4)})
    return history


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=None, help="epochs per candidate (default 8, --quick 1)")
    args = p.parse_args(argv)
    epochs = args.epochs or (1 if args.quick else 8)
    n_fit, n_test = (30, 15) if args.quick else (300, 150)
    fit_set, test_set = shape_sets(n_fit, n_test)

    def label(frames):
        return torch.as_tensor(is_cube(frames), dtype=torch.long)

    data = {"x": to_tensor(fit_set.images), "y": label(fit_set), "xt": to_tensor(test_set.images),
            "yt": label(test_set)}
    share = float(data["yt"].float().mean())
    headline: dict = {"majority": round(max(share, 1 - share), 3)}
    details: dict = {"fit_frames": len(fit_set), "heldout_frames": len(test_set), "epochs": epochs}
    for name, tower in candidates().items():
        started = time.time()
        history = fit(tower, data, epochs, lr=3e-4 if name == "vit_shipped" else 1e-3, seed=0)
        details[name] = {"history": history, "train_seconds": round(time.time() - started, 1)}
        headline[f"{name}_heldout"] = history[-1]["heldout_acc"]
        headline[f"{name}_images_per_s"] = round(images_per_s(tower, 1.0 if args.quick else 3.0))
        print(name, history[-1], flush=True)
    headline["quick"] = args.quick
    finish("shape_arch", details, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
