"""Where recordings live, what they are called, and how plain Minari finds them.

A run's recordings live inside its folder, in a Minari datasets root (the folder ``MINARI_DATASETS_PATH``
points at when you load one with plain Minari)::

    runs/<run id>/recordings/                 the Minari root of this run
        studio/<world>/train-v0/              what the agents played while training
        studio/<world>/eval-step-<n>-v0/      N evaluation episodes of checkpoint step-<n> (v1, v2 on re-runs)
            data/                             Minari's own files (arrow, one folder per episode)
            studio/index.jsonl                one line per episode: seed, return, success, spec versions, video
            studio/videos/ep-000012.mp4       viewer-camera videos (H.264, plays in browsers)
            studio/metadata.backup.json       Minari's metadata before the last append (for repair)

Dataset ids follow Minari's ``namespace/env_name/dataset_name-vN``: ``studio/push/train-v0``. In a notebook::

    import os, minari
    os.environ["MINARI_DATASETS_PATH"] = "runs/<run id>/recordings"
    dataset = minari.load_dataset("studio/push/train-v0")
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

NAMESPACE = "studio"
TRAIN = "train"


def world_slug(world_id: str) -> str:
    """``studio/PickPlace-v0`` -> ``pickplace``: the env-name part of a dataset id."""
    name = world_id.split("/")[-1]
    name = re.sub(r"-v\d+$", "", name)
    return re.sub(r"[^a-z0-9]+", "", name.lower()) or "world"


def dataset_id(world_id: str, name: str, version: int = 0) -> str:
    """``studio/<world>/<name>-v<version>``; ``name`` is ``train`` or ``eval-step-<n>``."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise ValueError(f"recording name {name!r} must be lower-case letters, digits and '-', e.g. 'train'")
    return f"{NAMESPACE}/{world_slug(world_id)}/{name}-v{int(version)}"


@dataclass(frozen=True)
class RecordingPaths:
    """The files of one recording (one Minari dataset) under a Minari root."""

    root: Path          # the Minari datasets root (``runs/<id>/recordings``)
    dataset_id: str

    @property
    def folder(self) -> Path:
        return self.root / self.dataset_id

    data = property(lambda self: self.folder / "data")
    metadata = property(lambda self: self.folder / "data" / "metadata.json")
    studio = property(lambda self: self.folder / "studio")
    index = property(lambda self: self.folder / "studio" / "index.jsonl")
    videos = property(lambda self: self.folder / "studio" / "videos")
    backup = property(lambda self: self.folder / "studio" / "metadata.backup.json")

    def video(self, episode: int) -> Path:
        return self.videos / f"ep-{int(episode):06d}.mp4"

    @property
    def name(self) -> str:
        """``train-v0`` or ``eval-step-000020000-v1``."""
        return self.dataset_id.rsplit("/", 1)[-1]

    @classmethod
    def from_folder(cls, folder: str | os.PathLike) -> "RecordingPaths":
        """The recording whose dataset folder (the one holding ``data/``) is ``folder``."""
        folder = Path(folder).resolve()
        if folder.name == "data":
            folder = folder.parent
        parts = folder.parts
        if len(parts) < 4 or parts[-3] != NAMESPACE:
            raise ValueError(f"{folder} is not a studio recording folder (expected .../{NAMESPACE}/<world>/<name>-vN)")
        return cls(Path(*parts[:-3]), "/".join(parts[-3:]))


def folder_size(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def next_version(root: Path, world_id: str, name: str) -> str:
    """The first free ``studio/<world>/<name>-vN`` under ``root``."""
    version = 0
    while (root / dataset_id(world_id, name, version)).exists():
        version += 1
    return dataset_id(world_id, name, version)


def find_recordings(root: str | os.PathLike) -> list[RecordingPaths]:
    """Every studio recording under a Minari root (``runs/<id>/recordings``), sorted by id."""
    root = Path(root)
    base = root / NAMESPACE
    if not base.is_dir():
        return []
    found = [RecordingPaths(root, f"{NAMESPACE}/{world.name}/{ds.name}")
             for world in base.iterdir() if world.is_dir()
             for ds in world.iterdir() if ds.is_dir() and (ds / "data").is_dir()]
    return sorted(found, key=lambda p: p.dataset_id)


def world_spec(world_id: str, world_kwargs: dict | None = None):
    """The registered ``EnvSpec`` of a studio world with its arguments, for Minari's ``recover_environment``."""
    import dataclasses

    import gymnasium as gym

    import worlds  # noqa: F401  (registers the studio worlds)

    spec = gym.spec(world_id)
    return dataclasses.replace(spec, kwargs={**spec.kwargs, **(world_kwargs or {})})


def run_metadata(run_id: str, kind: str, world_id: str, world_kwargs: dict, algo: str, specs: list[dict],
                 **extra) -> dict:
    """What a recording says about itself in Minari's metadata (under ``studio``): the run, the world and
    its task, the algorithm and the reward-spec history (every version that scored a recorded step)."""
    return {"run_id": run_id, "kind": kind, "world_id": world_id, "task": world_spec(world_id).kwargs.get("task"),
            "world_kwargs": dict(world_kwargs), "algo": algo, "reward_specs": list(specs), **extra}


@contextlib.contextmanager
def minari_root(root: Path) -> Iterator[None]:
    """Point ``MINARI_DATASETS_PATH`` at ``root`` for the duration (Minari reads it on every call)."""
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


__all__ = ["NAMESPACE", "TRAIN", "RecordingPaths", "dataset_id", "find_recordings", "folder_size", "minari_root",
           "next_version", "run_metadata", "world_slug", "world_spec"]
