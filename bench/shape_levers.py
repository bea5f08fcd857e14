"""Is it the pixels? The shipped image tower taught shape on frames drawn better, or with the object bigger.

``python -m bench.shape_levers [--quick]`` asks of the studio CLIP's image tower (fine-tuned end to end on
"cube or cylinder", as ``vit_shipped`` in :mod:`bench.shape_arch`, same frames, epochs and rate) whether what
holds it back is how the 96 px frames are drawn or how few pixels an object covers (about 4-8 px across):

* ``reward``: the ``reward`` render profile, as the studio CLIP sees its frames (the baseline of this run);
* ``multisample4``: the same with 4x multisampling (anti-aliased edges: a cylinder's rounded outline against a
  cube's corners, in sub-pixel grey levels);
* ``supersample2``: drawn at 192 px and averaged down to 96 (the same, by averaging 2 x 2 pixels);
* ``object_crop_2x``: a 96 px window of the 192 px render centred on the object: the object covers twice the
  pixels each way (about 8-16 px), with twice the detail;
* ``object_crop_upsampled``: a 48 px window of the 96 px render centred on the object, blown up 2x (nearest):
  the same centring and size in pixels as ``object_crop_2x``, no new detail.

The crops are not a way to draw rewards (the reward camera is fixed; the object moves): they ask whether a
tower that saw objects twice as large would learn their shape from these frames. ``majority`` is the held-out
share of the commoner shape (what seeing nothing scores). Headline: ``<variant>_heldout`` (last epoch) and
``<variant>_best`` (best epoch) for each, and ``<variant>_render_frames_per_s``, what drawing costs.
"""

from __future__ import annotations

import time
from dataclasses import replace

from worlds import gl  # noqa: F401

import numpy as np
import torch

from agents.vlm.domain_eval import is_cube, shape_sets
from agents.vlm.train_domain_clip import to_tensor
from bench.common import finish, parser
from bench.shape_arch import candidates, fit
from worlds.rendering import PROFILES

SIZE = 96
VARIANTS = ("reward", "multisample4", "supersample2", "object_crop_2x", "object_crop_upsampled")


def downsample(images: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor`` x ``factor`` pixel blocks (uint8 in, uint8 out)."""
    n, h, w, c = images.shape
    blocks = images.reshape(n, h // factor, factor, w // factor, factor, c).astype(np.float32)
    return blocks.mean((2, 4)).round().astype(np.uint8)


def object_crops(images: np.ndarray, objects, scale: float, window: int, up: int) -> np.ndarray:
    """``window`` px squares of ``images`` centred on object 0 (``objects``: per-frame pixel centres measured at
    192 px, scaled by ``scale`` to these images; kept inside the frame), each repeated ``up`` times each way."""
    side = images.shape[1]
    out = []
    for image, seen in zip(images, objects):
        x, y = seen[0][0] * scale, seen[0][1] * scale
        x0 = int(np.clip(round(x - window / 2), 0, side - window))
        y0 = int(np.clip(round(y - window / 2), 0, side - window))
        crop = image[y0:y0 + window, x0:x0 + window]
        out.append(np.repeat(np.repeat(crop, up, 0), up, 1))
    return np.stack(out)


def variant_sets(n_fit: int, n_test: int) -> tuple[dict, dict]:
    """``{variant: (fit images, held-out images)}`` and render frames/s per drawing; the labels are the same
    scenes' in every variant (the same seeds, so the same episodes)."""
    big = shape_sets(n_fit, n_test, size=2 * SIZE)
    timed = {}
    out = {}
    for name, profile in (("reward", PROFILES["reward"]), ("multisample4", replace(PROFILES["reward"], multisample=4))):
        started = time.time()
        sets = shape_sets(n_fit, n_test, render_profile=profile)
        timed[name] = (len(sets[0]) + len(sets[1])) / (time.time() - started)
        out[name] = tuple(s.images for s in sets)
    out["supersample2"] = tuple(downsample(s.images, 2) for s in big)
    out["object_crop_2x"] = tuple(object_crops(s.images, s.objects, 1.0, SIZE, 1) for s in big)
    out["object_crop_upsampled"] = tuple(object_crops(downsample(s.images, 2), s.objects, 0.5, SIZE // 2, 2)
                                         for s in big)
    for name, (fit_images, test_images) in out.items():      # the same episodes, whatever draws them
        assert (len(fit_images), len(test_images)) == (len(big[0]), len(big[1])), name
    return out, {"labels": tuple(torch.as_tensor(is_cube(s), dtype=torch.long) for s in big), "render": timed}


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=None, help="epochs per variant (default 8, --quick 1)")
    args = p.parse_args(argv)
    epochs = args.epochs or (1 if args.quick else 8)
    n_fit, n_test = (30, 15) if args.quick else (300, 150)
    images, meta = variant_sets(n_fit, n_test)
    y, yt = meta["labels"]
    share = float(yt.float().mean())
    headline: dict = {"majority": round(max(share, 1 - share), 3)}
    details: dict = {"fit_frames": len(y), "heldout_frames": len(yt), "epochs": epochs}
    for name in VARIANTS:
        x, xt = images[name]
        data = {"x": to_tensor(x), "y": y, "xt": to_tensor(xt), "yt": yt}
        started = time.time()
        history = fit(candidates(["vit_shipped"])["vit_shipped"], data, epochs, lr=3e-4, seed=0)
        details[name] = {"history": history, "train_seconds": round(time.time() - started, 1)}
        headline[f"{name}_heldout"] = history[-1]["heldout_acc"]
        headline[f"{name}_best"] = max(h["heldout_acc"] for h in history)
        print(name, history[-1], flush=True)
    for name, rate in meta["render"].items():
        headline[f"{name}_render_frames_per_s"] = round(rate)   # including the episodes' physics and control
    headline["quick"] = args.quick
    finish("shape_levers", details, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
