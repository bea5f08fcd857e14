"""The recording commands of ``python -m studio``::

    python -m studio train ... --record [--video-every 5]      record every training episode
    python -m studio record --run <run id> --episodes 10 [--checkpoint step-....zip] [--seed 10000] [--stochastic]
    python -m studio recordings list [--run <run id>] [--json]
    python -m studio recordings check|repair <recording folder>
    python -m studio recordings export <recording folder> --out recording.zip

A recording folder is the one holding Minari's ``data/`` (``runs/<id>/recordings/studio/<world>/<name>-vN``);
``list`` prints them. Exit codes: 0 done, 1 failed or damaged, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parsers(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("record", help="record evaluation episodes of a checkpoint (Minari dataset + videos)")
    r.add_argument("--run", required=True, help="run id (or unique prefix, or folder)")
    r.add_argument("--episodes", type=int, default=10)
    r.add_argument("--checkpoint", help="checkpoint file or name (default: the run's latest)")
    r.add_argument("--seed", type=int, default=10_000, help="episode k is seeded seed + k")
    r.add_argument("--stochastic", action="store_true", help="sample actions instead of the mean")
    r.add_argument("--video-size", type=int, default=256)
    r.add_argument("--json", action="store_true", help="print only the JSON result")

    s = sub.add_parser("recordings", help="list, check, repair or export recordings")
    s.add_argument("action", choices=("list", "check", "repair", "export"), nargs="?", default="list")
    s.add_argument("folder", nargs="?", type=Path, help="a recording folder (check, repair, export)")
    s.add_argument("--run", help="only this run's recordings (list)")
    s.add_argument("--out", type=Path, help="zip file to write (export)")
    s.add_argument("--json", action="store_true")


def cmd_record(args: argparse.Namespace) -> int:
    from studio.recording.evaluate import record_checkpoint
    from studio.runs import find_run

    if args.episodes < 1:
        raise ValueError(f"--episodes {args.episodes}: record at least 1 episode")
    run = find_run(args.run, args.runs_dir)

    def progress(done: int, total: int) -> None:
        if not args.json:
            print(f"  episode {done}/{total}", flush=True)

    result = record_checkpoint(run.root, args.episodes, args.checkpoint, args.seed, not args.stochastic,
                               args.video_size, progress).as_dict()
    if not args.json:
        print(f"recorded {result['episodes']} episodes ({result['success_rate']:.0%} success) as "
              f"{result['dataset_id']} in {result['folder']}")
    print(json.dumps(result))
    return 0


def cmd_recordings(args: argparse.Namespace) -> int:
    from studio.recording import health, reader
    from studio.recording.layout import RecordingPaths
    from studio.runs import find_run, runs_root

    if args.action == "list":
        found = reader.list_recordings(runs_root(args.runs_dir))
        if args.run:
            run_id = find_run(args.run, args.runs_dir).run_id
            found = [r for r in found if r.run_id == run_id]
        if args.json:
            print(json.dumps([{"run_id": r.run_id, "dataset_id": r.paths.dataset_id, "folder": str(r.paths.folder),
                               "episodes": r.health.episodes, "steps": r.health.steps, "ok": r.health.ok,
                               "size_bytes": r.size_bytes} for r in found]))
        elif not found:
            print("no recordings yet; record with: python -m studio train ... --record, or "
                  "python -m studio record --run <run id> --episodes 10")
        for r in found if not args.json else []:
            flag = "" if r.health.ok else "  NEEDS REPAIR" if r.health.repairable else "  DAMAGED"
            print(f"{r.run_id:42} {r.paths.dataset_id:40} {r.health.episodes:6} episodes {r.size_bytes / 1e6:8.2f} MB"
                  f"{flag}\n    {r.paths.folder}")
        return 0
    if args.folder is None:
        raise ValueError(f"`recordings {args.action}` needs a recording folder; `recordings list` prints them")
    paths = RecordingPaths.from_folder(args.folder)
    if args.action == "check":
        result = health.check(paths)
    elif args.action == "repair":
        result = health.repair(paths)
        for fix in result.fixes:
            print(f"  {fix}")
    else:
        out = args.out or Path(f"{paths.folder.parent.name}-{paths.name}.zip")
        print(f"wrote {reader.export_zip(paths, out)}")
        return 0
    print(result.message)
    return 0 if result.ok else 1


__all__ = ["add_parsers", "cmd_record", "cmd_recordings"]
