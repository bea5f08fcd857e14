"""Write finished episodes into a Minari dataset, one episode at a time, so a crash loses only what was playing.

:class:`RecordingWriter` creates the dataset with ``minari.create_dataset_from_buffers`` (arrow format) when
the first episode finishes and appends each later one with Minari's storage (``update_episodes``). Around
Minari's own writes it keeps what a repair needs (see :mod:`studio.recording.health`):

1. Minari writes the episode folder (arrow file, then the episode's ``metadata.json``), then rewrites the
   dataset's ``metadata.json`` in place; a copy of that file, taken atomically at creation and after each
   change of the studio metadata, is ``studio/metadata.backup.json``: a kill during Minari's rewrite leaves
   the file unreadable, and a repair restores the backup and recounts the episodes from their folders;
2. the filmed frames (kept in memory while the episode played) are encoded to a temporary file, renamed
   ``studio/videos/ep-<id>.mp4`` when complete;
3. a line is appended to ``studio/index.jsonl``.

With ``background=True`` (what training uses) :meth:`submit` queues the episode and one writer thread does
the above, in order, beside training: Minari's arrow writes and the H.264 encoder then use the second CPU
core instead of stalling the learner. The price: a process killed outright (``kill -9``) also loses the
finished episodes still in the queue, normally none or one (the queue drains in milliseconds, and
:meth:`close`, called when a run stops or is interrupted, drains it completely).

An ``OSError`` (disk full, folder not writable) turns the writer off with :attr:`error` set and calls
``on_error`` once: training goes on, what was written stays readable, and the UI shows the message.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym

from studio.recording.episodes import EpisodeRecord
from studio.recording.layout import RecordingPaths, folder_size, minari_root
from studio.video import encode_mp4

DATA_FORMAT = "arrow"


class RecordingError(RuntimeError):
    """Recording cannot go on (the message says why and what to do)."""


class RecordingWriter:
    """Appends finished episodes to one Minari dataset (see module docstring).

    Args:
        paths: where the dataset goes (its folder must not exist yet).
        env_spec: the world's ``EnvSpec`` (so ``dataset.recover_environment()`` works).
        observation_space, action_space: the spaces of what is recorded.
        metadata: studio facts stored in Minari's metadata under ``studio`` (run, world, task, reward specs).
        description: Minari's free-text description.
        on_error: called once with the message when recording stops on an ``OSError``.
        background: write on a thread of its own (see module docstring); :meth:`close` drains it.
    """

    def __init__(self, paths: RecordingPaths, env_spec: Any, observation_space: gym.Space, action_space: gym.Space,
                 metadata: dict[str, Any] | None = None, description: str = "",
                 algorithm_name: str | None = None, on_error: Callable[[str], None] | None = None,
                 background: bool = False):
        if paths.folder.exists():
            raise RecordingError(f"a recording already exists at {paths.folder}; choose another name or version")
        self.paths = paths
        self.env_spec = env_spec
        self.observation_space, self.action_space = observation_space, action_space
        self.metadata = dict(metadata or {})
        self.description = description
        self.algorithm_name = algorithm_name
        self.on_error = on_error
        self.dataset = None
        self.episodes = 0
        self.steps = 0
        self.error: str | None = None
        self.closed = False
        self.write_seconds = 0.0
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        try:
            self._create()
        except OSError as exc:
            self._fail(exc, "create the recording")
        if background and self.enabled:
            self._queue = queue.Queue(maxsize=256)     # full: training waits for the disk (back-pressure)
            self._thread = threading.Thread(target=self._drain, name="recording-writer", daemon=True)
            self._thread.start()

    @property
    def enabled(self) -> bool:
        return self.error is None and not self.closed

    # ------------------------------------------------------------------ episodes
    def submit(self, episode: EpisodeRecord) -> None:
        """Write ``episode`` now, or queue it for the writer thread (``background=True``)."""
        if not self.enabled:
            return
        if self._queue is None:
            self.write(episode)
        else:
            self._queue.put(("episode", episode))

    def write(self, episode: EpisodeRecord) -> int | None:
        """Append one finished episode now; returns its id, or ``None`` when recording is off."""
        if self.error is not None or episode.steps == 0:
            return None
        start = time.perf_counter()
        try:
            episode_id = self._append(episode)
            video = self._place_video(episode, episode_id)
            self._index(episode, episode_id, video)
        except Exception as exc:  # noqa: BLE001 (recording must never stop training)
            self._fail(exc, f"write episode {self.episodes}")
            return None
        self.episodes += 1
        self.steps += episode.steps
        self.write_seconds += time.perf_counter() - start
        return episode_id

    def set_metadata(self, **studio: Any) -> None:
        """Update the studio metadata (e.g. the reward-spec history after an edit); stored with the next write."""
        self.metadata = {**self.metadata, **studio}
        if self.dataset is None or not self.enabled:
            return
        if self._queue is None:
            self._write_metadata()
        else:
            self._queue.put(("metadata", None))

    def close(self) -> None:
        """Accept no more episodes; with a writer thread, wait until every queued episode is on disk."""
        if self.closed:
            return
        self.closed = True
        if self._thread is not None:
            self._queue.put(("stop", None))
            self._thread.join()

    def _drain(self) -> None:
        while True:
            kind, item = self._queue.get()
            if kind == "stop":
                return
            if kind == "episode":
                self.write(item)
            elif self.error is None:
                self._write_metadata()

    def _write_metadata(self) -> None:
        try:
            self._store_metadata()
        except OSError as exc:
            self._fail(exc, "update the metadata")

    # ------------------------------------------------------------------ internals
    def _buffer(self, episode: EpisodeRecord):
        from minari.data_collector.episode_buffer import EpisodeBuffer

        return EpisodeBuffer(id=None, seed=episode.seed, observations=episode.observations, actions=episode.actions,
                             rewards=episode.rewards, terminations=episode.terminations,
                             truncations=episode.truncations,
                             # lists, not arrays: Minari 0.5 stores a 1-D array's shape as "" and then cannot
                             # read it back (arrow_storage._decode_info); lists of scalars round-trip exactly
                             infos={k: v.tolist() for k, v in episode.infos.items()})

    def _create(self) -> None:
        """Create the dataset with no episodes yet: the name is claimed and Minari's metadata exists from the
        start, so even a run killed during its first episode leaves a loadable (empty) dataset."""
        import minari

        with minari_root(self.paths.root), warnings.catch_warnings():
            # Minari advises a code permalink and an author email; a local recording has neither
            warnings.simplefilter("ignore", UserWarning)
            self.dataset = minari.create_dataset_from_buffers(
                self.paths.dataset_id, [], env=self.env_spec, eval_env=self.env_spec,
                observation_space=self.observation_space,
                action_space=self.action_space, algorithm_name=self.algorithm_name, author="Reward Studio",
                description=self.description, data_format=DATA_FORMAT)
        self.paths.videos.mkdir(parents=True, exist_ok=True)
        # Minari re-measures the whole dataset folder (a walk over every episode's files) twice per append,
        # which grows with the recording; the writer keeps the size itself and Minari asks it instead.
        storage = self.dataset.storage
        self._size = storage.get_size()
        storage.get_size = lambda: self._size
        self._store_metadata()

    def _append(self, episode: EpisodeRecord) -> int:
        storage = self.dataset.storage
        episode_id = int(storage.total_episodes)
        storage.update_episodes([self._buffer(episode)])
        self._size += folder_size(self.paths.data / str(episode_id))
        return episode_id

    def _store_metadata(self) -> None:
        """Write the studio metadata, then back up Minari's metadata file. Only the episode and step counts
        change on later appends, and a repair recounts those from the episode folders, so a backup taken
        here (at creation and after each reward edit) is all a repair needs."""
        self.dataset.storage.update_metadata({"studio": json.loads(json.dumps(self.metadata, default=str))})
        _copy_atomic(self.paths.metadata, self.paths.backup)

    def _place_video(self, episode: EpisodeRecord, episode_id: int) -> str | None:
        if not episode.frames:
            return None
        final = self.paths.video(episode_id)
        tmp = final.with_name(f".{final.stem}.encoding.mp4")
        tmp.write_bytes(encode_mp4(episode.frames, fps=episode.fps))
        os.replace(tmp, final)
        return final.name

    def _index(self, episode: EpisodeRecord, episode_id: int, video: str | None) -> None:
        line = json.dumps({"episode": episode_id, **episode.summary(), "video": video, "t": round(time.time(), 3)})
        # flushed, not fsynced: a killed process loses nothing the OS has; like Minari's own files, a power
        # cut may lose the last writes (repair rebuilds index lines from the data)
        with open(self.paths.index, "a") as handle:
            handle.write(line + "\n")

    def _fail(self, exc: BaseException, doing: str) -> None:
        if self.error is not None:
            return
        where = self.paths.folder
        if isinstance(exc, OSError):
            reason = "the disk is full" if exc.errno == 28 else f"{type(exc).__name__}: {exc}"
            fix = "Free some space or choose a writable runs folder (STUDIO_RUNS_DIR), then record again."
        else:
            reason = f"{type(exc).__name__}: {exc}"
            fix = "This is a bug in the recorder; please report it with the run's worker.log."
        self.error = (f"recording stopped: could not {doing} in {where} ({reason}). Training goes on without "
                      f"recording; the {self.episodes} episodes written so far stay readable. {fix}")
        if self.on_error is not None:
            self.on_error(self.error)


def _copy_atomic(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


__all__ = ["DATA_FORMAT", "RecordingError", "RecordingWriter"]
