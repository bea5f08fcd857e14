"""Training sessions: what telemetry and the live channel cost, and how fast a reward edit takes effect.

``python -m bench.session [--quick]`` measures, in one run:

* overhead: PPO steps/s on ``studio/Reach-v0`` (4 envs, world terms) with telemetry and the live channel on
  (per-step columns, episode rows, progress, frames, transition log, inbox watcher, step-boundary hook)
  beside the same training with both off. The two trainers run in this process in alternating blocks
  (on, off, off, on, ...) so background load hits both alike; ``overhead_fraction`` is ``1 - median of
  the per-pair ratios on/off`` (target: at most 0.05). On a machine shared with other jobs the wall-clock
  ratio swings by several percent from block to block, so ``overhead_fraction_cpu`` also compares this
  process's CPU seconds per step (all threads), which other processes disturb much less.
* edit latency: a real session (a worker process) receives reward edits at random moments;
  ``edit_latency_s`` is the median time from ``Session.apply_spec`` to the first env step rewarded by the
  new spec (from telemetry); ``apply_latency_s`` the median time until the worker swapped the stack (target
  for both: under 0.5 s). An edit that arrives during a PPO update waits for the next step.

Headline keys: ``overhead_fraction``, ``overhead_fraction_cpu``, ``edit_latency_s``, ``edit_latency_p90_s``,
``apply_latency_s``, ``steps_per_s_on``, ``steps_per_s_off``.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import finish, parser, stop_quietly
from studio.runs import new_run
from studio.spec import RunConfig, parse_run_config
from studio.worker import Worker

WORLD = "studio/Reach-v0"
TERMS = [{"kind": "world", "key": "reach"}, {"kind": "world", "key": "success"}]


def config(on: bool, **extra) -> RunConfig:
    telemetry = {"enabled": on, "live_channel": on}
    return parse_run_config({"world_id": WORLD, "n_envs": 4, "total_steps": 10**8, "reward": {"terms": TERMS},
                             "algo_kwargs": {"n_steps": 256}, "telemetry": telemetry, **extra})


def trainer(root: Path, on: bool) -> Worker:
    cfg = config(on)
    paths = new_run(root, cfg.world_id, cfg.algo, "on" if on else "off")
    paths.config.write_text(cfg.to_yaml())
    worker = Worker(paths, cfg).build()
    worker.model.learn(1024, callback=worker.callbacks())  # warm-up: first rollout and update
    return worker


def block(worker: Worker, steps: int) -> tuple[float, float]:
    """Wall-clock steps/s and process CPU seconds per 1000 steps of ``steps`` more training (whole PPO rollouts
    and updates; CPU time counts every thread of this process, the inbox watcher's too)."""
    worker.start_channel()
    start, cpu = time.perf_counter(), time.process_time()
    worker.model.learn(steps, callback=worker.callbacks(), reset_num_timesteps=False)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    worker.stop_channel()
    return steps / elapsed, 1000.0 * cpu / steps


def overhead(root: Path, pairs: int, steps: int) -> dict:
    on, off = trainer(root, True), trainer(root, False)
    results = {on: [], off: []}
    for i in range(pairs):
        for w in ((on, off) if i % 2 == 0 else (off, on)):  # alternate who goes first
            results[w].append(block(w, steps))
    (rates_on, cpu_on), (rates_off, cpu_off) = (np.array(results[w]).T for w in (on, off))
    ratios = rates_on / rates_off
    on.tel.close()
    off.tel.close()
    return {"steps_per_s_on": rates_on.tolist(), "steps_per_s_off": rates_off.tolist(), "ratios": ratios.tolist(),
            "overhead_fraction": float(1.0 - np.median(ratios)),
            "cpu_s_per_1000_steps_on": cpu_on.tolist(), "cpu_s_per_1000_steps_off": cpu_off.tolist(),
            "overhead_fraction_cpu": float(np.median(cpu_on / cpu_off) - 1.0), "block_steps": steps, "pairs": pairs}


def edit_latency(root: Path, edits: int) -> dict:
    from studio.session import Session

    cfg = config(True).with_overrides({"telemetry.flush_every_s": 0.25, "telemetry.frame_every_s": 1.0})
    session = Session.start(cfg, root)
    rng = random.Random(0)
    try:
        session.wait(120, states=("running",))
        time.sleep(1.5)
        requested = []
        for i in range(edits):
            time.sleep(rng.uniform(0.2, 0.8))
            terms = [{"kind": "world", "key": "reach", "weight": 1.0 + 0.1 * (i + 1)}, TERMS[1]]
            requested.append((time.time(), session.apply_spec({"terms": terms})))
        events = [session.wait_for_event("edit", 30, id=cid) for _, cid in requested]
        time.sleep(1.0)  # let the rows of the last edit be flushed
        steps = session.telemetry().steps
    finally:
        stop_quietly(session)
    apply, effect = [], []
    for (t_req, _), event in zip(requested, events):
        apply.append(event["applied_t"] - t_req)
        rows = steps[steps.spec_version == event["new_version"]]
        if len(rows):
            effect.append(float(rows.t.min()) - t_req)
    return {"apply_latency_s": apply, "effect_latency_s": effect, "edits": edits, "run": session.run_id}


def main(argv=None) -> dict:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench-session-") as tmp:
        root = Path(tmp)
        over = overhead(root, pairs=3 if args.quick else 6, steps=2048 if args.quick else 3072)
        lat = edit_latency(root, edits=6 if args.quick else 16)
    effect = np.array(lat["effect_latency_s"]) if lat["effect_latency_s"] else np.array([np.nan])
    headline = {
        "overhead_fraction": round(over["overhead_fraction"], 4),
        "overhead_fraction_cpu": round(over["overhead_fraction_cpu"], 4),
        "edit_latency_s": round(float(np.median(effect)), 4),
        "edit_latency_p90_s": round(float(np.percentile(effect, 90)), 4),
        "apply_latency_s": round(float(np.median(lat["apply_latency_s"])), 4),
        "steps_per_s_on": round(float(np.median(over["steps_per_s_on"])), 1),
        "steps_per_s_off": round(float(np.median(over["steps_per_s_off"])), 1),
        "quick": args.quick,
    }
    details = {"overhead": over, "latency": lat,
               "setup": f"PPO (n_steps=256) on {WORLD}, 4 envs, world terms only, torch threads 1"}
    finish("session", details, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
