"""Detect a half-written recording and repair it, or refuse it with a message that says what to do.

What a kill can leave behind, given the writer's order of writes (:mod:`studio.recording.writer`):

=====================================  ==================================================================
left behind                            repair
=====================================  ==================================================================
``data/metadata.json`` unreadable      restore ``studio/metadata.backup.json`` (its fixed fields) and
                                       recount episodes and steps from the episode folders
episode folder past ``total_episodes``  complete (its ``metadata.json`` exists, written after its arrow
                                       file): adopt it into the dataset; incomplete: delete it
index lines missing or cut off         rebuild them from the episode data
``.ep-*.encoding.mp4`` files            delete them (a video whose encoding was cut short)
=====================================  ==================================================================

A recording whose metadata and backup are both unreadable, or whose counted episodes are missing, cannot be
repaired safely: :func:`check` says so and :func:`load` refuses it, naming the folder and what to do.
A recording being written right now looks like one with a pending episode folder: pass ``live=True`` to
accept that state instead of calling it damaged.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.recording.episodes import episode_tags
from studio.recording.layout import RecordingPaths


@dataclass
class Health:
    """The state of one recording on disk."""

    paths: RecordingPaths
    episodes: int = 0                 # finished episodes Minari counts
    steps: int = 0
    problems: list[str] = field(default_factory=list)   # each a sentence; empty when healthy
    repairable: bool = True
    fixes: list[str] = field(default_factory=list)      # what repair did (after :func:`repair`)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def message(self) -> str:
        """One paragraph for people: what is wrong and what to do."""
        if self.ok:
            return f"{self.paths.dataset_id}: {self.episodes} episodes, {self.steps} steps, healthy."
        what = " ".join(self.problems)
        if self.repairable:
            return (f"{self.paths.dataset_id} was not closed cleanly: {what} Repair it with `python -m studio "
                    f"recordings repair {self.paths.folder}` (or the Repair button); no finished episode is lost.")
        return (f"{self.paths.dataset_id} is damaged beyond safe repair: {what} The episode folders under "
                f"{self.paths.data} are untouched; copy them elsewhere before deleting the recording.")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _episode_dirs(data: Path) -> dict[int, Path]:
    return {int(p.name): p for p in data.iterdir() if p.is_dir() and p.name.isdigit()} if data.is_dir() else {}


def _complete(folder: Path) -> bool:
    meta = _read_json(folder / "metadata.json")
    return isinstance(meta, dict) and "total_steps" in meta and any(folder.glob("*.arrow"))


def _index_lines(paths: RecordingPaths) -> tuple[dict[int, dict], int]:
    """Index entries by episode id, and how many lines were unreadable."""
    entries, bad = {}, 0
    if not paths.index.is_file():
        return entries, 0
    for line in paths.index.read_text().splitlines():
        try:
            row = json.loads(line)
            entries[int(row["episode"])] = row
        except (ValueError, KeyError, TypeError):
            bad += 1
    return entries, bad


def check(paths: RecordingPaths, live: bool = False) -> Health:
    """Inspect a recording without changing it (see module docstring)."""
    health = Health(paths)
    meta = _read_json(paths.metadata)
    if not isinstance(meta, dict) or "total_episodes" not in meta:
        backup = _read_json(paths.backup)
        if isinstance(backup, dict) and "total_episodes" in backup:
            health.problems.append("Minari's metadata.json is unreadable (the writer was stopped while updating it); "
                                   "a backup exists.")
            meta = backup
        else:
            health.problems.append("Minari's metadata.json and its backup are both unreadable.")
            health.repairable = False
            return health
    total = int(meta["total_episodes"])
    health.episodes, health.steps = total, int(meta.get("total_steps", 0))
    dirs = _episode_dirs(paths.data)
    missing = [i for i in range(total) if i not in dirs or not _complete(dirs[i])]
    if missing:
        health.problems.append(f"episodes {missing[:5]} that the metadata counts are missing or incomplete.")
        health.repairable = False
    extra = sorted(i for i in dirs if i >= total)
    if extra and not live:
        health.problems.append(f"{len(extra)} episode folder(s) past the last counted episode (an append was cut "
                               f"short).")
    entries, bad = _index_lines(paths)
    absent = [i for i in range(total) if i not in entries]
    if (bad or absent) and not live:
        health.problems.append(f"the episode index lacks {len(absent)} episode(s)"
                               + (f" and has {bad} unreadable line(s)." if bad else "."))
    leftovers = list(paths.videos.glob(".*.mp4")) if paths.videos.is_dir() else []
    if leftovers and not live:
        health.problems.append(f"{len(leftovers)} video file(s) whose encoding was cut short.")
    return health


def repair(paths: RecordingPaths) -> Health:
    """Repair what :func:`check` finds repairable; returns the health afterwards (with ``fixes``)."""
    before = check(paths)
    if before.ok or not before.repairable:
        return before
    fixes: list[str] = []
    meta = _read_json(paths.metadata)
    if not isinstance(meta, dict) or "total_episodes" not in meta:
        shutil.copyfile(paths.backup, paths.metadata)
        meta = _read_json(paths.metadata)
        fixes.append("restored metadata.json from its backup")
    total, steps = int(meta["total_episodes"]), int(meta.get("total_steps", 0))
    dirs = _episode_dirs(paths.data)
    adopted = 0
    for i in sorted(k for k in dirs if k >= total):
        if i == total + adopted and _complete(dirs[i]):
            steps += int(_read_json(dirs[i] / "metadata.json")["total_steps"])
            adopted += 1
        else:
            shutil.rmtree(dirs[i])
            fixes.append(f"removed the half-written episode folder {i}")
    if adopted:
        _update_totals(paths, total + adopted, steps)
        fixes.append(f"adopted {adopted} finished episode(s) whose append was cut short")
        total += adopted
    fixes += _repair_index(paths, total)
    for leftover in (paths.videos.glob(".*.mp4") if paths.videos.is_dir() else []):
        leftover.unlink()
        fixes.append(f"removed {leftover.name}")
    after = check(paths)
    after.fixes = fixes
    return after


def _update_totals(paths: RecordingPaths, episodes: int, steps: int) -> None:
    from minari.dataset.minari_storage import MinariStorage

    storage = MinariStorage.read(paths.data)
    storage.update_metadata({"total_episodes": int(episodes), "total_steps": int(steps)})


def _repair_index(paths: RecordingPaths, total: int) -> list[str]:
    entries, bad = _index_lines(paths)
    absent = [i for i in range(total) if i not in entries]
    if not absent and not bad:
        return []
    from minari import MinariDataset

    dataset = MinariDataset(paths.data)
    for episode in dataset.iterate_episodes(absent):
        entries[int(episode.id)] = summarise(episode, paths)
    lines = [json.dumps(entries[i]) for i in sorted(entries) if i < total]
    tmp = paths.index.with_name(".index.jsonl.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(paths.index)
    return [f"rebuilt {len(absent)} index line(s)" + (f", dropped {bad} unreadable line(s)" if bad else "")]


def summarise(episode: Any, paths: RecordingPaths) -> dict[str, Any]:
    """An index entry computed from a Minari ``EpisodeData`` (used when the writer could not write it)."""
    infos = episode.infos
    versions = infos.get("spec_version", np.zeros(1, dtype=int))
    video = paths.video(int(episode.id))
    return {"episode": int(episode.id), "steps": int(len(episode.rewards)),
            "return": round(float(np.sum(episode.rewards)), 6),
            "success": bool(infos["is_success"][-1]) if "is_success" in infos else False,
            "terminated": bool(episode.terminations[-1]) if len(episode.terminations) else False,
            "spec_versions": sorted({int(v) for v in versions[1:]}) or [int(versions[0])],
            "term_returns": {k[len("reward_"):]: round(float(np.nansum(v)), 6) for k, v in infos.items()
                             if k.startswith("reward_")},
            "env_index": None, "seed": None, "video": video.name if video.is_file() else None, "rebuilt": True,
            **episode_tags(infos)}


__all__ = ["Health", "check", "repair", "summarise"]
