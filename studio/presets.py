"""Named reward presets: what the Studio page offers as a starting reward for each world, and the run config
it builds from the picker's choices. No streamlit here: the same function feeds a notebook or a test.

A preset is a :class:`~studio.spec.RewardSpec` plus the world arguments it needs. A CLIP prompt describes one
scene ("the red cube is on the blue pad"), so the CLIP presets of the manipulation worlds fix the colours and
shapes (:data:`CLIP_SCENES`); positions stay random. The humanoid's CLIP prompts are VLM-RM's, one per pose.

=====================  ====================================================================================
preset                 terms
=====================  ====================================================================================
dense                  the world's own terms (the dense reference reward), weight 1
clip                   one CLIP term (VLM-RM projection, alpha 1 for objects, 0.5 for poses) and nothing else
clip_shaping           manipulation: CLIP + potential-based shaping toward the goal; humanoid: CLIP + the
                       world's control cost
sparse_shaping         manipulation: the world's success term + shaping (the classic sparse-reward fix)
dense (fastmap)        object-naming room: ``success`` + the world's ``naming`` shaping (0.1 per first naming)
seek_names             object-naming room: ``success`` + the memory's seek-names bonus (weight 0.1) instead of
                       the world's shaping (``shaping: 0``); needs a memory agent (``dcem``/``memoryless``)
=====================  ====================================================================================

The object-naming room (family ``fastmap``) trains a memory agent or a baseline (``agent``:
``dcem`` by default, ``memoryless``, ``no_memory``, ``lstm``; see :mod:`agents.memory.train`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import worlds
from studio.spec import RewardSpec, RunConfig, SpecError, default_reward_spec, parse_run_config

# A scene a CLIP prompt can describe: fixed colours and shapes (the studio CLIP was trained on such captions).
CLIP_SCENES: dict[str, dict[str, Any]] = {
    "push": {"colors": ["red"], "shapes": ["cube"], "pad_colors": ["blue"]},
    "pick_place": {"colors": ["red"], "shapes": ["cube"], "pad_colors": ["blue"]},
    "stack": {"colors": ["red", "green"], "shapes": ["cube", "cube"]},
}
SHAPING_POTENTIAL = {"reach": "neg_tcp_object_distance", "push": "neg_object_goal_distance_xy",
                     "pick_place": "neg_object_goal_distance", "stack": "neg_object_goal_distance"}
SHAPING_WEIGHT = 10.0      # potentials are in metres; x10 makes a 4 cm step worth about 0.4
ALGO_TITLES = {"ppo": "PPO", "sac": "SAC", "recurrent_ppo": "Recurrent PPO"}
AGENT_TITLES = {"dcem": "Dual-coding memory (DCEM)", "memoryless": "Same network, memory off",
                "no_memory": "PPO without memory", "lstm": "Recurrent PPO (LSTM)"}
SEEK_NAMES_WEIGHT = 0.1    # the world's naming shaping pays 0.1 per first naming; the bonus replaces it 1:1
FRAME_EVERY_S = 0.15       # the live frame interval: ~6.7 frames/s while the agent acts, 5+ on average with PPO updates
FRAME_SIZE = 192         # the reward profile renders and encodes this in ~4 ms: ~2% of training at 5/s


@dataclass(frozen=True)
class Preset:
    """One named starting reward: ``key`` (stable id), ``title`` (what the picker shows), ``summary``."""

    key: str
    title: str
    summary: str
    uses_clip: bool = False


PRESETS: dict[str, Preset] = {p.key: p for p in (
    Preset("dense", "Dense reference (world terms)",
           "The world's own hand-written reward terms: the baseline every learned reward is compared with."),
    Preset("clip", "CLIP prompt only",
           "Only a CLIP reward from a goal prompt and a baseline prompt (VLM-RM). The agent never sees the "
           "world's terms: watch ground-truth success to catch it rewarding the wrong thing.", True),
    Preset("clip_shaping", "CLIP + shaping",
           "The CLIP reward plus potential-based shaping toward the goal, which speeds learning without "
           "changing what the agent should want.", True),
    Preset("sparse_shaping", "Sparse success + shaping",
           "1 only when the task succeeds, plus potential-based shaping: the classic way to make a sparse "
           "reward learnable."),
    Preset("seek_names", "Task + seek-names bonus",
           "Success, plus the dual-coding memory's intrinsic bonus for hearing a name for an object it holds no "
           "name for yet, instead of the world's naming shaping. Needs a memory agent; switch or weight it live."),
)}


def _task(world_id: str) -> str:
    info = worlds.WORLDS[world_id]
    return info.kwargs.get("task", "") if info.family == "manipulation" else info.kwargs.get("pose", "")


def presets_for(world_id: str) -> list[Preset]:
    """The presets that make sense for ``world_id`` (no CLIP prompt for reach: no caption names the gripper)."""
    family, task = worlds.WORLDS[world_id].family, _task(world_id)
    if family == "fastmap":
        keys = ["dense", "seek_names"]
    elif family == "humanoid":
        keys = ["dense", "clip", "clip_shaping"]
    elif task == "reach":
        keys = ["dense", "sparse_shaping"]
    else:
        keys = ["dense", "clip", "clip_shaping", "sparse_shaping"]
    return [PRESETS[k] for k in keys]


def preset_title(key: str, world_id: str) -> str:
    """The picker's label; the humanoid's "CLIP + shaping" is CLIP + control cost (no object to shape toward)."""
    if key == "clip_shaping" and worlds.WORLDS[world_id].family == "humanoid":
        return "CLIP + control cost"
    if key == "dense" and worlds.WORLDS[world_id].family == "fastmap":
        return "Task + naming shaping"
    return PRESETS[key].title


def clip_prompts(world_id: str, world_kwargs: dict[str, Any] | None = None) -> tuple[str, str]:
    """A goal and a baseline prompt describing ``world_id``'s task in its fixed-colour scene."""
    from agents.vlm.captions import Facts, caption

    env = worlds.make(world_id, render_mode=None, **(world_kwargs or {}))
    try:
        env.reset(seed=0)
        desc = env.unwrapped.describe()
        if worlds.WORLDS[world_id].family == "humanoid":
            return desc.caption, desc.baseline
        ref = desc.objects[1] if desc.task == "stack" else desc.pads[0]
        template = "the {obj} is {rel} the {ref}"
        return (caption(Facts(obj=desc.objects[0], ref=ref, relation="on"), template),
                caption(Facts(obj=desc.objects[0], ref=ref, relation="far from"), template))
    finally:
        env.close()


def preset_reward(key: str, world_id: str) -> tuple[RewardSpec, dict[str, Any]]:
    """The preset's reward spec and the world arguments it needs (fixed colours for CLIP prompts).

    Raises:
        SpecError: ``key`` is not a preset of this world (the message lists the ones that are).
    """
    allowed = [p.key for p in presets_for(world_id)]
    if key not in allowed:
        raise SpecError(f"reward preset {key!r} does not apply to {world_id}; choose one of {allowed}",
                        [("preset", "unknown")])
    family, task = worlds.WORLDS[world_id].family, _task(world_id)
    if key == "dense":
        return default_reward_spec(world_id), {}
    if key == "seek_names":   # the bonus replaces the world's naming shaping
        return RewardSpec(terms=[{"kind": "world", "key": "success"},
                                 {"kind": "seek_names", "weight": SEEK_NAMES_WEIGHT}]), {"shaping": 0.0}
    kwargs = dict(CLIP_SCENES.get(task, {})) if PRESETS[key].uses_clip and family == "manipulation" else {}
    terms: list[dict[str, Any]] = []
    if PRESETS[key].uses_clip:
        goal, base = clip_prompts(world_id, kwargs)
        terms.append({"kind": "clip", "goal_prompts": [goal], "baseline_prompts": [base],
                      "alpha": 0.5 if family == "humanoid" else 1.0})
    if key == "clip_shaping" and family == "humanoid":
        terms.append({"kind": "world", "key": "ctrl"})
    elif key in ("clip_shaping", "sparse_shaping"):
        if key == "sparse_shaping":
            terms.append({"kind": "world", "key": "success"})
        terms.append({"kind": "shaping", "potential": SHAPING_POTENTIAL[task], "gamma": 0.99,
                      "weight": SHAPING_WEIGHT})
    return RewardSpec(terms=terms), kwargs


def parse_algo_args(text: str, algo: str) -> dict[str, Any]:
    """The "Algorithm arguments" box: ``name: value`` lines (YAML) checked against the algorithm's constructor.

    Raises:
        SpecError: not ``name: value`` lines, an unknown argument, or a word where the default is a number.
    """
    import inspect

    import yaml

    from agents.sb3_factory import algo_class
    from studio.spec import algo_arguments, parse_value

    if not text.strip():
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict):
        raise SpecError("algorithm arguments must be `name: value` lines, e.g. `learning_rate: 0.0003`",
                        [("algo_kwargs", "not a mapping")])
    allowed = algo_arguments(algo)
    params = inspect.signature(algo_class(algo).__init__).parameters
    out, errors = {}, []
    for name, value in data.items():
        value = parse_value(value) if isinstance(value, str) else value
        if name not in allowed:
            errors.append((f"algo_kwargs.{name}", f"{name} is not a {ALGO_TITLES.get(algo, algo)} argument; "
                                                  f"choose from {', '.join(sorted(allowed))}"))
            continue
        default = params[name].default
        if isinstance(default, (int, float)) and not isinstance(default, bool) and (
                isinstance(value, bool) or not isinstance(value, (int, float))):
            errors.append((f"algo_kwargs.{name}", f"{name}: {value!r} is not a number (default {default})"))
            continue
        out[name] = value
    if errors:
        raise SpecError("; ".join(m for _, m in errors), errors)
    return out


def run_config(world_id: str, preset: str, *, algo: str = "ppo", n_envs: int = 4, total_steps: int = 200_000,
               seed: int = 0, algo_kwargs: dict[str, Any] | None = None, name: str = "",
               frame_every_s: float = FRAME_EVERY_S, frame_size: int = FRAME_SIZE, record: bool = False,
               agent: str | None = None, clip_model: str | None = None,
               subprocess_envs: bool = False, demos: int = 0, standardize_reward: bool = False,
               normalize: bool = False) -> RunConfig:
    """The validated run config for the Studio page's choices (the UI's only output). ``agent``: the policy
    (``None``: the world's default, ``mlp``, or ``dcem`` in the object-naming room); ``lstm`` trains with
    Recurrent PPO whatever ``algo`` says, the other memory-room agents with PPO. ``clip_model``: the CLIP
    model setting (``None`` or blank: ``$STUDIO_CLIP_MODEL`` or the studio CLIP, fixed when the run starts).
    ``demos``: scripted demonstration episodes for SAC or PPO on a table-top world (``RunConfig.demos``);
    ``standardize_reward``: SAC learns from the reward standardised (``RunConfig.standardize_reward``);
    ``normalize``: PPO learns from observations and rewards normalised (``RunConfig.normalize``).

    Raises:
        SpecError: naming the bad field (e.g. ``algo_kwargs ['n_step'] are not ppo arguments``).
    """
    if world_id not in worlds.WORLDS:
        raise SpecError(f"unknown world {world_id!r}; choose one of {worlds.world_ids()}", [("world_id", "unknown")])
    reward, world_kwargs = preset_reward(preset, world_id)
    extra: dict[str, Any] = {}
    if agent not in (None, "mlp"):
        extra = {"agent": agent, "algo": "recurrent_ppo" if agent == "lstm" else "ppo"}
    elif agent == "mlp":
        extra = {"agent": agent}
    return parse_run_config({
        "world_id": world_id, "world_kwargs": world_kwargs, "algo": algo, "algo_kwargs": algo_kwargs or {},
        "reward": reward.model_dump(mode="json"), "seed": seed, "n_envs": n_envs, "total_steps": total_steps,
        "name": name or preset.replace("_", "-"),
        "telemetry": {"frame_every_s": frame_every_s, "frame_size": frame_size},
        "recording": {"enabled": bool(record)}, "clip_model": clip_model,
        "subprocess_envs": bool(subprocess_envs), "demos": int(demos),
        "standardize_reward": bool(standardize_reward), "normalize": bool(normalize), **extra})


__all__ = ["AGENT_TITLES", "ALGO_TITLES", "CLIP_SCENES", "PRESETS", "Preset", "clip_prompts", "parse_algo_args",
           "preset_reward",
           "preset_title", "presets_for", "run_config"]
