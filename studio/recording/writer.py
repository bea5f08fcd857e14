"""Write finished episodes into a Minari dataset, one episode at a time, so a crash loses only what was playing.

:class:`RecordingWriter` creates the dataset with ``minari.create_dataset_from_buffers`` (arrow format) when
the first episode finishes and appends each later one with Minari's storage (``update_episodes``). Around
Minari's own writes it keeps what a repair needs (see :mod:`studio.recording.health`):

1. the episode's video is streamed to a temporary file while it plays (:class:`VideoStream`);
2. Minari's ``metadata.json`` is copied to ``studio/metadata.backup.json`` (atomically) before an append,
   because Minari rewrites it in place and a kill during that write would leave it unreadable;
3. Minari writes the episode folder, then its metadata;
4. the video is renamed to ``studio/videos/ep-<id>.mp4``;
5. a line is appended to ``studio/index.jsonl`` (flushed and fsynced).

An ``OSError`` (disk full, folder not writable) turns the writer off with :attr:`error` set and calls
``on_error`` once: training goes on, what was written stays readable, and the UI shows the message.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from studio.recording.episodes import EpisodeRecord
from studio.recording.layout import RecordingPaths, minari_root

DATA_FORMAT = "arrow"


class RecordingError(RuntimeError):
    """Recording cannot go on (the message says why and what to do)."""


class VideoStream:
    """Frames to an H.264 MP4 as they come (imageio-ffmpeg encodes in its own process, beside training)."""

    def __init__(self, path: Path, size: tuple[int, int], fps: int):
        import imageio_ffmpeg

        self.path = path
        self._gen = imageio_ffmpeg.write_frames(str(path), size, fps=int(fps), codec="libx264", quality=6,
                                                pix_fmt_out="yuv420p", macro_block_size=8, ffmpeg_log_level="error")
        self._gen.send(None)
        self.frames = 0

    def send(self, frame: np.ndarray) -> None:
        self._gen.send(np.ascontiguousarray(frame))
        self.frames += 1

    def close(self) -> Path | None:
        """Finish the file; ``None`` when no frame was sent (the file is removed)."""
        self._gen.close()
        if self.frames == 0:
            self.path.unlink(missing_ok=True)
            return None
        return self.path


class RecordingWriter:
    """Appends finished episodes to one Minari dataset (see module docstring).

    Args:
        paths: where the dataset goes (its folder must not exist yet).
        env_spec: the world's ``EnvSpec`` (so ``dataset.recover_environment()`` works).
        observation_space, action_space: the spaces of what is recorded.
        metadata: studio facts stored in Minari's metadata under ``studio`` (run, world, task, reward specs).
        description: Minari's free-text description.
        on_error: called once with the message when recording stops on an ``OSError``.
    """

    def __init__(self, paths: RecordingPaths, env_spec: Any, observation_space: gym.Space, action_space: gym.Space,
                 metadata: dict[str, Any] | None = None, description: str = "",
                 algorithm_name: str | None = None, on_error: Callable[[str], None] | None = None):
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
        try:
            self._create()
        except OSError as exc:
            self._fail(exc, "create the recording")

    @property
    def enabled(self) -> bool:
        return self.error is None and not self.closed

    # ------------------------------------------------------------------ videos
    def video_stream(self, env_index: int, size: tuple[int, int], fps: int) -> VideoStream | None:
        """A temporary MP4 for the episode env ``env_index`` is playing (``None`` once recording is off)."""
        if not self.enabled:
            return None
        try:
            return VideoStream(self.paths.videos / f".playing-env{env_index}-{os.getpid()}.mp4", size, fps)
        except OSError as exc:
            self._fail(exc, "start a video")
            return None

    # ------------------------------------------------------------------ episodes
    def write(self, episode: EpisodeRecord) -> int | None:
        """Append one finished episode; returns its id, or ``None`` when recording is off."""
        if not self.enabled or episode.steps == 0:
            _discard(episode.video)
            return None
        start = time.perf_counter()
        try:
            episode_id = self._append(episode)
            video = self._place_video(episode, episode_id)
            self._index(episode, episode_id, video)
        except OSError as exc:
            _discard(episode.video)
            self._fail(exc, f"write episode {self.episodes}")
            return None
        self.episodes += 1
        self.steps += episode.steps
        self.write_seconds += time.perf_counter() - start
        return episode_id

    def set_metadata(self, **studio: Any) -> None:
        """Update the studio metadata (e.g. the reward-spec history after an edit); stored with the next write."""
        self.metadata.update(studio)
        if self.dataset is not None and self.enabled and not self.closed:
            try:
                self._store_metadata()
            except OSError as exc:
                self._fail(exc, "update the metadata")

    def close(self) -> None:
        """Accept no more episodes (nothing is buffered: every finished episode is already on disk)."""
        self.closed = True

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
                self.paths.dataset_id, [], env=self.env_spec, eval_env=self.env_spec, observation_space=self.observation_space,
                action_space=self.action_space, algorithm_name=self.algorithm_name, author="Reward Studio",
                description=self.description, data_format=DATA_FORMAT)
        self.paths.videos.mkdir(parents=True, exist_ok=True)
        self._store_metadata()

    def _append(self, episode: EpisodeRecord) -> int:
        _copy_atomic(self.paths.metadata, self.paths.backup)
        self.dataset.storage.update_episodes([self._buffer(episode)])
        return int(self.dataset.storage.total_episodes) - 1

    def _store_metadata(self) -> None:
        _copy_atomic(self.paths.metadata, self.paths.backup)
        self.dataset.storage.update_metadata({"studio": json.loads(json.dumps(self.metadata, default=str))})
        _copy_atomic(self.paths.metadata, self.paths.backup)

    def _place_video(self, episode: EpisodeRecord, episode_id: int) -> str | None:
        if episode.video is None:
            return None
        final = self.paths.video(episode_id)
        os.replace(episode.video, final)
        return final.name

    def _index(self, episode: EpisodeRecord, episode_id: int, video: str | None) -> None:
        line = json.dumps({"episode": episode_id, **episode.summary(), "video": video, "t": round(time.time(), 3)})
        with open(self.paths.index, "a") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

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


def _discard(video: Any) -> None:
    if video is not None:
        Path(video).unlink(missing_ok=True)


__all__ = ["DATA_FORMAT", "RecordingError", "RecordingWriter", "VideoStream"]
