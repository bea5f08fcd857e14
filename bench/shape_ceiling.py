"""Is an object's shape in the reward's pixels at all? A ceiling for the studio CLIP's shape reading.

``python -m bench.shape_ceiling [--quick]`` renders the shape questions' one-object scenes
(:func:`agents.vlm.domain_eval.shape_sets`: push and pick-and-place, training-range seeds to fit, held-out
seeds to score) at 96 px, the reward's size, and at 192 px (``--sizes``), and trains a small CNN to say
"cube" or "cylinder" from a window cut around the object, where the true state projects it
(:func:`agents.vlm.domain_data.object_pixels`). The window covers the same part of the table at every size
(16 px at 96 px): the network is told where to look and sees nothing else, its first two convolutions at the
crop's full resolution, so what it cannot read from the colour-shape pairs it was fitted on is, to a good
approximation, not in those pixels (a pair never fitted is another question: see ``by_object``). Nothing here is
shipped: it gauges what the pixels hold at each size, beside `bench.shape_arch`'s whole-frame
towers (shape 0.60-0.78 at 96 px) and the shipped model's shape pairwise (0.71 in `bench.domain_clip`).

Per size: held-out accuracy after the last epoch (and the best epoch's), the majority share (what seeing
nothing scores), and the accuracy by where the gripper is (``at`` / ``near`` / ``far from`` the object: the
gripper can hide the object's outline) and by object (the held-out "purple cylinder" is never in a fitted
scene, as for the studio CLIP). Headline keys: ``crop_heldout_<size>``, ``crop_heldout_best_<size>``,
``crop_at_gripper_<size>``, ``crop_far_<size>``, ``heldout_object_<size>`` (the purple cylinder's frames),
``majority``.

``--fit-without COLOUR`` fits a second network, in the same run and on the same frames, with every object of
that colour left out of the fitted frames, and scores it on the same held-out frames: does the network read
the held-out purple cylinder's shape when purple never stood for "cube" in what it was fitted on? Headline:
the second fit's ``heldout_object_without_<colour>_<size>``, ``crop_heldout_without_<colour>_<size>`` and,
for each shape of the colour but the held-out object, ``<colour>_<shape>_without_<colour>_<size>`` beside the
first fit's ``<colour>_<shape>_<size>`` (``purple_cube_96``), and ``keep_share``; each fit's ``by_object`` is
in the details. ``--keep-share S`` keeps that share of the colour's fitted frames (drawn at random, seeded)
instead of none, and the "without" keys then name that refit: does purple stop meaning "cube" when purple cubes
are merely rare? ``train_domain_clip --shapeless-colours`` is the studio CLIP's version of the lever (the
colour's objects said without a shape).
"""

from __future__ import annotations

import time
from pathlib import Path

from worlds import gl  # noqa: F401

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.vlm.domain_data import HELDOUT_OBJECT, FrameSet
from agents.vlm.domain_eval import is_cube, shape_sets
from bench.common import finish, parser
from worlds.manipulation import COLORS, SHAPES

WINDOW_AT_96 = 16      # px of a 96 px frame around the object's centre: an 8 px object and its surroundings


class CropCNN(nn.Module):
    """3x3 convolutions at the crop's full resolution, then one pooling and two more, max-pooled: no pixel
    is averaged away before two convolutions have seen it."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.Conv2d(2 * width, 2 * width, 3, padding=1),
            nn.ReLU())
        self.head = nn.Linear(2 * width, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).amax((2, 3)))


def crops(frames: FrameSet, window: int, margin: int) -> torch.Tensor:
    """Per frame, a ``window + 2 * margin`` px square around object 0's projected centre (the frame's edge
    pixels repeated where the square runs off it; a centre off the frame is moved to its nearest pixel), as
    floats in [0, 1], (N, 3, H, W). The margin leaves room for the random shifts of :func:`fit`."""
    side = window + 2 * margin
    out = np.empty((len(frames), side, side, 3), np.uint8)
    for i, image in enumerate(frames.images):
        col, row, _ = frames.objects_of(i)[0]
        col, row = min(max(col, 0.0), image.shape[1] - 1.0), min(max(row, 0.0), image.shape[0] - 1.0)
        padded = np.pad(image, ((side, side), (side, side), (0, 0)), mode="edge")
        top, left = int(round(row)) - side // 2 + side, int(round(col)) - side // 2 + side
        out[i] = padded[top:top + side, left:left + side]
    return torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255.0


def in_frame(frames: FrameSet, size: int) -> np.ndarray:
    """Per frame, whether object 0's projected centre lies in the ``size`` px frame."""
    return np.array([0 <= c < size and 0 <= r < size for c, r, _ in (frames.objects_of(i)[0]
                                                                     for i in range(len(frames)))], bool)


def fit(x: torch.Tensor, y: torch.Tensor, xt: torch.Tensor, yt: torch.Tensor, window: int, margin: int,
        epochs: int, seed: int = 0) -> tuple[list[dict], torch.Tensor]:
    """Train a :class:`CropCNN` (AdamW, cross-entropy) on random ``window`` px cuts of the crops, each randomly
    mirrored left-right (the scenes are not mirror-symmetric, but a shape is); score the centred cut of the
    held-out crops after each epoch. Returns the history and the last epoch's held-out hits (bool per frame)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = CropCNN()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=epochs * -(-len(x) // 128))
    centred = xt[:, :, margin:margin + window, margin:margin + window]
    history, hits_t = [], torch.zeros(len(xt), dtype=torch.bool)
    for epoch in range(epochs):
        net.train()
        perm, hits = torch.randperm(len(x), generator=gen), 0
        for b in range(0, len(x), 128):
            i = perm[b:b + 128]
            dy, dx = (int(v) for v in torch.randint(0, 2 * margin + 1, (2,), generator=gen))
            batch = x[i, :, dy:dy + window, dx:dx + window]
            if torch.rand((), generator=gen) < 0.5:
                batch = batch.flip(3)
            out = net(batch)
            loss = F.cross_entropy(out, y[i])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            hits += int((out.argmax(1) == y[i]).sum())
        net.eval()
        with torch.inference_mode():
            hits_t = net(centred).argmax(1) == yt
        history.append({"epoch": epoch + 1, "train_acc": round(hits / len(x), 4),
                        "heldout_acc": round(float(hits_t.float().mean()), 4)})
    return history, hits_t


def accuracy_by_object(hits: torch.Tensor, names: np.ndarray) -> dict:
    """Per object name, the share of its frames that ``hits`` marks and how many there are."""
    return {str(o): {"acc": round(float(hits[torch.as_tensor(names == o)].float().mean()), 4),
                     "n": int((names == o).sum())} for o in sorted(set(names))}


def save_misses(frames: FrameSet, hits: torch.Tensor, window: int, folder: Path, size: int,
                count: int = 48) -> Path:
    """A picture of up to ``count`` held-out frames the network missed (evenly spread over them), each shown as
    the whole frame beside its crop (the crop scaled to the frame's height, a red line between them), eight to
    a row, and below each its true object and where the gripper was in ``<folder>/shape_misses_<size>.png``."""
    from PIL import Image, ImageDraw

    missed = np.flatnonzero(~hits.numpy())
    pick = missed[np.linspace(0, len(missed) - 1, min(count, len(missed))).astype(int)] if len(missed) else []
    cut = crops(frames, window, 0)
    tile_w, tile_h, label = 2 * size + 2, size, 14
    sheet = Image.new("RGB", (8 * tile_w, max(1, -(-len(pick) // 8)) * (tile_h + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, i in enumerate(pick):
        x, y = (k % 8) * tile_w, (k // 8) * (tile_h + label)
        sheet.paste(Image.fromarray(frames.images[i]), (x, y))
        zoom = Image.fromarray((cut[i].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).resize((size, size),
                                                                                                 Image.NEAREST)
        sheet.paste(zoom, (x + size + 2, y))
        draw.line([(x + size, y), (x + size, y + tile_h)], fill="red", width=2)
        draw.text((x + 2, y + tile_h), f"{frames.facts[i].obj} / {frames.facts[i].gripper}", fill="black")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"shape_misses_{size}.png"
    sheet.save(path)
    return path


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", default="96,192", help="render sizes in px, comma-separated (default 96,192)")
    p.add_argument("--fit-scenes", type=int, default=None, help="training-range scenes (default 600; --quick 40)")
    p.add_argument("--heldout-scenes", type=int, default=None, help="held-out scenes (default 150; --quick 20)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 20; --quick 3)")
    p.add_argument("--fit-without", default=None, metavar="COLOUR",
                   help="also fit a network with every object of this colour left out of the fitted frames "
                        "(e.g. purple, the held-out cylinder's colour)")
    p.add_argument("--keep-share", type=float, default=0.0,
                   help="with --fit-without: the share of that colour's fitted frames kept (default 0: none)")
    p.add_argument("--misses", type=Path, default=None,
                   help="folder for a picture per size of held-out frames the network missed, to look at")
    args = p.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes {args.sizes!r}: give sizes in px, e.g. 96,192")
    if not sizes or any(s % 48 or not 48 <= s <= 384 for s in sizes):
        p.error(f"--sizes {args.sizes!r}: each size a multiple of 48 from 48 to 384 (the window is 1/6 of it)")
    if args.fit_without is not None and args.fit_without not in COLORS:
        p.error(f"--fit-without {args.fit_without!r} is not a colour of the scenes: give one of {', '.join(COLORS)}")
    if not 0.0 <= args.keep_share < 1.0:        # also catches NaN
        p.error(f"--keep-share {args.keep_share} is a share of frames kept: give a number from 0 to below 1")
    if args.keep_share and args.fit_without is None:
        p.error(f"--keep-share {args.keep_share} is the share of --fit-without's colour kept: give --fit-without "
                f"too (e.g. --fit-without purple)")
    n_fit = args.fit_scenes or (40 if args.quick else 600)
    n_test = args.heldout_scenes or (20 if args.quick else 150)
    epochs = args.epochs or (3 if args.quick else 20)
    headline: dict = {}
    details: dict = {"fit_scenes": n_fit, "heldout_scenes": n_test, "epochs": epochs, "window_at_96": WINDOW_AT_96}
    for size in sizes:
        started = time.time()
        fit_set, test_set = shape_sets(n_fit, n_test, size=size)
        rendered = time.time() - started
        # An object projected off the frame (carried out of view) shows no shape to read: those frames are left
        # out of both sets, and counted.
        inside = {name: in_frame(frames, size) for name, frames in (("fit", fit_set), ("heldout", test_set))}
        off = {name: int((~mask).sum()) for name, mask in inside.items()}
        fit_set, test_set = fit_set.subset(inside["fit"]), test_set.subset(inside["heldout"])
        window, margin = WINDOW_AT_96 * size // 96, 2 * size // 96
        y, yt = (torch.as_tensor(is_cube(s), dtype=torch.long) for s in (fit_set, test_set))
        test_crops = crops(test_set, window, margin)
        history, hits = fit(crops(fit_set, window, margin), y, test_crops, yt, window, margin, epochs)
        gripper = np.array([f.gripper for f in test_set.facts])
        by_gripper = {g: {"acc": round(float(hits[gripper == g].float().mean()), 4), "n": int((gripper == g).sum())}
                      for g in ("at", "near", "far from") if (gripper == g).any()}
        names = np.array([f.obj for f in test_set.facts])
        by_object = accuracy_by_object(hits, names)
        headline[f"heldout_object_{size}"] = by_object.get(HELDOUT_OBJECT, {}).get("acc")
        if args.fit_without:
            colour = args.fit_without
            kept = np.array([not f.obj.startswith(colour + " ") for f in fit_set.facts])
            kept |= np.random.default_rng(0).random(len(kept)) < args.keep_share
            _, hits_without = fit(crops(fit_set.subset(kept), window, margin), y[torch.as_tensor(kept)],
                                  test_crops, yt, window, margin, epochs)
            without = accuracy_by_object(hits_without, names)
            headline[f"heldout_object_without_{colour}_{size}"] = without.get(HELDOUT_OBJECT, {}).get("acc")
            for shape in (s for s in SHAPES if f"{colour} {s}" != HELDOUT_OBJECT):
                headline[f"{colour}_{shape}_{size}"] = by_object.get(f"{colour} {shape}", {}).get("acc")
                headline[f"{colour}_{shape}_without_{colour}_{size}"] = without.get(f"{colour} {shape}", {}).get("acc")
            headline[f"crop_heldout_without_{colour}_{size}"] = round(float(hits_without.float().mean()), 4)
            headline["keep_share"] = args.keep_share
            print(size, f"fitted without {colour} ({int(kept.sum())} of {len(kept)} frames):", without, flush=True)
        share = float(yt.float().mean())
        headline.setdefault("majority", round(max(share, 1 - share), 3))
        headline[f"crop_heldout_{size}"] = history[-1]["heldout_acc"]
        headline[f"crop_heldout_best_{size}"] = max(h["heldout_acc"] for h in history)
        headline[f"crop_at_gripper_{size}"] = by_gripper.get("at", {}).get("acc")
        headline[f"crop_far_{size}"] = by_gripper.get("far from", {}).get("acc")
        details[str(size)] = {"fit_frames": len(fit_set), "heldout_frames": len(test_set),
                              "off_frame_left_out": off, "window": window, "history": history,
                              "by_gripper": by_gripper, "by_object": by_object,
                              "render_seconds": round(rendered, 1), "seconds": round(time.time() - started, 1)}
        if args.fit_without:
            details[str(size)][f"fit_without_{args.fit_without}"] = {"fit_frames": int(kept.sum()),
                                                                     "keep_share": args.keep_share,
                                                                     "by_object": without}
        if args.misses:
            details[str(size)]["misses_png"] = str(save_misses(test_set, hits, window, args.misses, size))
        print(size, history[-1], by_gripper, flush=True)
    headline["quick"] = args.quick
    finish("shape_ceiling", details, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
