"""Fast mapping in the object-naming room: the dual-coding memory agent against its baselines.

``python -m bench.fastmap [--quick] [--save-assets]`` trains, on this machine's CPU, one torch thread each:

* ``dcem``: PPO + the dual-coding episodic memory, with the world's naming shaping;
* ``dcem_intrinsic``: the same agent with no shaping and the memory's seek-names bonus instead;
* ``memoryless``: the dcem agent with its memory never written (same network and pointers, no memory): the
  fair ablation, and the shipped "no-memory" agent;
* ``no_memory``: plain PPO (SB3's CombinedExtractor) on the world's observation, no memory;
* ``lstm``: RecurrentPPO (sb3_contrib) with a 128-unit LSTM, same steps;
* ``oracle``: PPO told the binding (an upper bound);

then evaluates each (actions sampled from the trained policy, seeded episodes no training run saw) on
held-out names with 3 objects (the headline), held-out names and held-out appearances together, and for the
memory agent with 5 and 8 objects (trained on 3). Chance is 1/N. ``--save-assets`` writes
``assets/fastmap_memory.zip`` (dcem) and ``assets/fastmap_no_memory.zip`` (memoryless) from this run.
``--runs a,b`` trains only those runs and merges them into the existing results file.

Headline keys: ``success_memory``, ``success_no_memory``, ``success_no_memory_same_net``, ``success_lstm``,
``success_oracle`` (3 objects, held-out names), ``success_memory_heldout_objects`` (held-out names and
appearances), ``success_memory_5_objects``, ``success_memory_8_objects`` (held-out names), ``success_memory_intrinsic``,
``pick_accuracy_<agent>`` (right picks among all picks, timeouts left out; chance 1/3), ``train_minutes``
(all agents), ``device``. ``python -m bench.fastmap --runs ""`` re-summarises the saved results.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from worlds import gl  # noqa: F401

from agents.memory.train import TrainConfig, evaluate, train
from bench.common import RESULTS, finish, parser

ASSETS = Path(__file__).parents[1] / "assets"
FULL = {"dcem": 400_000, "dcem_intrinsic": 400_000, "memoryless": 400_000, "no_memory": 400_000, "lstm": 400_000,
        "oracle": 100_000}
QUICK = {"dcem": 3_000, "dcem_intrinsic": 3_000, "memoryless": 3_000, "no_memory": 3_000, "lstm": 2_000,
         "oracle": 3_000}
SAVED = {"dcem": "fastmap_memory.zip", "memoryless": "fastmap_no_memory.zip"}


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--save-assets", action="store_true", help="write the trained dcem and memoryless to assets/")
    p.add_argument("--episodes", type=int, default=None, help="evaluation episodes per condition")
    p.add_argument("--runs", default=None, help="comma-separated runs to train (default: all); merged into the "
                                                "existing results")
    args = p.parse_args(argv)
    budget = QUICK if args.quick else FULL
    runs = list(budget) if args.runs is None else [r for r in args.runs.split(",") if r]  # "" re-summarises
    unknown = set(runs) - set(budget)
    if unknown:
        raise SystemExit(f"unknown runs {sorted(unknown)}; choose from {list(budget)}")
    episodes = args.episodes or (10 if args.quick else 200)
    details: dict = {"steps": budget, "eval_episodes": episodes, "chance": {"3": 1 / 3, "5": 1 / 5, "8": 1 / 8},
                     "eval_actions": "sampled from the policy (seeded); dcem also with argmax actions"}
    minutes: dict[str, float] = {}
    evals: dict[str, dict] = {}
    path = args.out or RESULTS / "fastmap.json"
    if args.runs is not None and not args.quick and path.exists():      # merge into the previous full run
        previous = json.loads(path.read_text())["details"]
        evals.update(previous["evaluations"])
        minutes.update(previous["train_minutes_by_agent"])
    for run in runs:
        steps = budget[run]
        agent = "dcem" if run.startswith("dcem") else run
        config = TrainConfig(agent=agent, steps=steps, reward="intrinsic" if run == "dcem_intrinsic" else "shaping")
        model, minutes[run] = train(config)
        conditions = [("heldout_names", 3), ("heldout", 3)]
        if run == "dcem":
            conditions += [("heldout_names", 5), ("heldout_names", 8), ("heldout", 5), ("heldout", 8)]
        evals[run] = {f"{split}_{n}": evaluate(model, agent, episodes, n, split).as_dict() for split, n in conditions}
        if run == "dcem":   # argmax actions instead of sampling: it can dither in place (timeouts)
            evals[run]["heldout_names_3_deterministic"] = evaluate(model, agent, episodes, 3, "heldout_names",
                                                                   deterministic=True).as_dict()
        print(run, f"{minutes[run]:.1f} min", {k: v["success"] for k, v in evals[run].items()}, flush=True)
        if args.save_assets and run in SAVED:
            ASSETS.mkdir(exist_ok=True)
            model.save(str(ASSETS / SAVED[run]))
    details.update(evaluations=evals, train_minutes_by_agent={k: round(v, 2) for k, v in minutes.items()})
    s = lambda run, cond="heldout_names_3": evals[run][cond]["success"]  # noqa: E731

    def pick_accuracy(run: str) -> float:
        """Right picks among all picks (timeouts left out): chance is 1/3 whatever the agent's motor skill."""
        e = evals[run]["heldout_names_3"]
        return round(e["success"] / max(e["success"] + e["wrong"], 1e-9), 3)
    headline = {
        "success_memory": s("dcem"),
        "success_no_memory": s("no_memory"),
        "success_no_memory_same_net": s("memoryless"),
        "success_lstm": s("lstm"),
        "success_oracle": s("oracle"),
        "success_memory_heldout_objects": s("dcem", "heldout_3"),
        "success_memory_5_objects": s("dcem", "heldout_names_5"),
        "success_memory_8_objects": s("dcem", "heldout_names_8"),
        "success_memory_shaping": s("dcem"),
        "success_memory_deterministic": s("dcem", "heldout_names_3_deterministic"),
        "success_memory_intrinsic": s("dcem_intrinsic"),
        **{f"pick_accuracy_{name}": pick_accuracy(run) for name, run in
           (("memory", "dcem"), ("no_memory", "no_memory"), ("no_memory_same_net", "memoryless"),
            ("lstm", "lstm"))},
        "train_steps_per_agent": budget["dcem"],
        "train_minutes": round(sum(minutes.values()), 1),
        "train_minutes_memory": round(minutes["dcem"], 1),
        "device": f"cpu ({os.cpu_count()} cores, shared; 1 torch thread per run)",
        "quick": args.quick,
    }
    finish("fastmap", details, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
