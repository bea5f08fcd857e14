"""Load an open_clip model offline and embed batches of frames and prompts.

``ClipEmbedder("studio-clip-tiny", pretrained="assets/clip/studio-clip-tiny.pt")`` loads any open_clip model
through ``open_clip.create_model_and_transforms(name, pretrained=...)``; ``pretrained`` is ``None`` (random
weights), a local checkpoint file, or an open_clip tag (``"laion2b_s34b_b79k"``) whose weights must already
be in the local cache. Nothing here downloads: a tag that is not cached fails at once with a message saying
which file to put where.

Preprocessing is the model's own (its preprocess config: size, mean, std, bicubic resize of the shorter side
and a centre crop), but done on whole batches of tensors instead of one PIL image at a time; it agrees with
open_clip's PIL transform to within about one grey level (tests/test_embedder.py measures it).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import open_clip
import torch
import torch.nn.functional as F

from agents.vlm.model_configs import register

_HF_WEIGHTS = "open_clip_pytorch_model.bin"
STUDIO_CHECKPOINT = Path(__file__).resolve().parents[2] / "assets" / "studio_clip.pt"  # train_domain_clip's output


# ---------------------------------------------------------------------------------------------- offline loading
@contextlib.contextmanager
def _hf_offline() -> Iterator[None]:
    """Force huggingface_hub offline for one call (it reads HF_HUB_OFFLINE at import, so patch the constant too)."""
    saved_env = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        from huggingface_hub import constants
    except ImportError:  # no hub package: open_clip falls back to URLs, which we pre-check ourselves
        constants = None
    saved_const = getattr(constants, "HF_HUB_OFFLINE", None)
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        if constants is not None:
            constants.HF_HUB_OFFLINE = saved_const
        if saved_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved_env


def _hf_candidates(filename: str) -> list[str]:
    """The file names open_clip tries for a hub entry, safetensors first (mirrors ``download_pretrained_from_hf``)."""
    names = []
    if filename == _HF_WEIGHTS:
        names.append("open_clip_model.safetensors")
    elif filename.endswith((".bin", ".pth")):
        names.append(filename[:-4] + ".safetensors")
    return names + [filename]


def _check_tag_cached(model_name: str, tag: str, cfg: dict, cache_dir: str | None) -> None:
    """Raise ``FileNotFoundError`` saying where to put the weights when ``tag`` is not in the local cache."""
    if cfg.get("file"):
        if not os.path.isfile(cfg["file"]):
            raise FileNotFoundError(f"open_clip config for {model_name}/{tag} points to {cfg['file']}, which does "
                                    f"not exist; put the checkpoint there or pass pretrained='/path/to/file'")
        return
    hub = cfg.get("hf_hub", "")
    try:
        from huggingface_hub import constants, try_to_load_from_cache
    except ImportError:
        hub = ""
    if hub:
        repo_id, filename = os.path.split(hub.rstrip("/") + ("/" + _HF_WEIGHTS if hub.endswith("/") else ""))
        for name in _hf_candidates(filename):
            if isinstance(try_to_load_from_cache(repo_id, name, cache_dir=cache_dir), str):
                return
        root = Path(cache_dir or constants.HF_HUB_CACHE)
        folder = root / f"models--{repo_id.replace('/', '--')}"
        raise FileNotFoundError(
            f"the weights for open_clip model {model_name!r}, tag {tag!r}, are not on this machine and nothing is "
            f"downloaded here. Either (a) fetch https://huggingface.co/{repo_id}/resolve/main/{filename} on a "
            f"connected machine and pass pretrained='/path/to/{filename}', or (b) copy a Hugging Face cache that "
            f"holds it (`huggingface-cli download {repo_id} {filename} --cache-dir <dir>`) so that "
            f"{folder}/snapshots/<revision>/{filename} and {folder}/refs/main exist (cache_dir={str(root)!r}).")
    url = cfg.get("url", "")
    if url:
        target = Path(cache_dir or os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
        if not target.is_file():
            raise FileNotFoundError(
                f"the weights for open_clip model {model_name!r}, tag {tag!r}, are not on this machine and nothing "
                f"is downloaded here. Fetch {url} on a connected machine and put it at {target}, or pass "
                f"pretrained='/path/to/{target.name}'.")


def _resolve_pretrained(model_name: str, pretrained: str | os.PathLike | None,
                        cache_dir: str | None) -> tuple[str | None, bool]:
    """Return ``(pretrained, is_file)`` for open_clip, raising a clear error for anything that cannot load offline."""
    if pretrained is None or str(pretrained) == "":
        return None, False
    pretrained = str(pretrained)
    cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    if cfg:
        _check_tag_cached(model_name, pretrained, cfg, cache_dir)
        return pretrained, False
    path = Path(pretrained).expanduser()
    if path.is_dir():
        raise FileNotFoundError(f"pretrained={pretrained!r} is a folder; pass the checkpoint file inside it, e.g. "
                                f"pretrained='{path / _HF_WEIGHTS}'")
    if path.is_file():
        return str(path), True
    looks_like_path = os.sep in pretrained or path.suffix in (".pt", ".pth", ".bin", ".safetensors", ".npz")
    if looks_like_path:
        raise FileNotFoundError(f"checkpoint file {pretrained!r} does not exist; check the path (relative paths are "
                                f"resolved from {os.getcwd()})")
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    raise ValueError(f"pretrained={pretrained!r} is neither a known tag of open_clip model {model_name!r} "
                     f"(tags: {tags or 'none'}) nor an existing checkpoint file; pass one of those tags, a path to a "
                     f"checkpoint, or None for random weights")


def check_model_name(model_name: str) -> None:
    """Raise ``ValueError`` naming close valid names when open_clip has no model ``model_name`` (the studio's
    own architectures included)."""
    register()
    if ":" in model_name:  # hf-hub:/local-dir: schemas are resolved by open_clip itself
        return
    names = open_clip.list_models()
    if model_name not in names:
        close = [n for n in names if model_name.lower()[:4] in n.lower()][:8] or names[:8]
        raise ValueError(f"unknown open_clip model {model_name!r}; valid names include {close} "
                         f"(all: open_clip.list_models()), and the studio's own 'studio-clip-tiny'")


def _short(exc: BaseException, limit: int = 400) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())  # torch's messages span lines
    return text if len(text) <= limit else text[:limit] + " ..."


def load_clip(model_name: str, pretrained: str | os.PathLike | None = None, device: str | torch.device = "cpu",
              cache_dir: str | None = None):
    """``open_clip.create_model_and_transforms`` offline, with errors that say how to fix the problem.

    Returns:
        ``(model, preprocess)``: the model in eval mode on ``device`` and open_clip's PIL validation transform.

    Raises:
        ValueError: unknown model name or pretrained value.
        FileNotFoundError: a tag whose weights are not cached, or a checkpoint path that does not exist.
        RuntimeError: a checkpoint that cannot be read or does not fit the model.
    """
    register()
    check_model_name(model_name)
    resolved, is_file = _resolve_pretrained(model_name, pretrained, cache_dir)
    try:
        with _hf_offline():
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=resolved, device=device, cache_dir=cache_dir)
    except (ValueError, FileNotFoundError):
        raise
    except Exception as exc:
        if is_file:
            raise RuntimeError(f"could not load checkpoint {resolved!r} into open_clip model {model_name!r} "
                               f"({_short(exc)}). The file must be a state_dict of this architecture, e.g. "
                               f"torch.save(model.state_dict(), path) for a model created as {model_name!r}; "
                               f"check the model name and that the file is complete.") from exc
        if resolved is not None:
            raise RuntimeError(f"open_clip could not load {model_name!r} with tag {resolved!r} from the local "
                               f"cache ({_short(exc)}); re-copy the weights or pass "
                               f"pretrained='/path/to/file'") from exc
        raise
    model.eval()
    return model, preprocess


# ---------------------------------------------------------------------------------------------- embedder
class ClipEmbedder:
    """An open_clip model that turns uint8 frames and prompt strings into L2-normalised embeddings.

    Args:
        model_name: an open_clip model name (``open_clip.list_models()``) or ``"studio-clip-tiny"``.
        pretrained: ``None`` for random weights, a local checkpoint file, or an open_clip tag already in the
            local cache (see module docstring).
        device: ``"auto"`` (CUDA when available, else CPU), or any torch device string.
        cache_dir: open_clip / Hugging Face cache folder to look up tags in (default: the usual caches).
        batch_size: images per forward pass inside :meth:`embed_images`.

    On CUDA, encoding runs under bf16 autocast; on CPU it runs in float32 and changes no global torch setting.
    Text embeddings are cached per prompt string, so re-scoring with edited prompts only encodes new ones.

    Attributes:
        model: the open_clip model (eval mode).
        preprocess: open_clip's own PIL transform for one image (the reference for :meth:`preprocess_batch`).
        tokenizer: open_clip's tokenizer for the model.
    """

    def __init__(self, model_name: str, pretrained: str | os.PathLike | None = None, device: str = "auto",
                 cache_dir: str | None = None, batch_size: int = 256):
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if int(batch_size) < 1:
            raise ValueError(f"batch_size={batch_size!r} must be at least 1")
        self.model_name = model_name
        self.pretrained = None if pretrained is None else str(pretrained)
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.model, self.preprocess = load_clip(model_name, pretrained, self.device, cache_dir)
        self.tokenizer = open_clip.get_tokenizer(model_name, cache_dir=cache_dir)
        cfg = open_clip.get_model_preprocess_cfg(self.model)
        size = cfg.get("size", 224)
        self._size = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        self._resize_mode = cfg.get("resize_mode", "shortest")
        self._interpolation = "bilinear" if cfg.get("interpolation") == "bilinear" else "bicubic"
        self._mean = torch.tensor(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN), device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(cfg.get("std", open_clip.OPENAI_DATASET_STD), device=self.device).view(1, 3, 1, 1)
        # (x / 255 - mean) / std as one multiply and one subtract, in place: 10x cheaper on the CPU than three
        # passes that each allocate (equal to within 1e-6).
        self._scale, self._shift = 1.0 / (255.0 * self._std), self._mean / self._std
        self._text_cache: dict[str, np.ndarray] = {}
        self._embed_dim: int | None = getattr(self.model.visual, "output_dim", None)

    # ------------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        """The open_clip model name."""
        return self.model_name

    @property
    def image_size(self) -> tuple[int, int]:
        """The model's input size ``(height, width)`` in pixels."""
        return self._size

    @property
    def embed_dim(self) -> int:
        """Dimension ``D`` of the joint embedding space."""
        if self._embed_dim is None:
            self._embed_dim = int(self.embed_texts(["a photo"]).shape[1])
        return int(self._embed_dim)

    @property
    def logit_scale(self) -> float:
        """The model's temperature as a multiplier, ``exp(model.logit_scale)`` (100 for OpenAI CLIP)."""
        return float(self.model.logit_scale.detach().float().exp().item())

    def __repr__(self) -> str:
        return (f"ClipEmbedder({self.model_name!r}, pretrained={self.pretrained!r}, device='{self.device}', "
                f"embed_dim={self.embed_dim}, image_size={self.image_size})")

    # ------------------------------------------------------------------ encoding
    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def preprocess_batch(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """``(N, H, W, 3)`` uint8 frames -> ``(N, 3, S, S)`` float32 model input on the embedder's device.

        Same steps as open_clip's PIL transform, batched: resize (shorter side to the model's size, bicubic
        with antialiasing; or squash for ``resize_mode="squash"``), centre crop, scale to [0, 1], normalise.
        Other resize modes (``"longest"``, non-square ``"shortest"``) fall back to the PIL transform per image.
        """
        x = torch.as_tensor(frames)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"frames have shape {tuple(x.shape)}; expected (N, H, W, 3) uint8 RGB images")
        if x.dtype != torch.uint8:
            raise ValueError(f"frames have dtype {x.dtype}; expected uint8 in [0, 255] (as render() returns)")
        if not self._batched():  # e.g. resize_mode="longest": correct but slow
            return self._pil_batch(x)
        # Transpose to channels-first while still uint8 (a quarter of float32's bytes), then one float copy that
        # the in-place steps below may overwrite: the caller's frames are never touched.
        x = x.to(self.device, non_blocking=True).permute(0, 3, 1, 2).contiguous().float()
        x = self._resize_crop(x)
        return x.mul_(self._scale).sub_(self._shift)

    def _batched(self) -> bool:
        """Whether :meth:`_resize_crop` reproduces the model's transform (else fall back to PIL per image)."""
        th, tw = self._size
        return self._resize_mode == "squash" or (self._resize_mode == "shortest" and th == tw)

    def _resize_crop(self, x: torch.Tensor) -> torch.Tensor:
        th, tw = self._size
        h, w = x.shape[-2:]
        if (h, w) == (th, tw):
            return x
        if self._resize_mode == "squash":
            size = (th, tw)
        else:
            # torchvision.Resize(int): the shorter side becomes S, the longer int(S * long / short).
            size = (th, int(th * w / h)) if h <= w else (int(th * h / w), th)
        # PIL resamples width first, then height, rounding to uint8 after each pass; doing the same here keeps
        # the batch within one grey level of open_clip's PIL transform (a single 2-D pass differs by up to 20).
        if size[1] != w:
            x = F.interpolate(x, size=(h, size[1]), mode=self._interpolation, antialias=True, align_corners=False)
            x = x.clamp_(0.0, 255.0).round_()
        if size[0] != h:
            x = F.interpolate(x, size=size, mode=self._interpolation, antialias=True, align_corners=False)
            x = x.clamp_(0.0, 255.0).round_()
        h, w = x.shape[-2:]
        top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        return x[..., top:top + th, left:left + tw]

    def _pil_batch(self, frames: torch.Tensor) -> torch.Tensor:
        from PIL import Image

        images = [self.preprocess(Image.fromarray(f.cpu().numpy())) for f in frames]
        return torch.stack(images).to(self.device)

    def embed_images(self, frames: np.ndarray) -> np.ndarray:
        """Embed ``(N, H, W, 3)`` uint8 frames; returns ``(N, D)`` float32 L2-normalised rows.

        Runs in chunks of ``batch_size`` under ``torch.inference_mode()``.
        """
        frames = np.asarray(frames) if not isinstance(frames, torch.Tensor) else frames
        n = frames.shape[0] if frames.ndim == 4 else 1
        out = np.empty((n, self.embed_dim), dtype=np.float32)
        with torch.inference_mode(), self._autocast():
            for start in range(0, n, self.batch_size):
                chunk = frames[start:start + self.batch_size] if frames.ndim == 4 else frames
                feats = self.model.encode_image(self.preprocess_batch(chunk)).float()
                out[start:start + len(feats)] = F.normalize(feats, dim=-1).cpu().numpy()
        return out

    def embed_texts(self, prompts: Sequence[str]) -> np.ndarray:
        """Embed prompt strings; returns ``(K, D)`` float32 L2-normalised rows, cached per string."""
        if isinstance(prompts, str):
            prompts = [prompts]
        prompts = list(prompts)
        missing = list(dict.fromkeys(p for p in prompts if p not in self._text_cache))
        if missing:
            with torch.inference_mode(), self._autocast():
                tokens = self.tokenizer(missing).to(self.device)
                feats = F.normalize(self.model.encode_text(tokens).float(), dim=-1).cpu().numpy()
            for prompt, feat in zip(missing, feats):
                feat.flags.writeable = False  # shared through the cache: callers must not edit it in place
                self._text_cache[prompt] = feat
        if not prompts:
            return np.empty((0, self.embed_dim), dtype=np.float32)
        return np.stack([self._text_cache[p] for p in prompts])


def studio_embedder(checkpoint: str | os.PathLike, device: str = "auto") -> ClipEmbedder:
    """A studio CLIP checkpoint, loaded as the architecture its sidecar names
    (:func:`~agents.vlm.model_configs.checkpoint_model`)."""
    from agents.vlm.model_configs import checkpoint_model

    return ClipEmbedder(checkpoint_model(checkpoint), pretrained=checkpoint, device=device)


def default_embedder(device: str = "auto") -> ClipEmbedder:
    """The studio CLIP: the shipped checkpoint :data:`STUDIO_CHECKPOINT`, loaded as the architecture its
    sidecar names (:func:`~agents.vlm.model_configs.checkpoint_model`).

    Without the checkpoint (not trained yet) the weights are random: fine for plumbing and speed, useless as
    a reward; a warning says how to make it.
    """
    from agents.vlm.model_configs import STUDIO_CLIP

    if not STUDIO_CHECKPOINT.is_file():
        warnings.warn(f"{STUDIO_CHECKPOINT} is missing, so the studio CLIP has random weights; train it with "
                      f"`python -m agents.vlm.train_domain_clip` (writes that file)", stacklevel=2)
        return ClipEmbedder(STUDIO_CLIP, pretrained=None, device=device)
    return studio_embedder(STUDIO_CHECKPOINT, device)


def embedder_for(setting: str | None = None, device: str = "auto") -> ClipEmbedder:
    """The embedder a CLIP model setting names (:mod:`agents.vlm.clip_setting`; ``None``: ``$STUDIO_CLIP_MODEL``
    or the studio CLIP): the studio CLIP, a studio checkpoint loaded as the architecture its sidecar names, or
    an open_clip model with its weights, all loaded offline."""
    from agents.vlm.clip_setting import STUDIO_SETTING, resolve_clip_model_parts

    _, name, pretrained = resolve_clip_model_parts(setting)
    if name == STUDIO_SETTING:
        return default_embedder(device) if pretrained is None else studio_embedder(pretrained, device)
    return ClipEmbedder(name, pretrained=pretrained, device=device)


__all__ = ["STUDIO_CHECKPOINT", "ClipEmbedder", "check_model_name", "default_embedder", "embedder_for",
           "load_clip", "studio_embedder"]
