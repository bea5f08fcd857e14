"""Recording: what it costs training, and how much disk it takes.

``python -m bench.recording [--quick]`` trains PPO on ``studio/Push-v0`` (4 envs, world terms, telemetry and
the live channel on, as in the studio) twice in this process, once recording (the defaults: a Minari
dataset of every episode, an MP4 of every 10th episode of env 0 at 160 px, written by a background thread)
and once not, in alternating blocks (on, off, off, on, ...) so background load hits both alike.

* ``overhead_fraction``: ``1 - median of the per-pair ratios of steps/s, recording / not`` (target: at most
  0.10); ``overhead_fraction_cpu`` compares this process's CPU seconds per step instead (all threads, the
  writer's included; the ffmpeg encoder runs in a child process and is not counted);
* ``bytes_per_10k_steps``: the recording's size on disk per 10,000 recorded steps, videos included;
  ``bytes_per_10k_steps_data`` without the videos.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from bench.common import finish, parser
from bench.session import block
from studio.recording.layout import folder_size
from studio.runs import new_run
from studio.spec import parse_run_config
from studio.worker import Worker

WORLD = "studio/Push-v0"
TERMS = [{"kind": "world", "key": "reach"}, {"kind": "world", "key": "push"}, {"kind": "world", "key": "success"}]


def trainer(root: Path, record: bool) -> Worker:
    cfg = parse_run_config({"world_id": WORLD, "n_envs": 4, "total_steps": 10**8, "reward": {"terms": TERMS},
                            "algo_kwargs": {"n_steps": 256}, "recording": {"enabled": record}})
    paths = new_run(root, cfg.world_id, cfg.algo, "rec" if record else "norec")
    paths.config.write_text(cfg.to_yaml())
    worker = Worker(paths, cfg).build()
    worker.model.learn(1024, callback=worker.callbacks())  # warm-up: first rollout and update
    return worker


def main(argv=None) -> dict:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    torch.set_num_threads(1)
    pairs, steps = (2, 2048) if args.quick else (6, 4096)
    with tempfile.TemporaryDirectory(prefix="bench-recording-") as tmp:
        on, off = trainer(Path(tmp), True), trainer(Path(tmp), False)
        results = {on: [], off: []}
        for i in range(pairs):
            for w in ((on, off) if i % 2 == 0 else (off, on)):
                results[w].append(block(w, steps))
        (rates_on, cpu_on), (rates_off, cpu_off) = (np.array(results[w]).T for w in (on, off))
        writer = on.recorder.writer
        on.recorder.close_recording()
        total = folder_size(writer.paths.folder)
        videos = folder_size(writer.paths.videos)
        recorded_steps, episodes = writer.steps, writer.episodes
        filmed = len(list(writer.paths.videos.glob("*.mp4")))
        write_s = writer.write_seconds
        for w in (on, off):
            w.tel.close()
    ratios = rates_on / rates_off
    headline = {
        "overhead_fraction": round(float(1 - np.median(ratios)), 4),
        "overhead_fraction_cpu": round(float(np.median(cpu_on / cpu_off) - 1), 4),
        "bytes_per_10k_steps": int(total / max(recorded_steps, 1) * 10_000),
        "bytes_per_10k_steps_data": int((total - videos) / max(recorded_steps, 1) * 10_000),
        "steps_per_s_recording": round(float(np.median(rates_on)), 1),
        "steps_per_s_not_recording": round(float(np.median(rates_off)), 1),
        "quick": args.quick,
    }
    details = {"steps_per_s_on": rates_on.tolist(), "steps_per_s_off": rates_off.tolist(), "ratios": ratios.tolist(),
               "cpu_s_per_1000_steps_on": cpu_on.tolist(), "cpu_s_per_1000_steps_off": cpu_off.tolist(),
               "recorded_steps": recorded_steps, "episodes": episodes, "videos": filmed, "bytes": total,
               "video_bytes": videos, "write_seconds": round(write_s, 3),
               "write_ms_per_episode": round(1000 * write_s / max(episodes, 1), 2),
               "video_encoder": "ffmpeg (libx264) in a child process, not in the CPU figure",
               "setup": f"PPO (n_steps=256) on {WORLD}, 4 envs, world terms, telemetry on, torch threads 1; "
                        "recording defaults (every episode in Minari, video every 10th episode of env 0, 160 px, "
                        "writer thread)",
               "pairs": pairs, "block_steps": steps}
    finish("recording", details, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
