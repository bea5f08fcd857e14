"""Relay a run's latest frame and status to a folder a web server serves, while someone watches.

The worker replaces ``frames/latest.png`` several times a second and ``status.json`` twice a second. The
Studio page's live view is a small script in the browser that polls the relayed status several times a second
and fetches a frame only when the status names a new one; that costs a fraction of a Streamlit rerun per frame
(``bench/ui.py`` measured a rerun-per-frame view at a fifth of a CPU core on a busy two-core machine).
Streamlit's static folder does not follow symlinks out of it, so :class:`FrameRelay` copies the files there.

How the copies are named is what keeps the server quiet. Streamlit serves its static folder with Starlette's
``FileResponse``, which stats a path and opens it afterwards. A file replaced between the two is sent with the
old file's Content-Length, and the server logs a 50-line "Too little/much data for declared Content-Length"
traceback (a two-minute browser test of a training run logged twelve of them when the relay replaced
``<run>.png`` and ``<run>.json`` in place). So:

- every frame gets a name of its own, ``<run>.<token><n>.png``, written once (through a temporary file, so it is
  whole before it has a name) and never replaced; it is deleted ``keep_s`` seconds after a newer frame
  appeared, long after any fetch that learnt its name has finished (the page fetches a frame as soon as the
  status naming it arrives);
- the status, ``<run>.json``, is replaced in place (its URL is what the page knows), but padded with spaces to
  a multiple of ``pad`` bytes, so a replacement keeps its size and a response that straddles it is still
  consistent (it is whichever whole file the open found). It carries ``"frame"``: the newest frame's name.

The relay stops, deleting its copies, once nobody has called :meth:`FrameRelay.touch` for ``idle_s`` seconds,
and deletes them when the server exits (a server killed outright leaves them to :func:`prune`).
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from pathlib import Path


class FrameRelay:
    """Publishes ``frame`` and ``status`` in ``folder`` as ``<name>.<token><n>.png`` and ``<name>.json``, from the first
    :meth:`touch` until nobody has touched it for ``idle_s``.

    Args:
        frame: the PNG the worker replaces, e.g. the run's ``frames/latest.png``.
        status: the JSON object the worker replaces, e.g. the run's ``status.json``.
        folder: the served folder, e.g. ``static/live``.
        name: the stem of the published files (the run id).
        poll_s: how often to look at the sources' modification times.
        idle_s: stop (and delete the published files) this long after the last :meth:`touch`.
        keep_s: how long a frame stays published after a newer one replaced it in the status.
        pad: the status file's size is a multiple of this many bytes.
    """

    def __init__(self, frame: Path, status: Path, folder: Path, name: str, poll_s: float = 0.05,
                 idle_s: float = 15.0, keep_s: float = 3.0, pad: int = 4096):
        self.frame, self.status, self.folder, self.name = Path(frame), Path(status), Path(folder), name
        self.poll_s, self.idle_s, self.keep_s, self.pad = poll_s, idle_s, keep_s, pad
        self.copies = 0                   # frames published so far
        # Names differ from those of an earlier relay (a restarted server) whose files may still be served.
        self._token = os.urandom(3).hex()
        self._seen = 0.0
        self._mtimes: dict[Path, int] = {}
        self._frames: list[tuple[str, float]] = []     # (published name, when a newer one replaced it or 0)
        self._status: dict = {}           # the worker's status as last read (re-read only when it changes)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        atexit.register(self._remove_published)

    @property
    def status_path(self) -> Path:
        """The published status: the page polls this one URL."""
        return self.folder / f"{self.name}.json"

    @property
    def newest_frame(self) -> str | None:
        """The file name (in ``folder``) of the newest published frame."""
        return self._frames[-1][0] if self._frames else None

    def touch(self) -> None:
        """Someone is watching: keep relaying (start the thread if it is not running)."""
        with self._lock:
            self._seen = time.monotonic()
            if self._thread is None or not self._thread.is_alive():
                prune(self.folder)
                self.copy_changed()
                self._thread = threading.Thread(target=self._run, name="frame-relay", daemon=True)
                self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def copy_changed(self) -> bool:
        """Publish a new frame and/or status if a source changed since the last look; returns whether one did."""
        frame_changed = self._changed(self.frame)
        status_changed = self._changed(self.status)
        if frame_changed:
            try:
                data = self.frame.read_bytes()
            except OSError:
                frame_changed = False
            else:
                self._publish_frame(data)
        if not (frame_changed or status_changed):
            return False
        if status_changed:
            try:
                self._status = json.loads(self.status.read_text())
            except (OSError, ValueError):    # not written yet: the frame alone is news enough
                self._status = {}
        self._write_status({**self._status, "frame": self.newest_frame})
        return True

    def _changed(self, source: Path) -> bool:
        try:
            mtime = os.stat(source).st_mtime_ns
        except OSError:
            return False
        if mtime == self._mtimes.get(source):
            return False
        self._mtimes[source] = mtime
        return True

    def _publish_frame(self, data: bytes) -> None:
        self.copies += 1
        name = f"{self.name}.{self._token}{self.copies}.png"
        _write_atomically(self.folder / name, data)
        now = time.monotonic()
        self._frames = [(old, since or now) for old, since in self._frames] + [(name, 0.0)]

    def _write_status(self, status: dict) -> None:
        data = json.dumps(status).encode()
        size = -(-(len(data) + 1) // self.pad) * self.pad        # at least one space, so the size is a multiple
        _write_atomically(self.status_path, data + b" " * (size - len(data)))

    def _forget_old_frames(self) -> None:
        now, kept = time.monotonic(), []
        for name, since in self._frames:
            if since and now - since > self.keep_s:
                (self.folder / name).unlink(missing_ok=True)
            else:
                kept.append((name, since))
        self._frames = kept

    def _run(self) -> None:
        while time.monotonic() - self._seen < self.idle_s:
            self.copy_changed()
            self._forget_old_frames()
            time.sleep(self.poll_s)
        with self._lock:
            if time.monotonic() - self._seen >= self.idle_s:
                self._remove_published()

    def _remove_published(self) -> None:
        for name, _ in self._frames:
            (self.folder / name).unlink(missing_ok=True)
        if self._frames or self._mtimes:
            self.status_path.unlink(missing_ok=True)
        self._frames.clear()
        self._mtimes.clear()
        self._status = {}


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def prune(folder: Path, older_than_s: float = 3600.0) -> int:
    """Delete copies nobody has refreshed for ``older_than_s`` (left by a server that was killed mid-relay)."""
    removed, now = 0, time.time()
    try:
        entries = list(folder.iterdir())
    except OSError:
        return 0
    for path in entries:
        try:
            if path.suffix in (".png", ".json") and now - path.stat().st_mtime > older_than_s:
                path.unlink()
                removed += 1
        except OSError:
            pass
    return removed


__all__ = ["FrameRelay", "prune"]
