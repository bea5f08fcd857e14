"""The CLIP model setting of a run: which model embeds the frames of its CLIP reward terms.

A setting is a short string (:data:`CLIP_MODEL_HELP`), so a run config, a CLI flag, an environment variable and
a sweep can all carry it. This module only reads and checks settings (no torch unless a setting names an
open_clip model); :func:`agents.vlm.embedder.embedder_for` loads the model a setting names.
"""

from __future__ import annotations

import os

CLIP_MODEL_ENV = "STUDIO_CLIP_MODEL"
STUDIO_SETTING = "studio"
SCHEMES = ("hf-hub:", "local-dir:")
_PATH_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".npz")
CLIP_MODEL_HELP = ("The CLIP model for CLIP reward terms: 'studio' (the studio CLIP in assets/, the default), "
                   "'studio:/path/to/studio_clip.pt' (one you trained with agents.vlm.train_domain_clip --out), or "
                   "an open_clip model as 'NAME:TAG' with its weights already in the local cache (e.g. "
                   "'ViT-B-32:laion2b_s34b_b79k'), 'NAME:/path/to/weights.pt' or 'hf-hub:org/repo'. A blank field "
                   f"means 'studio'; the fields start from the environment variable {CLIP_MODEL_ENV} when it is "
                   "set, which is also the model of a run config that names none.")


def parse_clip_model(setting: str) -> tuple[str, str | None]:
    """``setting`` (see :data:`CLIP_MODEL_HELP`) -> ``(model_name, pretrained)``; ``("studio", None)`` for the
    shipped studio CLIP. Checks the form and the model name only (nothing is loaded).

    Raises:
        ValueError: naming the value and the accepted forms.
    """
    text = str(setting).strip()
    if text in ("", STUDIO_SETTING):
        return STUDIO_SETTING, None
    if text.startswith(SCHEMES):          # open_clip's own "hf-hub:org/repo" names carry their weights
        return text, None
    name, sep, pretrained = text.partition(":")
    name, pretrained = name.strip(), pretrained.strip()
    if name == STUDIO_SETTING:
        if not pretrained:
            raise ValueError(f"CLIP model {setting!r}: 'studio:' needs a checkpoint path after the colon, e.g. "
                             f"'studio:/path/to/studio_clip.pt'; or write 'studio' for the shipped one")
        return STUDIO_SETTING, pretrained
    if not sep or not pretrained:
        raise ValueError(f"CLIP model {setting!r} names no weights: write 'NAME:TAG' (a pretrained tag already in "
                         f"the local cache, e.g. 'ViT-B-32:laion2b_s34b_b79k') or 'NAME:/path/to/weights.pt'; "
                         f"random weights would make a reward that means nothing")
    from agents.vlm.embedder import check_model_name   # open_clip and torch load only for a named model

    try:
        check_model_name(name)
    except ValueError as err:
        raise ValueError(f"CLIP model {setting!r}: {err}") from None
    return name, pretrained


def _is_path(name: str, pretrained: str) -> bool:
    """Whether ``pretrained`` (after ``name:``) is a file path rather than an open_clip tag."""
    if name == STUDIO_SETTING or os.sep in pretrained or "/" in pretrained or pretrained.endswith(_PATH_SUFFIXES):
        return True
    import open_clip

    return pretrained not in open_clip.list_pretrained_tags_by_model(name)


def freeze_clip_model(setting: str | None) -> str:
    """The setting a new run records: :func:`resolve_clip_model`, with a checkpoint path made absolute (the
    worker, ``eval`` and ``record`` run from other folders) and checked to exist, so a run never starts with a
    model it cannot load from a missing file.

    Raises:
        ValueError: a bad setting, or a path that is not a file.
    """
    chosen, name, pretrained = resolve_clip_model_parts(setting)
    if pretrained is None or not _is_path(name, pretrained):
        return chosen
    path = os.path.abspath(os.path.expanduser(pretrained))
    if not os.path.isfile(path):
        raise ValueError(f"CLIP model {chosen!r}: the checkpoint {path} is not a file; check the path (relative "
                         f"paths are read from {os.getcwd()})")
    return f"{name}:{path}"


def resolve_clip_model_parts(setting: str | None) -> tuple[str, str, str | None]:
    """``(setting used, model name, pretrained)``: ``setting``, else ``$STUDIO_CLIP_MODEL``, else ``"studio"``,
    parsed once by :func:`parse_clip_model` (its errors say where an environment value came from)."""
    chosen = setting if setting not in (None, "") else (os.environ.get(CLIP_MODEL_ENV, "").strip() or STUDIO_SETTING)
    try:
        name, pretrained = parse_clip_model(chosen)
    except ValueError as err:
        where = f" (from ${CLIP_MODEL_ENV})" if setting in (None, "") else ""
        raise ValueError(f"{err}{where}") from None
    return chosen, name, pretrained


def resolve_clip_model(setting: str | None) -> str:
    """The setting a run uses: ``setting``, else ``$STUDIO_CLIP_MODEL``, else ``"studio"`` (checked)."""
    return resolve_clip_model_parts(setting)[0]


__all__ = ["CLIP_MODEL_ENV", "CLIP_MODEL_HELP", "STUDIO_SETTING", "freeze_clip_model", "parse_clip_model",
           "resolve_clip_model", "resolve_clip_model_parts"]
