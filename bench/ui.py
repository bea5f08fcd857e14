"""What watching costs: training steps/s with a real browser on the Studio page against nobody watching.

``python -m bench.ui [--quick]`` starts, in one run, one training session as the Studio page starts it
(PPO on ``studio/Reach-v0`` with the world's terms, 4 envs, a live frame every 0.15 s), the studio with
``streamlit run`` and headless Chromium. Time is cut into windows, alternately unwatched (no tab open) and
watched (one tab on the Studio page following the run: the live view showing every frame, status and charts
every five seconds), in the order off, on, on, off, off, on, ... so slow drifts of the machine hit
both alike. Steps per window come from the run's own telemetry (env steps and wall times of each vector
step), so the worker's rollout/update rhythm is measured exactly.

Headline keys: ``watch_overhead_fraction`` (``1 - median`` of the per-pair ratios watched/unwatched steps/s;
target at most 0.10), ``steps_per_s_unwatched``, ``steps_per_s_watched``, ``displayed_fps`` (distinct live
frames the tab showed per second), ``ui_cpu_cores`` (CPU seconds per second used by the streamlit server and
Chromium while watching), ``server_errors`` (tracebacks the studio server logged during the whole bench: the
live view's files once made Starlette log "Too little/much data for declared Content-Length", see
``studio/frame_relay.py``) and ``cpu_count``. On a machine shared with other jobs the ratio swings by several
percent from window to window; ``details`` keeps every window.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import finish, parser, stop_quietly
from studio.presets import run_config
from studio.session import Session
from studio.telemetry import read_table
from tests.browser_helpers import browser_page, studio_server

LIVE_FRAMES = """() => Number(document.querySelector('img[id^="live-"]')?.dataset.frames || 0)"""


def _cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])   # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / ticks


def _descendants(root: int) -> list[int]:
    """``root`` and every process under it (by parent pid)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def _ui_processes(worker_pid: int | None) -> list[int]:
    """The streamlit server and Chromium: every process under this one except itself, the training worker and
    Playwright's driver (which a person's browser does not have)."""
    out = []
    for pid in _descendants(os.getpid()):
        if pid in (os.getpid(), worker_pid):
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"playwright" in cmdline and b"driver" in cmdline:
            continue
        out.append(pid)
    return out


def _name(pid: int) -> str:
    """``streamlit`` or ``chromium (renderer)``-style names for the CPU breakdown."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = b" ".join(args).decode(errors="replace")
    if "streamlit" in text:
        return "streamlit"
    if "chrom" in text:
        kind = next((a.split("=", 1)[1] for a in text.split() if a.startswith("--type=")), "browser")
        return f"chromium {kind}"
    return Path(args[0].decode(errors="replace")).name


def _steps_between(session: Session, t0: float, t1: float) -> tuple[int, float]:
    """Env steps done in [t0, t1] and the window's length, from the telemetry's per-step wall times."""
    table = read_table(session.paths.telemetry, "steps")
    steps = table.select(["step", "t"]).to_pandas().drop_duplicates("step")
    before = steps[steps.t <= t0]
    inside = steps[steps.t <= t1]
    if before.empty or inside.empty:
        return 0, t1 - t0
    return int(inside.step.max() - before.step.max()), t1 - t0


def main(argv=None) -> dict:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    window_s = 6.0 if args.quick else 15.0
    pairs = 2 if args.quick else 4
    order = [("off", "on") if i % 2 == 0 else ("on", "off") for i in range(pairs)]
    windows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        config = run_config("studio/Reach-v0", "dense", total_steps=10**8).with_overrides(
            {"telemetry.flush_every_s": 0.5})
        session = Session.start(config, tmp)
        try:
            log = Path(tmp) / "server.log"
            with studio_server(env={"STUDIO_RUNS_DIR": tmp}, log_path=log) as url, browser_page() as page:
                session.wait(120, states=("running",))
                while session.status().step < 2048:       # first rollout and update done: steady state
                    time.sleep(0.2)
                page.close()                               # unwatched: no tab open
                browser = page.context.browser
                for pair in order:
                    for kind in pair:
                        windows.append(_window(kind, session, browser, url, window_s))
            server_errors = _tracebacks(log.read_text(errors="replace"))
        finally:
            stop_quietly(session)
    rate = {k: [w["steps_per_s"] for w in windows if w["kind"] == k] for k in ("off", "on")}
    ratios = [on / off for on, off in zip(rate["on"], rate["off"]) if off > 0]
    watched = [w for w in windows if w["kind"] == "on"]
    headline = {
        "watch_overhead_fraction": round(float(1.0 - np.median(ratios)), 4),
        "steps_per_s_unwatched": round(float(np.median(rate["off"])), 1),
        "steps_per_s_watched": round(float(np.median(rate["on"])), 1),
        "displayed_fps": round(float(np.median([w["displayed_fps"] for w in watched])), 2),
        "ui_cpu_cores": round(float(np.median([w["ui_cpu_cores"] for w in watched])), 3),
        "server_errors": sum(server_errors.values()),
        "cpu_count": os.cpu_count(),
        "quick": args.quick,
    }
    details = {"windows": windows, "ratios": ratios, "window_s": window_s, "server_errors": server_errors,
               "setup": "PPO (n_steps 256) on studio/Reach-v0, 4 envs, world terms, live frame 192 px every 0.15 s; "
                        "one headless Chromium tab on the Studio page following the run"}
    finish("ui", details, headline, args.out)
    return headline


def _tracebacks(log: str) -> dict[str, int]:
    """How many tracebacks ``log`` holds, by their last line (the exception)."""
    counts: dict[str, int] = {}
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            last = next((x for x in lines[i + 1:] if x and not x[0].isspace()), "?")
            counts[last] = counts.get(last, 0) + 1
    return counts


def _window(kind: str, session: Session, browser, url: str, seconds: float) -> dict:
    """One measuring window; ``on`` opens a tab on the Studio page first (its start-up is not measured)."""
    page = None
    if kind == "on":
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/?run={session.run_id}")
        page.wait_for_selector('img[id^="live-"]', timeout=120_000)
        page.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=120_000)
        page.wait_for_timeout(1000)
    ui_pids = _ui_processes(session.status().pid)
    names = {pid: _name(pid) for pid in ui_pids}
    start = {pid: _cpu_seconds([pid]) for pid in ui_pids}
    frames0 = page.evaluate(LIVE_FRAMES) if page is not None else 0
    t0 = time.time()
    time.sleep(seconds)
    t1 = time.time()
    end = {pid: _cpu_seconds([pid]) for pid in ui_pids if Path(f"/proc/{pid}").exists()}
    by_process: dict[str, float] = {}
    for pid, cpu in end.items():                   # processes that ended meanwhile are left out
        by_process[names[pid]] = by_process.get(names[pid], 0.0) + max(cpu - start[pid], 0.0)
    ui_cpu = sum(by_process.values())
    by_process = {k: round(v / (t1 - t0), 3) for k, v in sorted(by_process.items())}
    frames = 0
    if page is not None:
        frames = page.evaluate(LIVE_FRAMES) - frames0
        page.close()
    steps, elapsed = _steps_between(session, t0, t1)
    return {"kind": kind, "t0": t0, "seconds": round(elapsed, 2), "steps": steps,
            "steps_per_s": steps / elapsed, "displayed_fps": frames / elapsed,
            "ui_cpu_cores": ui_cpu / elapsed, "ui_cpu_cores_by_process": by_process}


if __name__ == "__main__":
    main()
