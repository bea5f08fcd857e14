"""open_clip model configs that ship with the studio (``studio-clip-tiny``: the in-domain studio CLIP).

:func:`register` adds this folder to open_clip's registry, after which
``open_clip.create_model_and_transforms("studio-clip-tiny", pretrained=path)`` works like any built-in name.
"""

from __future__ import annotations

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
