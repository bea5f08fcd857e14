"""Shared helpers for the benchmarks: timing, machine description, writing results."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).parent / "results"
# The push prompt pair every CLIP benchmark scores (red cube, blue pad): one place, so they measure one reward.
PUSH_GOAL = "the red cube is on the blue pad"
PUSH_BASELINE = "the red cube is far from the blue pad"
# The same goal said whole, with where the gripper is (agents.vlm.domain_eval.whole_goal_prompts writes these):
# the success state (the gripper at the cube it has just pushed onto the pad) against the start state.
PUSH_WHOLE_GOAL = "the red cube is on the blue pad and the gripper is at the red cube"
PUSH_WHOLE_BASELINE = "the red cube is far from the blue pad and the gripper is far from the red cube"
# Held-out draws of the studio CLIP benches (seeds of agents.vlm.domain_data.manipulation_frames(heldout=True)),
# here so that each bench can refuse a draw whose scenes meet another's without importing the other bench.
CAPTION_DRAW, CAPTION_EPISODES = 1, 240     # bench.domain_clip's caption draw
FIT_DRAW, FIT_EPISODES = 5000, 60           # bench.domain_clip's fit check: fresh episodes drawn like a round's
COMPARE_DRAWS, COMPARE_EPISODES = (1000, 2000), 60   # bench.clip_compare's default draws
SPEARMAN_EPISODES = 144     # bench.domain_clip's Spearman: scripted rollouts per task, from CAPTION_DRAW's seed
PUSH_PROMPTS = {"task": (PUSH_GOAL, PUSH_BASELINE), "whole": (PUSH_WHOLE_GOAL, PUSH_WHOLE_BASELINE)}


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a short run (under a minute) for smoke checks")
    p.add_argument("--out", type=Path, default=None, help="where to write the JSON (default bench/results/)")
    return p


def rate(fn: Callable[[], None], min_seconds: float, min_calls: int = 3) -> float:
    """Calls per second of ``fn``, run for at least ``min_seconds`` and ``min_calls`` calls after one warm-up."""
    fn()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and calls >= min_calls:
            return calls / elapsed


def machine() -> dict:
    return {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "mujoco_gl": os.environ.get("MUJOCO_GL", "")}


def finish(name: str, results: dict, headline: dict, out: Path | None) -> None:
    """Write the full results and print the headline JSON as the last line. A ``--quick`` run writes under
    ``results/quick/`` so smoke checks never overwrite the measured figures."""
    path = out or (RESULTS / "quick" if headline.get("quick") else RESULTS) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**headline, "details": results, "machine": machine()}, indent=2) + "\n")
    print(f"wrote {path}")
    print(json.dumps(headline))


def stop_quietly(session, reason: str = "benchmark done", timeout: float = 60) -> None:
    """Stop a benchmark's training session and wait for it; a session already gone is fine."""
    try:
        session.stop(reason)
        session.wait(timeout)
    except (RuntimeError, TimeoutError):
        pass
