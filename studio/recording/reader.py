"""Read recordings back: find them, list their episodes, load arrays, export a zip.

Everything here is a thin layer over Minari's own API (``MinariDataset``), adding the studio's episode index
and the health check; a notebook needs none of it (see ``examples/analyse_recording.py``).
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.recording.episodes import EPISODE_TAGS
from studio.recording.health import Health, check
from studio.recording.layout import RecordingPaths, find_recordings, folder_size
from studio.recording.writer import RecordingError


@dataclass
class RecordingInfo:
    """One recording of one run, as the Recordings page lists it."""

    run_id: str
    paths: RecordingPaths
    health: Health
    metadata: dict[str, Any]
    size_bytes: int

    @property
    def name(self) -> str:
        return self.paths.name

    @property
    def label(self) -> str:
        return f"{self.run_id} / {self.paths.dataset_id} ({self.health.episodes} episodes)"


def run_recordings_root(run_dir: str | os.PathLike) -> Path:
    """The Minari root inside a run folder."""
    return Path(run_dir) / "recordings"


def describe(paths: RecordingPaths, run_id: str = "", live: bool = False) -> RecordingInfo:
    health = check(paths, live=live)
    meta = {}
    try:
        meta = json.loads(paths.metadata.read_text()).get("studio", {}) or {}
    except (OSError, ValueError, AttributeError):
        pass
    return RecordingInfo(run_id, paths, health, meta, folder_size(paths.folder))


def list_recordings(runs_root: str | os.PathLike, live_runs: set[str] | frozenset = frozenset()) -> list[RecordingInfo]:
    """Every recording of every run under ``runs_root``, newest run first. Runs in ``live_runs`` are being
    written, so their pending state is not reported as damage."""
    out: list[RecordingInfo] = []
    root = Path(runs_root)
    if not root.is_dir():
        return out
    for run in sorted((p for p in root.iterdir() if (p / "recordings").is_dir()), reverse=True):
        for paths in find_recordings(run / "recordings"):
            out.append(describe(paths, run.name, live=run.name in live_runs))
    return out


def episode_index(paths: RecordingPaths) -> list[dict[str, Any]]:
    """The index entries (one per finished episode), skipping a cut-off last line."""
    rows = []
    if paths.index.is_file():
        for line in paths.index.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


def episodes_table(paths: RecordingPaths):
    """The index as a DataFrame: one row per episode (episode, steps, return, success, spec versions, env,
    seed, video, and each episode tag such as ``lesson`` that any episode has), with ``versions`` as text
    (``v0, v1``) for filtering."""
    import pandas as pd

    rows = episode_index(paths)
    tags = [t for t in EPISODE_TAGS if any(t in r for r in rows)]
    frame = pd.DataFrame(rows, columns=["episode", "steps", "return", "success", "terminated", "spec_versions",
                                        "env_index", "seed", "video", "term_returns", *tags])
    frame["versions"] = [", ".join(f"v{v}" for v in (vs or [])) for vs in frame["spec_versions"]]
    return frame


def episode_steps(paths: RecordingPaths, episode: int):
    """One episode's per-step reward terms, reward and ground-truth success, long-form for a chart: columns
    ``step``, ``series`` (a term name, ``reward``, or ``is_success`` for ground truth), ``value``."""
    import numpy as np
    import pandas as pd
    from minari import MinariDataset

    data = next(MinariDataset(paths.data).iterate_episodes([int(episode)]))
    n = len(data.rewards)
    columns = {k[len("reward_"):]: np.asarray(v[1:], dtype=float) for k, v in data.infos.items()
               if k.startswith("reward_")}
    columns["reward"] = np.asarray(data.rewards, dtype=float)
    columns["is_success"] = np.asarray(data.infos["is_success"][1:], dtype=float)   # a term may be "success"
    frame = pd.DataFrame({"step": np.arange(1, n + 1), **columns})
    return frame.melt(id_vars=["step"], var_name="series", value_name="value")


def load(paths: RecordingPaths, live: bool = False):
    """The recording as a ``minari.MinariDataset``; a damaged one is refused with what to do.

    Raises:
        RecordingError: the recording needs repair (or cannot be repaired); the message says how.
    """
    from minari import MinariDataset

    health = check(paths, live=live)
    if not health.ok and not (live and health.repairable):
        raise RecordingError(health.message)
    return MinariDataset(paths.data)


def export_zip(paths: RecordingPaths, destination: str | os.PathLike) -> Path:
    """A zip of the dataset (Minari's files), the videos and the index, laid out as a Minari root, so
    unzipping it somewhere and pointing ``MINARI_DATASETS_PATH`` there loads it."""
    health = check(paths)
    if not health.ok:
        raise RecordingError(health.message)
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(paths.folder.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                archive.write(path, path.relative_to(paths.root).as_posix())
        namespace_meta = paths.root / "studio" / "namespace_metadata.json"
        if namespace_meta.is_file():
            archive.write(namespace_meta, namespace_meta.relative_to(paths.root).as_posix())
    tmp.replace(destination)
    return destination


__all__ = ["RecordingInfo", "describe", "episode_index", "episode_steps", "episodes_table", "export_zip",
           "list_recordings", "load",
           "run_recordings_root"]
