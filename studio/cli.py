"""``python -m studio``: train, evaluate and list runs headless, with the same config objects as the UI.

::

    python -m studio train --world studio/Push-v0 --reward spec.yaml --steps 50000 [--algo ppo] [--n-envs 4]
                           [--seed 0] [--config run.yaml] [--set algo_kwargs.n_steps=128 ...] [--detach]
    python -m studio train --world studio/FastMapRoom-v0 --agent dcem [--reward bonus.yaml]   (memory agent)
    python -m studio train --config examples/clip_push_demos.yaml    (SAC from scripted demonstrations: --demos N)
    python -m studio train --config examples/clip_push_ppo_demos.yaml  (PPO cloned from them, --normalize)
    python -m studio eval --run <run id> --episodes 10 [--checkpoint path.zip] [--stochastic]
    python -m studio runs [--json]
    python -m studio edit --run <run id> --reward spec.yaml      (live edit of a running run)
    python -m studio stop --run <run id>
    python -m studio play-along [--agent rlhg|task_only] [--record episodes.npz]   (a pygame window)
    python -m studio record --run <run id> --episodes 10       (see studio.recording.cli for recordings)

``train`` starts a worker like the UI does and follows it with a progress bar (steps, steps/s, reward-spec
version, edits as they land). Ctrl-C asks the worker to save a checkpoint and stop, waits for it, and exits
0; ``--detach`` returns at once and leaves the run going. Every command takes ``--runs-dir`` (default
``$STUDIO_RUNS_DIR`` or ``runs/``). Exit codes: 0 done or stopped, 1 the run failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from studio.recording import cli as recording_cli
from studio.spec import (SpecError, default_reward_spec, load_document, parse_reward_spec, parse_run_config,
                         parse_value)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m studio", description="Reward Studio, headless.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train one run (a worker process) and follow it")
    t.add_argument("--config", type=Path, help="a RunConfig YAML/JSON file; the flags below override it")
    t.add_argument("--world", help="world id, e.g. studio/Push-v0")
    t.add_argument("--world-arg", action="append", default=[], metavar="KEY=VALUE", help="world keyword argument")
    t.add_argument("--reward", type=Path, help="a RewardSpec YAML/JSON file (default: the world's own terms)")
    t.add_argument("--algo", choices=("ppo", "sac", "recurrent_ppo"))
    t.add_argument("--agent", choices=("mlp", "dcem", "memoryless", "no_memory", "lstm"),
                   help="policy: mlp (default), or on studio/FastMapRoom-v0 dcem (its default), memoryless, "
                        "no_memory or lstm (trains with recurrent_ppo)")
    t.add_argument("--steps", type=int, help="total env steps")
    t.add_argument("--demos", type=int, help="SAC or PPO on a table-top world: scripted demonstration episodes "
                                             "played through the reward first; SAC draws half of every batch from "
                                             "them, PPO starts cloned from them")
    t.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                   help="PPO: the learner sees observations and rewards normalised (SB3's VecNormalize); the "
                        "statistics go into each checkpoint's .json (--no-normalize: off, whatever --config says)")
    t.add_argument("--standardize-reward", action=argparse.BooleanOptionalAction, default=None,
                   help="SAC: the learner sees rewards standardised by their mean and spread when learning starts "
                        "(again after each edit that relabels the buffer); charts and recordings keep them as given "
                        "(--no-standardize-reward: off, whatever --config says)")
    t.add_argument("--n-envs", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--device", choices=("cpu", "cuda", "auto"))
    t.add_argument("--subprocess-envs", action=argparse.BooleanOptionalAction, default=None,
                   help="step and render each env in its own process (faster for CLIP rewards with cores to spare; "
                        "--no-subprocess-envs: in this process, whatever --config says)")
    t.add_argument("--clip-model", help="CLIP model of the CLIP terms: studio (default; or $STUDIO_CLIP_MODEL), "
                                        "studio:/path/ckpt.pt, or an open_clip NAME:TAG / NAME:/path/weights.pt")
    t.add_argument("--name", help="label in the run id")
    t.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                   help="override any config field, e.g. algo_kwargs.learning_rate=1e-3")
    t.add_argument("--detach", action="store_true", help="start the run and return at once")
    t.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")
    t.add_argument("--record", action="store_true", help="record every training episode (Minari dataset + videos)")
    t.add_argument("--video-every", type=int, help="with --record: film every n-th episode of env 0 (0: none)")

    e = sub.add_parser("eval", help="evaluate a run's checkpoint on its world")
    e.add_argument("--run", required=True, help="run id (or unique prefix, or folder)")
    e.add_argument("--episodes", type=int, default=10)
    e.add_argument("--checkpoint", type=Path, help="default: the run's latest checkpoint")
    e.add_argument("--stochastic", action="store_true", help="sample actions instead of the mean")
    e.add_argument("--seed", type=int, default=10_000)
    e.add_argument("--json", action="store_true", help="print only the JSON result")

    r = sub.add_parser("runs", help="list runs")
    r.add_argument("--json", action="store_true")

    for name, text in (("edit", "apply a reward spec to a running run"), ("stop", "save and stop a run"),
                       ("pause", "pause a run"), ("resume", "resume a paused run")):
        c = sub.add_parser(name, help=text)
        c.add_argument("--run", required=True)
        if name == "edit":
            c.add_argument("--reward", type=Path, required=True)
    recording_cli.add_parsers(sub)
    sub.add_parser("play-along", add_help=False,
                   help="drive the person in studio/CollabTable-v0 beside a shipped agent (see studio.play_along)")
    for sp in sub.choices.values():
        sp.add_argument("--runs-dir", type=Path, default=None, help="runs folder (default $STUDIO_RUNS_DIR or runs/)")
    return p


def build_config(args: argparse.Namespace):
    """The RunConfig from ``--config`` and the flags (flags win)."""
    data: dict[str, Any] = {}
    if args.config:
        data = load_document(args.config) or {}
        if not isinstance(data, dict):
            raise SpecError(f"{args.config} does not hold a mapping of RunConfig fields")
    for flag, key in (("world", "world_id"), ("algo", "algo"), ("agent", "agent"), ("steps", "total_steps"),
                      ("n_envs", "n_envs"), ("seed", "seed"), ("device", "device"), ("name", "name"),
                      ("clip_model", "clip_model"), ("subprocess_envs", "subprocess_envs"),
                      ("demos", "demos"), ("standardize_reward", "standardize_reward"), ("normalize", "normalize")):
        if getattr(args, flag) is not None:
            data[key] = getattr(args, flag)
    if args.world_arg:
        kwargs = dict(data.get("world_kwargs") or {})
        for item in args.world_arg:
            key, _, value = item.partition("=")
            kwargs[key] = parse_value(value)
        data["world_kwargs"] = kwargs
    if args.record or args.video_every is not None:
        data["recording"] = {**(data.get("recording") or {}), "enabled": True,
                             **({"video_every": args.video_every} if args.video_every is not None else {})}
    if args.reward:
        data["reward"] = parse_reward_spec(args.reward).model_dump(mode="json")
    elif "reward" not in data:
        world = data.get("world_id", "studio/Reach-v0")
        data["reward"] = default_reward_spec(world, data.get("world_kwargs")).model_dump(mode="json")
    config = parse_run_config(data)
    return config.with_overrides(args.set) if args.set else config


# ---------------------------------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace) -> int:
    from studio.session import Session

    config = build_config(args)
    session = Session.start(config, args.runs_dir)
    print(f"run {session.run_id} in {session.run_dir}", flush=True)
    if args.detach:
        return 0
    return follow(session, progress=not args.no_progress)


def follow(session, progress: bool = True) -> int:
    """Follow a run to its end with a progress bar; Ctrl-C saves a checkpoint and stops it cleanly."""
    from tqdm import tqdm

    interrupted = {"count": 0}

    def on_sigint(signum, frame):
        interrupted["count"] += 1
        if interrupted["count"] > 1:
            raise KeyboardInterrupt
    previous = signal.signal(signal.SIGINT, on_sigint)
    bar = tqdm(total=session.config.total_steps, unit="step", disable=not progress, dynamic_ncols=True,
                mininterval=0.5)
    seen_events = 0
    stop_sent = False
    try:
        while True:
            status = session.status()
            if interrupted["count"] and not stop_sent and not status.finished:
                bar.write("Ctrl-C: saving a checkpoint and stopping (Ctrl-C again to leave it running)")
                try:
                    session.stop("Ctrl-C in the CLI")
                except RuntimeError:
                    pass
                stop_sent = True
            bar.set_postfix_str(f"{status.state} {status.fps:.0f} steps/s spec v{status.spec_version}", refresh=False)
            bar.update(max(0, min(status.step, bar.total) - bar.n))
            events = session.events()
            for event in events[seen_events:]:
                line = _event_line(event)
                if line:
                    bar.write(line) if progress else print(line, flush=True)
            seen_events = len(events)
            if status.finished:
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        bar.close()
        print(f"left run {session.run_id} running; stop it with: python -m studio stop --run {session.run_id}")
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
    bar.close()
    checkpoints = session.checkpoints()
    print(f"{status.state}: {status.reason} at step {status.step}"
          + (f"; checkpoint {checkpoints[-1]}" if checkpoints else ""), flush=True)
    return 1 if status.state == "failed" else 0


def _event_line(event: dict[str, Any]) -> str:
    kind = event.get("type")
    if kind == "edit":
        return f"edit: spec v{event['old_version']} -> v{event['new_version']} at step {event['step']}"
    if kind == "epic" and event.get("distance") is not None:
        return f"EPIC distance v{event['old_version']} -> v{event['new_version']}: {event['distance']:.3f}"
    if kind in ("edit_refused", "command_refused"):
        return f"refused: {event.get('error')}"
    if kind == "checkpoint":
        return f"checkpoint {event['path']} ({event['reason']})"
    if kind == "log" and event.get("level") != "debug":
        return f"{event.get('level')}: {event.get('message')}"
    if kind == "failed":
        return f"FAILED: {event.get('reason')}"
    return ""


# ---------------------------------------------------------------------------------------------- eval
def evaluate(session, episodes: int = 10, checkpoint: Path | None = None, deterministic: bool = True,
             seed: int = 10_000) -> dict[str, Any]:
    """Roll out a checkpoint for ``episodes`` episodes on the run's world, scored by its latest reward spec."""
    import numpy as np
    import torch

    from agents.reward_factory import build_stack
    from agents.normalize import observation_map
    from agents.sb3_factory import load_model, make_venv

    torch.set_num_threads(1)
    config = session.config
    ckpts = session.checkpoints()
    path = checkpoint or (ckpts[-1] if ckpts else None)
    if path is None or not Path(path).is_file():
        raise FileNotFoundError(f"run {session.run_id} has no checkpoint yet ({path}); save one with "
                                f"`python -m studio` while it trains, or wait for it to finish")
    spec = session.current_spec()

    def embedder():
        from agents.vlm.embedder import embedder_for
        return embedder_for(config.clip_setting, "cpu")

    stack = build_stack(spec.term_params(), embedder)
    venv, _ = make_venv(config.world_id, config.world_kwargs, 1, seed, stack, camera=spec.camera, agent=config.agent)
    model = load_model(config.algo, path, device="cpu")
    policy_obs = observation_map(path, config.normalize)
    returns, world_returns, lengths, successes = [], [], [], []
    obs = venv.reset()
    state, start = None, np.ones(1, dtype=bool)
    ret = world = 0.0
    length = 0
    while len(returns) < episodes:
        action, state = model.predict(policy_obs(obs), state=state, episode_start=start, deterministic=deterministic)
        obs, reward, done, infos = venv.step(action)
        ret += float(reward[0])
        world += float(infos[0].get("world_reward", 0.0))
        length += 1
        start = done
        if done[0]:
            returns.append(ret)
            world_returns.append(world)
            lengths.append(length)
            successes.append(bool(infos[0].get("is_success", False)))
            ret = world = 0.0
            length = 0
    venv.close()
    result = {"run": session.run_id, "checkpoint": str(path), "episodes": episodes, "spec_version": spec.version,
              "deterministic": deterministic, "mean_return": float(np.mean(returns)),
              "std_return": float(np.std(returns)), "mean_world_return": float(np.mean(world_returns)),
              "success_rate": float(np.mean(successes)), "mean_length": float(np.mean(lengths)),
              "returns": [round(r, 4) for r in returns], "t": time.time()}
    out = session.run_dir / "eval"
    out.mkdir(exist_ok=True)
    (out / f"eval-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=2))
    return result


def cmd_eval(args: argparse.Namespace) -> int:
    from studio.session import Session

    session = Session.attach(args.run, args.runs_dir)
    result = evaluate(session, args.episodes, args.checkpoint, not args.stochastic, args.seed)
    if not args.json:
        print(f"{result['run']}: {result['episodes']} episodes with {Path(result['checkpoint']).name}, reward spec "
              f"v{result['spec_version']}: return {result['mean_return']:.3f} +- {result['std_return']:.3f}, "
              f"world return {result['mean_world_return']:.3f}, success {result['success_rate']:.0%}")
    print(json.dumps({k: v for k, v in result.items() if k != "returns"}))
    return 0


# ---------------------------------------------------------------------------------------------- runs and control
def cmd_runs(args: argparse.Namespace) -> int:
    from studio.runs import list_runs

    runs = list_runs(args.runs_dir)
    if args.json:
        print(json.dumps([{"run_id": r.run_id, "world_id": r.world_id, "algo": r.algo, "state": r.status.state,
                           "step": r.status.step, "total_steps": r.status.total_steps,
                           "spec_version": r.status.spec_version, "reason": r.status.reason,
                           "path": str(r.path)} for r in runs]))
        return 0
    if not runs:
        print("no runs yet; start one with: python -m studio train --world studio/Reach-v0 --steps 20000")
        return 0
    print(f"{'run':42} {'world':22} {'algo':13} {'state':10} {'step':>10}  spec")
    for r in runs:
        s = r.status
        print(f"{r.run_id:42} {r.world_id:22} {r.algo:13} {s.state:10} {s.step:>10}  v{s.spec_version}"
              + (f"  ({s.reason})" if s.state == "failed" else ""))
    return 0


def cmd_control(args: argparse.Namespace) -> int:
    from studio.session import Session

    session = Session.attach(args.run, args.runs_dir)
    if args.command == "edit":
        command_id = session.apply_spec(args.reward)
        event = session.wait_for_event("edit", timeout=30, id=command_id)
        print(f"applied as spec v{event['new_version']} at step {event['step']}")
    else:
        getattr(session, args.command)()
        print(f"sent {args.command} to {session.run_id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["play-along"]:          # its own flags: studio.play_along parses them
        from studio import play_along
        return play_along.main(argv[1:])
    args = _parser().parse_args(argv)
    handlers = {"train": cmd_train, "eval": cmd_eval, "runs": cmd_runs, "record": recording_cli.cmd_record,
                "recordings": recording_cli.cmd_recordings}
    try:
        return handlers.get(args.command, cmd_control)(args)
    except (SpecError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, RuntimeError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


__all__ = ["build_config", "evaluate", "follow", "main"]
