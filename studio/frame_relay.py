"""Relay a run's latest frame and status to a folder a web server serves, while someone watches.

The worker replaces ``frames/latest.png`` several times a second and ``status.json`` twice a second. The
Studio page's live view is a small script in the browser that fetches both several times a second and redraws
only what changed (by ETag); that costs a fraction of a Streamlit rerun per frame (``bench/ui.py`` measured a
rerun-per-frame view at a fifth of a CPU core on a busy two-core machine). Streamlit's static folder does not
follow symlinks out of it, so :class:`FrameRelay` copies the files there (atomically) when their modification
time changes, and stops, deleting its copies, once nobody has called :meth:`FrameRelay.touch` for ``idle_s``
seconds.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


class FrameRelay:
    """Copies each ``source -> target`` pair whenever the source changes, from the first :meth:`touch` until idle.

    Args:
        pairs: ``[(source, target), ...]``, e.g. the run's ``frames/latest.png`` to ``static/live/<run>.png``.
        poll_s: how often to look at the sources' modification times.
        idle_s: stop (and delete the targets) this long after the last :meth:`touch`.
    """

    def __init__(self, pairs: list[tuple[Path, Path]], poll_s: float = 0.05, idle_s: float = 15.0):
        self.pairs = [(Path(s), Path(t)) for s, t in pairs]
        self.poll_s, self.idle_s = poll_s, idle_s
        self.copies = 0
        self._seen = 0.0
        self._mtimes: dict[Path, int] = {}
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def touch(self) -> None:
        """Someone is watching: keep relaying (start the thread if it is not running)."""
        with self._lock:
            self._seen = time.monotonic()
            if self._thread is None or not self._thread.is_alive():
                for _, target in self.pairs[:1]:
                    prune(target.parent)
                self.copy_changed()
                self._thread = threading.Thread(target=self._run, name="frame-relay", daemon=True)
                self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def copy_changed(self) -> int:
        """Copy every source that changed since its last copy; returns how many were copied."""
        copied = 0
        for source, target in self.pairs:
            try:
                mtime = os.stat(source).st_mtime_ns
                if mtime == self._mtimes.get(source):
                    continue
                data = source.read_bytes()
            except OSError:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
            self._mtimes[source] = mtime
            copied += 1
        self.copies += copied
        return copied

    def _run(self) -> None:
        while time.monotonic() - self._seen < self.idle_s:
            self.copy_changed()
            time.sleep(self.poll_s)
        with self._lock:
            if time.monotonic() - self._seen >= self.idle_s:
                for _, target in self.pairs:
                    target.unlink(missing_ok=True)
                self._mtimes.clear()


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
