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
  ViT's cost per image);
* ``vit_patch8``: the shipped tower with 8 px patches (12 x 12 tokens): its patch embedding resized (bilinear,
  area-scaled) and its position embedding interpolated, after FlexiViT, then fine-tuned: do smaller patches
  let it see shape?
* ``vit_stem``: the shipped tower with a convolutional branch beside its patch embedding (a 3x3 convolution
  at full resolution, 3x3 max pooling, 4x4 patches of that), added to the patch tokens and zero-initialised,
  so it starts as the shipped tower.

``--fit-scenes N`` sets how many training-range scenes are rendered to fit (300 by default, about 5,000
frames) and ``--only a,b`` which candidates run: ``--only vit_shipped --fit-scenes 1500 --epochs 4`` asks
whether more frames, rather than another architecture, teach the shipped tower shape. ``--every N`` keeps every
N-th frame of each fitted episode (6 by default, about 17 frames a scene; the held-out frames stay the same):
``--only vit_shipped --every 50 --fit-scenes 2500`` fits on about as many frames as the default, each pair from
its own scene, and asks whether it is frames or scenes that teach it.

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


class StemBranch(nn.Module):
    """The shipped patch embedding plus a convolutional branch at full resolution whose last layer starts at
    zero: the tower computes what it did until training moves the branch."""

    def __init__(self, patch_embed: nn.Module, width: int, channels: int = 16):
        super().__init__()
        self.patch_embed = patch_embed
        last = nn.Conv2d(channels, width, 4, stride=4)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.branch = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3), last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.patch_embed(x) + self.branch(x)


def with_patch(visual: nn.Module, patch: int) -> nn.Module:
    """``visual`` (an open_clip ViT at 96 px) with ``patch`` px patches: the patch embedding resized
    bilinearly (antialiased) and scaled by the area ratio (a flat patch's response kept to within about 5%;
    FlexiViT's pseudo-inverse resize would keep it exactly) and the position grid interpolated bicubically."""
    weight = visual.conv1.weight.data
    old, grid = weight.shape[-1], 96 // patch
    visual.conv1 = nn.Conv2d(3, weight.shape[0], patch, stride=patch, bias=False)
    visual.conv1.weight.data = F.interpolate(weight, size=(patch, patch), mode="bilinear",
                                              antialias=True) * (old / patch) ** 2
    pos = visual.positional_embedding.data
    side = int(round((len(pos) - 1) ** 0.5))
    cells = F.interpolate(pos[1:].reshape(side, side, -1).permute(2, 0, 1)[None], size=(grid, grid),
                          mode="bicubic")[0].permute(1, 2, 0).reshape(grid * grid, -1)
    visual.positional_embedding = nn.Parameter(torch.cat([pos[:1], cells]))
    visual.patch_size, visual.grid_size = (patch, patch), (grid, grid)
    return visual


def _studio_model():
    """A randomly initialised model of the shipped checkpoint's architecture."""
    import open_clip

    register()
    return open_clip.create_model(checkpoint_model(STUDIO_CHECKPOINT))


def _shipped() -> nn.Module:
    model = _studio_model()
    model.load_state_dict({k: v.float() for k, v in torch.load(STUDIO_CHECKPOINT, map_location="cpu").items()})
    return model.visual


def _with_stem() -> nn.Module:
    tower = _shipped()
    tower.conv1 = StemBranch(tower.conv1, tower.conv1.out_channels)
    return tower


def _vit_scratch() -> nn.Module:
    return _studio_model().visual


CANDIDATES = {"vit_shipped": _shipped, "vit_scratch": _vit_scratch, "cnn": SmallCNN, "cnn_fullres": FullResCNN,
              "vit_patch8": lambda: with_patch(_shipped(), 8), "vit_stem": _with_stem}


def candidates(names=None) -> dict[str, nn.Module]:
    """The towers named (all of :data:`CANDIDATES` by default), each built right after ``torch.manual_seed(0)``:
    a random tower (or branch) starts from the same weights whichever others are built, and in every run."""
    out = {}
    for name in names or CANDIDATES:
        torch.manual_seed(0)
        out[name] = CANDIDATES[name]()
    return out


FINE_TUNED = ("vit_shipped", "vit_patch8", "vit_stem")   # start from the shipped weights: the lower rate


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
    p.add_argument("--fit-scenes", type=int, default=None,
                   help="training-range scenes rendered to fit (default 300, about 5,000 frames at the default "
                        "--every; --quick 30)")
    p.add_argument("--every", type=int, default=None,
                   help="keep every N-th frame of each fitted episode (default: as the held-out frames, every 6th)")
    p.add_argument("--only", default=None, help="comma-separated candidates to run (default: all)")
    args = p.parse_args(argv)
    everyone = list(CANDIDATES)
    only = everyone if args.only is None else [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = sorted(set(only) - set(everyone))
    if unknown or not only:
        said = f"unknown candidate(s) {unknown}" if unknown else "no candidate named"
        p.error(f"--only {args.only!r}: {said}; choose from {everyone}")
    if args.fit_scenes is not None and not 10 <= args.fit_scenes <= 5000:
        p.error(f"--fit-scenes {args.fit_scenes}: give 10 to 5000 scenes")
    if args.every is not None and not 1 <= args.every <= 200:
        p.error(f"--every {args.every}: give 1 to 200 (an episode is about 100 steps; 6 keeps about 17 frames)")
    epochs = args.epochs or (1 if args.quick else 8)
    n_fit, n_test = (30, 15) if args.quick else (300, 150)
    n_fit = args.fit_scenes or n_fit
    fit_set, test_set = shape_sets(n_fit, n_test, fit_every=args.every)

    def label(frames):
        return torch.as_tensor(is_cube(frames), dtype=torch.long)

    data = {"x": to_tensor(fit_set.images), "y": label(fit_set), "xt": to_tensor(test_set.images),
            "yt": label(test_set)}
    share = float(data["yt"].float().mean())
    headline: dict = {"majority": round(max(share, 1 - share), 3)}
    details: dict = {"fit_frames": len(fit_set), "fit_scenes": n_fit, "fit_every": args.every,
                     "heldout_frames": len(test_set), "epochs": epochs}
    for name, tower in candidates(only).items():
        started = time.time()
        history = fit(tower, data, epochs, lr=3e-4 if name in FINE_TUNED else 1e-3, seed=0)
        details[name] = {"history": history, "train_seconds": round(time.time() - started, 1)}
        headline[f"{name}_heldout"] = history[-1]["heldout_acc"]
        headline[f"{name}_images_per_s"] = round(images_per_s(tower, 1.0 if args.quick else 3.0))
        print(name, history[-1], flush=True)
    headline["quick"] = args.quick
    finish("shape_arch", details, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
