"""open_clip model configs that ship with the studio: the in-domain studio CLIP's architectures.

* ``studio-clip-tiny``: ViT 3 layers x 96 wide, patch 12, 96 px; text 2 x 128. Runs 1-9 of the studio CLIP.
* ``studio-clip-small``: the same with 6 vision layers, grown from a tiny checkpoint
  (:mod:`agents.vlm.model_growth`).

:func:`register` adds this folder to open_clip's registry, after which
``open_clip.create_model_and_transforms("studio-clip-tiny", pretrained=path)`` works like any built-in name.
A checkpoint's JSON sidecar (written by ``train_domain_clip``) names its architecture under ``"model"``;
:func:`checkpoint_model` reads it, so loading a studio checkpoint never needs the name to be given.
"""

from __future__ import annotations

import json
from pathlib import Path

import open_clip

CONFIG_DIR = Path(__file__).parent
STUDIO_CLIP = "studio-clip-tiny"
_registered = False


def register() -> None:
    """Make the studio's model names known to open_clip (idempotent)."""
    global _registered
    if not _registered:
        open_clip.add_model_config(CONFIG_DIR)
        _registered = True


def studio_models() -> list[str]:
    """The names of the studio's own architectures (this folder's configs)."""
    return sorted(cfg.stem for cfg in CONFIG_DIR.glob("*.json"))


def checkpoint_model(checkpoint: str | Path) -> str:
    """The model name in ``checkpoint``'s sidecar (``studio_clip.json`` beside ``studio_clip.pt``);
    :data:`STUDIO_CLIP` when there is no sidecar (checkpoints from before sidecars were all tiny).

    Raises ``ValueError`` naming the sidecar when it is unreadable or names no studio model.
    """
    sidecar = Path(checkpoint).with_suffix(".json")
    if not sidecar.is_file():
        return STUDIO_CLIP
    try:
        name = json.loads(sidecar.read_text()).get("model", STUDIO_CLIP)
    except (json.JSONDecodeError, AttributeError) as exc:
        raise ValueError(f"{sidecar} is not a training sidecar ({exc}); delete it or restore the one "
                         f"train_domain_clip wrote") from exc
    if name not in studio_models():
        raise ValueError(f"{sidecar} names model {name!r}, which is not a studio model ({studio_models()})")
    return name
