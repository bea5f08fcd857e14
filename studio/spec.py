"""Typed, validated, serialisable documents: the reward spec and the run config.

:class:`RewardSpec` is what a person edits while an agent trains: a list of reward terms, each a world term
(``{kind: world, key: push}``), a CLIP term (``{kind: clip, goal_prompts: [...], ...}``), potential-based
shaping (``{kind: shaping, potential: ...}``) or the dual-coding memory's seek-names bonus
(``{kind: seek_names, weight: 0.1}``), with a weight and an on/off switch. :class:`RunConfig` is one
training run: world, algorithm, agent (policy), hyperparameters, reward spec, seed, device, number of envs, telemetry.
The UI's only output is a ``RunConfig``; the same object drives ``python -m studio train`` headless.

Both are frozen pydantic models with one documented field per setting (CleanRL style): read them top to
bottom to know every knob, vary them in a sweep with :meth:`RunConfig.with_overrides`, and save or load them
as YAML or JSON. Every validation error is a :class:`SpecError` (a ``ValueError``) whose message names the
field, e.g. ``terms[1].alpha: Input should be less than or equal to 1 (got 1.5). alpha: VLM-RM
regularisation in [0, 1] ...``: the field's own description says how to fix it.

Versions: the worker that trains owns the version counter. An edited spec sent to a session gets
``version = previous + 1``, ``created_at`` (wall time of the request) and ``effective_step`` (the env step
after which the agent's reward uses it) when the worker applies it; the run's ``specs/`` folder keeps every
version.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (BaseModel, ConfigDict, Field, StrictBool, ValidationError, ValidationInfo, field_validator,
                      model_validator)

ALGOS = ("ppo", "sac", "recurrent_ppo")
AGENTS = ("mlp", "dcem", "memoryless", "no_memory", "lstm")
MEMORY_AGENTS = ("dcem", "memoryless")    # agents whose wrapper writes info["memory_new_name"]
MEMORY_FAMILIES = ("fastmap",)            # world families with dict observations for the memory agents
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
_FROZEN = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True,
                     use_attribute_docstrings=True)


class SpecError(ValueError):
    """A spec or config that does not validate; the message names each bad field and how to fix it.

    Attributes:
        errors: ``[(field path, message)]``, e.g. ``[("terms[1].alpha", "Input should be ...")]``.
    """

    def __init__(self, message: str, errors: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.errors = errors or []

    @property
    def fields(self) -> list[str]:
        """The bad fields' paths."""
        return [path for path, _ in self.errors]


# ---------------------------------------------------------------------------------------------- reward terms
class _Term(BaseModel):
    model_config = _FROZEN

    name: Annotated[str | None, Field(pattern=NAME_PATTERN, max_length=40)] = None
    """The term's name in the stack (lower_snake_case); it becomes ``info["reward_<name>"]`` and a telemetry
    column. Default: the world term's ``key``, ``"clip"`` or ``"shaping"``; give one when two terms would
    share it."""
    weight: Annotated[float, Field(ge=-1e6, le=1e6)] = 1.0
    """Multiplier on the term's value (0 silences it, negative penalises); a finite number."""
    enabled: StrictBool = True
    """``false`` keeps the term in the spec (and its column in telemetry, at 0) without computing it."""

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str | None) -> str | None:
        if name is None:
            return name
        from agents.rewards.stack import RESERVED_NAMES  # lazy: agents.rewards pulls in SB3 and torch

        if name in RESERVED_NAMES:
            raise ValueError(f"{name!r} is reserved ({sorted(RESERVED_NAMES)}); pick another name")
        return name

    @property
    def term_name(self) -> str:
        """The name this term has in the stack."""
        return self.name or self._default_name()

    def _default_name(self) -> str:
        raise NotImplementedError

    def to_params(self) -> dict[str, Any]:
        """A plain dict for :func:`agents.reward_factory.build_stack` (agents never see studio types)."""
        return {**self.model_dump(mode="json"), "name": self.term_name}


class WorldTermSpec(_Term):
    """One of the world's own task terms, ``info["reward_<key>"]`` (already weighted by the world)."""

    kind: Literal["world"] = "world"
    key: Annotated[str, Field(pattern=NAME_PATTERN, max_length=40)]
    """The world's term name: ``reach``, ``push``, ``grasp``, ``lift``, ``place`` or ``success`` in the
    manipulation worlds (see the world's docstring table)."""

    def _default_name(self) -> str:
        return self.key


class ClipTermSpec(_Term):
    """A CLIP reward on the frame after each step (VLM-RM projection or a success classifier)."""

    kind: Literal["clip"] = "clip"
    goal_prompts: Annotated[list[Annotated[str, Field(min_length=1, max_length=300, pattern=r"\S")]],
                            Field(min_length=1, max_length=16)]
    """Descriptions of the goal state, e.g. ``["a red cube on the green pad"]`` (1 to 16 non-empty strings)."""
    baseline_prompts: Annotated[list[Annotated[str, Field(min_length=1, max_length=300, pattern=r"\S")]],
                                Field(min_length=1, max_length=16)]
    """Descriptions of the neutral scene, as many as ``goal_prompts``, e.g. ``["a red cube on a table"]``."""
    alpha: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    """VLM-RM regularisation in [0, 1]: 0 is plain cosine similarity to the goal, 1 keeps only the
    goal-baseline direction (the paper used 0 to 0.5)."""
    mode: Literal["projection", "success"] = "projection"
    """``projection``: dense VLM-RM reward; ``success``: 1 when p(goal caption) > ``threshold``, else 0."""
    threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    """Success-mode probability threshold, strictly between 0 and 1."""
    camera: Annotated[str | None, Field(pattern=NAME_PATTERN, max_length=40)] = None
    """Camera whose frames are scored (``workspace``, ``front``, ``top``, ``wrist``); default: the world's
    reward camera (``workspace`` in the manipulation worlds)."""

    @model_validator(mode="after")
    def _prompts_pair(self) -> "ClipTermSpec":
        if len(self.goal_prompts) != len(self.baseline_prompts):
            raise ValueError(f"goal_prompts has {len(self.goal_prompts)} prompts but baseline_prompts has "
                             f"{len(self.baseline_prompts)}; VLM-RM needs lists of equal length (repeat one)")
        if sorted(self.goal_prompts) == sorted(self.baseline_prompts):
            raise ValueError("goal_prompts and baseline_prompts are the same; the reward measures the direction "
                             "from the baseline to the goal, so they must differ")
        return self

    def _default_name(self) -> str:
        return "clip"


class ShapingTermSpec(_Term):
    """Potential-based shaping ``gamma * phi(s') - phi(s)``: changes how fast an agent learns, not what it
    wants (EPIC distance about 0)."""

    kind: Literal["shaping"] = "shaping"
    potential: str = "neg_object_goal_distance"
    """A named potential ``phi(obs)`` from :data:`agents.rewards.terms.POTENTIALS`:
    ``neg_object_goal_distance``, ``neg_object_goal_distance_xy`` or ``neg_tcp_object_distance``."""
    gamma: Annotated[float, Field(ge=0.0, le=1.0)] = 0.99
    """Discount in [0, 1]; use the algorithm's ``gamma`` (0.99 by default) so optimal policies do not change."""

    @field_validator("potential")
    @classmethod
    def _known_potential(cls, potential: str) -> str:
        from agents.rewards.terms import POTENTIALS

        if potential not in POTENTIALS:
            raise ValueError(f"unknown potential {potential!r}; choose one of {sorted(POTENTIALS)}")
        return potential

    def _default_name(self) -> str:
        return "shaping"


class SeekNamesTermSpec(_Term):
    """The dual-coding memory's intrinsic bonus (Hill et al. 2021): 1 on a step that hears a name for an object
    the memory holds no name for yet. Reads ``info["memory_new_name"]``, which only the memory agents' wrapper
    writes (``agent: dcem`` or ``memoryless`` on ``studio/FastMapRoom-v0``); use it with the world's
    ``shaping: 0`` to replace the naming shaping."""

    kind: Literal["seek_names"] = "seek_names"
    cap: Annotated[float, Field(ge=0.0, le=10.0)] = 1.0
    """Most the term pays per step, in [0, 10] (1: one unit per newly named object, before ``weight``)."""

    def _default_name(self) -> str:
        return "seek_names"


SEEK_NAMES_INFO_KEY = "memory_new_name"   # agents.memory.seek_names.INFO_KEY (spec stays free of torch)
TermSpec = Annotated[Union[WorldTermSpec, ClipTermSpec, ShapingTermSpec, SeekNamesTermSpec],
                     Field(discriminator="kind")]


class RewardSpec(BaseModel):
    """A versioned reward: the terms that sum to the reward the agent sees.

    Example (YAML)::

        terms:
          - {kind: world, key: reach, weight: 1.0}
          - {kind: shaping, potential: neg_tcp_object_distance, weight: 2.0}
          - {kind: clip, goal_prompts: [a red cube on the green pad], baseline_prompts: [a red cube on a table]}
    """

    model_config = _FROZEN

    terms: Annotated[list[TermSpec], Field(min_length=1, max_length=32)]
    """The reward terms (1 to 32), each ``{kind: world | clip | shaping | seek_names, ...}``; names must be
    unique."""
    version: Annotated[int, Field(ge=0)] = 0
    """Set by the training worker: 0 for the run's first spec, +1 for each applied edit."""
    created_at: Annotated[float | None, Field(ge=0)] = None
    """Wall time (Unix seconds) the edit was requested; set when it is sent."""
    effective_step: Annotated[int | None, Field(ge=0)] = None
    """Env steps done when the worker applied it: every later step is rewarded by this spec."""
    note: Annotated[str, Field(max_length=500)] = ""
    """Free text shown beside the edit in charts ("doubled the push weight")."""

    @model_validator(mode="after")
    def _unique_names_one_camera(self) -> "RewardSpec":
        names = [t.term_name for t in self.terms]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"term names {dupes} appear more than once; give each term a distinct `name`")
        cameras = {t.camera for t in self.terms if isinstance(t, ClipTermSpec) and t.camera is not None}
        if len(cameras) > 1:
            raise ValueError(f"clip terms use cameras {sorted(cameras)}; the stack renders one reward camera, so "
                             f"give every clip term the same `camera`")
        return self

    @property
    def names(self) -> list[str]:
        """Term names in order: the telemetry's term columns."""
        return [t.term_name for t in self.terms]

    @property
    def camera(self) -> str | None:
        """The reward camera the clip terms ask for (``None``: the world's default)."""
        return next((t.camera for t in self.terms if isinstance(t, ClipTermSpec) and t.camera), None)

    def term_params(self) -> list[dict[str, Any]]:
        """The terms as plain dicts for :mod:`agents.reward_factory`."""
        return [t.to_params() for t in self.terms]

    def check_world_terms(self, world_terms: list[str] | None, info_keys: list[str] | None = None) -> "RewardSpec":
        """Check every world term's ``key`` against the world's terms (when known), and every seek-names term
        against the keys the run's infos carry (when known); returns self.

        Raises:
            SpecError: naming ``terms[i].key`` and the world's terms, or ``terms[i].kind`` for a seek-names
                term on a run whose infos lack ``memory_new_name``.
        """
        errors = [(f"terms[{i}].key", f"{t.key!r} is not a term of this world; choose one of {sorted(world_terms)}")
                  for i, t in enumerate(self.terms)
                  if world_terms and isinstance(t, WorldTermSpec) and t.key not in world_terms]
        if info_keys is not None and SEEK_NAMES_INFO_KEY not in info_keys:
            errors += [(f"terms[{i}].kind", f"seek_names reads info[{SEEK_NAMES_INFO_KEY!r}], which this run's "
                                            f"infos lack; only the dual-coding memory writes it (world "
                                            f"studio/FastMapRoom-v0 with agent dcem or memoryless): remove the "
                                            f"term or train such an agent")
                       for i, t in enumerate(self.terms) if isinstance(t, SeekNamesTermSpec)]
        if errors:
            raise SpecError(_format(errors), errors)
        return self

    def bump(self, version: int, created_at: float | None = None, effective_step: int | None = None) -> "RewardSpec":
        """A copy with new version bookkeeping (the terms are unchanged)."""
        return self.model_copy(update={"version": int(version), "created_at": created_at,
                                       "effective_step": effective_step})


# ---------------------------------------------------------------------------------------------- run config
class TelemetryConfig(BaseModel):
    """What the worker records and how it listens for commands."""

    model_config = _FROZEN

    enabled: StrictBool = True
    """Record per-step and per-episode telemetry, status and frames (off: status only, for benchmarks)."""
    live_channel: StrictBool = True
    """Poll the command inbox (pause, edit, save, ...) at step boundaries; off: only total_steps stops it."""
    step_every: Annotated[int, Field(ge=1, le=10_000)] = 1
    """Record every n-th vector step (1: every step)."""
    flush_every_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    """Seconds between telemetry flushes: what a reader (or a crash) can lose at most."""
    frame_every_s: Annotated[float, Field(ge=0, le=3600)] = 2.0
    """Seconds between latest-frame snapshots of env 0 (0: no frames)."""
    frame_size: Annotated[int, Field(ge=16, le=512)] = 128
    """Side of the square latest-frame snapshot, in pixels."""
    rescore_on_edit: StrictBool = True
    """On-policy (PPO): re-score the current rollout with the new reward when an edit lands mid-rollout."""
    relabel_replay: StrictBool = True
    """Off-policy (SAC): relabel the replay buffer's rewards from stored terms and embeddings on each edit."""
    epic_on_edit: StrictBool = True
    """Compute the EPIC distance between old and new reward over recent transitions for each edit."""
    transition_window: Annotated[int, Field(ge=64, le=200_000)] = 4096
    """Recent transitions kept for EPIC (env steps)."""
    epic_coverage: Annotated[int, Field(ge=16, le=20_000)] = 512
    """Transitions the EPIC distance is evaluated on."""
    epic_samples: Annotated[int, Field(ge=8, le=2_000)] = 64
    """Sampled (action, next state) pairs for EPIC's canonicalisation expectations."""


class RecordingConfig(BaseModel):
    """Whether and how a training run records what its agents play (see :mod:`studio.recording`)."""

    model_config = _FROZEN

    enabled: StrictBool = False
    """Record every training episode of every env into a Minari dataset (``recordings/`` in the run folder)."""
    video_every: Annotated[int, Field(ge=0, le=100_000)] = 10
    """Film every n-th episode of env 0 as an MP4 (0: no videos). Filming costs render time: on a 2-core CPU
    every 10th episode of env 0 (of 4 envs) costs about 1-2% of training speed."""
    video_camera: str | None = None
    """The world camera to film (``None``: the world's default camera, e.g. ``front``)."""
    video_size: Annotated[int, Field(ge=32, le=1024)] = 160
    """Side of the square video frames, in pixels."""


class CurriculumConfig(BaseModel):
    """Lessons taught in order (:class:`agents.curriculum.Curriculum`): each a dict of world settings applied
    between episodes through the world's ``set_<name>`` (e.g. ``{pad_distance: [0.07, 0.10]}`` on push and
    pick-and-place; ``null`` restores the world's default), held until the last ``window`` training episodes of
    the lesson reach ``promote_at`` ground-truth success. The reward is not touched: only where episodes start."""

    model_config = _FROZEN

    lessons: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=100)]
    """The lessons, easiest first; the last (normally the task as it is judged) is kept to the end."""
    promote_at: Annotated[float, Field(gt=0, le=1)] = 0.7
    """Training success rate over ``window`` episodes of a lesson that moves on to the next."""
    window: Annotated[int, Field(ge=1, le=100_000)] = 100
    """Episodes of a lesson its success rate is measured over."""


class RunConfig(BaseModel):
    """One training run: everything the worker needs, frozen and serialisable (see module docstring)."""

    model_config = _FROZEN

    world_id: str = "studio/Reach-v0"
    """A registered studio world (``worlds.world_ids()``), e.g. ``studio/Push-v0``."""
    world_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for ``worlds.make`` (see the world's Arguments table), e.g. ``{n_objects: 2}``."""
    algo: Literal["ppo", "sac", "recurrent_ppo"] = "ppo"
    """``ppo`` (CPU default), ``sac`` or ``recurrent_ppo`` (sb3-contrib)."""
    algo_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Constructor arguments of the algorithm (``n_steps``, ``learning_rate``, ``gamma``, ...)."""
    reward: RewardSpec
    """The initial reward spec."""
    agent: Literal["mlp", "dcem", "memoryless", "no_memory", "lstm"] | None = None
    """The policy network. ``mlp`` (flat-observation worlds): SB3's MLP. On ``studio/FastMapRoom-v0``
    (dict observations, moves as 6 discrete actions) a memory agent or a baseline (``agents.memory.train``):
    ``dcem`` (dual-coding episodic memory, PPO), ``memoryless`` (the same network, memory never written),
    ``no_memory`` (PPO, SB3's dict extractor) or ``lstm`` (``algo: recurrent_ppo``). Default: ``mlp``, or
    ``dcem`` on the FastMap room."""
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    """Seeds the envs (env i gets seed + i) and the learner."""
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    """Torch device for the policy (``cpu`` is right for small MLPs)."""
    clip_model: str | None = None
    """The CLIP model of the run's CLIP terms (:data:`agents.vlm.clip_setting.CLIP_MODEL_HELP`): ``studio`` (the
    shipped studio CLIP), ``studio:/path/ckpt.pt``, or an open_clip ``NAME:TAG`` / ``NAME:/path/weights.pt``.
    ``None``: ``$STUDIO_CLIP_MODEL`` or ``studio``, written into the run's config when it starts, so a run is
    always evaluated and re-scored with the model it trained with."""
    n_envs: Annotated[int, Field(ge=1, le=64)] = 4
    """Parallel envs (a DummyVecEnv in the worker's process, or see ``subprocess_envs``)."""
    subprocess_envs: StrictBool = False
    """Step and render each env in its own process (SB3's SubprocVecEnv): faster for CLIP rewards when cores
    are free, a little slower for rewards that render nothing (``bench.vec_env`` measures both); ~130-150 MB of
    private memory per env with CLIP rendering, measured in the worker."""
    total_steps: Annotated[int, Field(ge=1, le=10**9)] = 100_000
    """Env steps to train for (summed over envs)."""
    demos: Annotated[int, Field(ge=0, le=1000)] = 0
    """Scripted demonstration episodes (``agents.scripted``) played through the run's reward before training.
    SAC keeps them beside its replay buffer; every batch draws half from them (``agents.demos``), and a reward
    edit relabels them with the agent's own steps (or drops them where it cannot: a CLIP term added to a reward
    that had none, or ``telemetry.relabel_replay`` off). PPO, which keeps no buffer, starts cloned from them: the
    policy from their actions, the value head from the returns they were paid (with ``normalize``, on its scale).
    They do not count in ``total_steps``. SAC or PPO (MLP policy) on the table-top worlds, with envs in the
    trainer's process. ``bench.clip_push`` measures what 50 do for a CLIP prompt, with either learner."""
    normalize: StrictBool = False
    """PPO only: the learner sees observations and rewards normalised by SB3's ``VecNormalize`` (running mean
    and variance of each observation entry; rewards divided by the spread of the discounted return), as
    ``bench.clip_push --algo ppo`` trains. Its statistics go into every checkpoint's ``.json`` as plain numbers
    (``agents.normalize``), and evaluation, Inspect and recorded evaluations play the policy through them.
    Telemetry, charts, recordings and reward edits keep the reward as the stack gives it."""
    standardize_reward: StrictBool = False
    """SAC only: the learner sees every reward standardised, ``(r - mean) / std``, with the mean and spread
    measured on its own stored steps when learning starts (after SAC's ``learning_starts`` steps, 1,000 by
    default: a few thousand give a steady figure) and, after each reward edit that relabels the buffer, measured
    again on those steps as the new reward pays them; an edit that cannot relabel keeps the map
    (``agents.reward_scale``). The replay buffer, telemetry, charts and recordings keep the reward as
    the stack gives it. Without it a term's weight is its scale, and a CLIP term's constant part (about 0.7 a
    step) goes into every Q-value; ``bench.clip_push`` standardises its CLIP reward the same way."""
    curriculum: CurriculumConfig | None = None
    """Teach the world lesson by lesson (:class:`CurriculumConfig`); ``None``: the world as it is from the start.
    ``bench.clip_push --curriculum`` measures what it does for a CLIP prompt on push."""
    checkpoint_every: Annotated[int, Field(ge=0)] = 0
    """Save a checkpoint every this many env steps (0: only on request and at the end)."""
    time_limit_s: Annotated[float | None, Field(gt=0)] = None
    """Stop (and save) after this many seconds of training; ``None``: no limit."""
    name: Annotated[str, Field(max_length=60, pattern=r"^[A-Za-z0-9_.-]*$")] = ""
    """Optional label put into the run id (letters, digits, ``_.-``)."""
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    """Telemetry and live-channel settings."""
    recording: RecordingConfig = Field(default_factory=RecordingConfig)
    """Recording of training episodes (off by default)."""

    @property
    def clip_setting(self) -> str:
        """The CLIP model this run uses: ``clip_model``, or ``studio`` for a run that recorded none (every run
        made before the setting existed used the studio CLIP)."""
        return self.clip_model or "studio"

    @field_validator("clip_model")
    @classmethod
    def _clip_model_form(cls, clip_model: str | None) -> str | None:
        clip_model = (clip_model or "").strip() or None      # blank is "not set": only None means the default
        if clip_model is not None:
            from agents.vlm.clip_setting import parse_clip_model

            parse_clip_model(clip_model)      # the form and the model name; the weights load when a term needs them
        return clip_model

    @field_validator("world_id")
    @classmethod
    def _known_world(cls, world_id: str) -> str:
        import worlds

        if world_id not in worlds.WORLDS:
            raise ValueError(f"unknown world {world_id!r}; choose one of {worlds.world_ids()}")
        return world_id

    @model_validator(mode="before")
    @classmethod
    def _lstm_algo(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("agent") == "lstm" and "algo" not in data:
            data = {**data, "algo": "recurrent_ppo"}  # the LSTM baseline is RecurrentPPO
        return data

    @field_validator("agent")
    @classmethod
    def _agent_fits(cls, agent: str | None, info: ValidationInfo) -> str:
        import worlds

        world_id, algo, reward = (info.data.get(k) for k in ("world_id", "algo", "reward"))
        memory_world = world_id in worlds.WORLDS and worlds.WORLDS[world_id].family in MEMORY_FAMILIES
        agent = agent or ("dcem" if memory_world else "mlp")
        if world_id is None or algo is None:
            return agent                      # those fields failed and are reported already
        if agent == "mlp" and memory_world:
            raise ValueError(f"{world_id} has dict observations an MLP cannot read; choose agent dcem, memoryless, "
                             f"no_memory or lstm")
        if agent != "mlp" and not memory_world:
            raise ValueError(f"agent {agent!r} reads the object-naming room's observations; use it with "
                             f"studio/FastMapRoom-v0, or agent mlp on {world_id}")
        want = "recurrent_ppo" if agent == "lstm" else "ppo" if agent != "mlp" else None
        if want and algo != want:
            raise ValueError(f"agent {agent!r} trains with algo {want!r}, not {algo!r}; set algo: {want}")
        if agent not in MEMORY_AGENTS and isinstance(reward, RewardSpec):
            for i, term in enumerate(reward.terms):
                if isinstance(term, SeekNamesTermSpec):
                    raise ValueError(f"reward.terms[{i}] is a seek_names term, which reads the dual-coding "
                                     f"memory; agent {agent!r} has none: choose agent dcem or memoryless, or "
                                     f"remove the term")
        return agent

    @model_validator(mode="after")
    def _demos_fit(self) -> "RunConfig":
        import worlds

        if not self.demos:
            return self
        if self.algo == "sac":
            self._sac_buffer_option(f"demos: {self.demos}", "demos: 0")
        elif self.algo != "ppo":       # PPO starts cloned from them (worker); no buffer is involved
            raise ValueError(f"demos: {self.demos} needs algo sac (kept beside its replay buffer) or ppo (cloned "
                             f"into its policy), not {self.algo!r}: set one of them, or demos: 0")
        if worlds.WORLDS[self.world_id].family != "manipulation":
            raise ValueError(f"demos: {self.demos}: the scripted controller plays the table-top worlds only, not "
                             f"{self.world_id}; set demos: 0")
        if self.subprocess_envs:
            raise ValueError(f"demos: {self.demos} needs the envs in the trainer's process (the controller reads "
                             "each env's true state): set subprocess_envs: false, or demos: 0")
        return self

    @model_validator(mode="after")
    def _normalize_fits(self) -> "RunConfig":
        if self.normalize and (self.algo != "ppo" or self.agent != "mlp"):
            fix = ("set algo: ppo" if self.algo != "ppo"
                   else "use agent mlp on a world with flat observations (table-top, humanoid, shared workspace)")
            raise ValueError(f"normalize: true is for PPO with the MLP policy (flat observations), not algo "
                             f"{self.algo!r} with agent {self.agent!r}: {fix}, or set normalize: false (SAC has "
                             f"standardize_reward)")
        return self

    @model_validator(mode="after")
    def _standardize_fits(self) -> "RunConfig":
        if self.standardize_reward:
            self._sac_buffer_option("standardize_reward: true", "standardize_reward: false")
        return self

    def _sac_buffer_option(self, said: str, off: str) -> None:
        """An option that lives in SAC's replay buffer (``agents.demos.DemoReplayBuffer``), ``said`` as the config
        says it, is refused with another algorithm or a buffer of the user's own, naming ``off`` as the way out."""
        if self.algo != "sac":
            raise ValueError(f"{said} needs algo sac (it lives in SAC's replay buffer), not {self.algo!r}: set "
                             f"algo: sac, or {off}")
        if "replay_buffer_class" in self.algo_kwargs:
            raise ValueError(f"{said} brings its own replay buffer (agents.demos.DemoReplayBuffer): remove "
                             f"algo_kwargs.replay_buffer_class, or set {off}")

    @model_validator(mode="after")
    def _curriculum_fits(self) -> "RunConfig":
        """Every lesson's settings, tried on the run's world now, so a bad one is named before training."""
        if self.curriculum is None:
            return self
        import worlds
        from agents.curriculum import check_lessons

        check_lessons(self.curriculum.lessons)
        try:
            env = worlds.make(self.world_id, **{**self.world_kwargs, "render_mode": None}).unwrapped
        except TypeError as exc:      # an argument the world does not take: pydantic reports ValueErrors only
            raise ValueError(f"world_kwargs {self.world_kwargs} do not build {self.world_id}: {exc}") from None
        try:
            for i, lesson in enumerate(self.curriculum.lessons):
                for key, value in lesson.items():
                    setter = getattr(env, f"set_{key}", None)
                    if setter is None:
                        raise ValueError(f"curriculum.lessons[{i}] sets {key!r}, which {self.world_id} cannot change "
                                         f"between episodes (it has no set_{key}); e.g. pad_distance on "
                                         f"studio/Push-v0 and studio/PickPlace-v0")
                    try:
                        setter(value)
                    except ValueError as exc:
                        raise ValueError(f"curriculum.lessons[{i}].{key}: {exc}") from None
        finally:
            env.close()
        return self

    @model_validator(mode="after")
    def _algo_arguments(self) -> "RunConfig":
        allowed = algo_arguments(self.algo)
        unknown = sorted(set(self.algo_kwargs) - allowed)
        if unknown:
            raise ValueError(f"algo_kwargs {unknown} are not {self.algo} arguments; choose from {sorted(allowed)}")
        json.dumps(self.world_kwargs)  # must serialise (TypeError becomes a validation error below)
        json.dumps(self.algo_kwargs)
        return self

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def with_overrides(self, overrides: dict[str, Any] | list[str]) -> "RunConfig":
        """A validated copy with dotted-path overrides: ``{"algo_kwargs.n_steps": 64}`` or ``["seed=3"]``.

        String values in ``key=value`` form are parsed as YAML (``3`` is an int, ``[a, b]`` a list).
        """
        if isinstance(overrides, (list, tuple)):
            pairs = {}
            for item in overrides:
                if "=" not in item:
                    raise SpecError(f"override {item!r} is not key=value, e.g. algo_kwargs.n_steps=64")
                key, value = item.split("=", 1)
                pairs[key.strip()] = parse_value(value)
            overrides = pairs
        data = self.to_dict()
        for path, value in overrides.items():
            node = data
            *parents, leaf = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise SpecError(f"override {path!r}: {part!r} is not a section", [(path, "not a section")])
            node[leaf] = value
        return parse_run_config(data)


def parse_value(text: str) -> Any:
    """A command-line value as YAML (``3`` int, ``[a, b]`` list, ``true``), with ``1e-3`` read as a float."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def algo_arguments(algo: str) -> set[str]:
    """Constructor argument names of an algorithm (without ``policy``, ``env``, ``seed``, ``device``)."""
    from agents.sb3_factory import algo_class  # lazy: SB3 and torch

    cls = algo_class(algo)
    return set(inspect.signature(cls.__init__).parameters) - {"self", "policy", "env", "seed", "device",
                                                              "tensorboard_log", "_init_setup_model"}


# ---------------------------------------------------------------------------------------------- parsing
def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("world", "clip", "shaping", "seek_names") and out.endswith("]"):
            continue  # the discriminated union's tag adds nothing for a person
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def _hint(model: type[BaseModel], loc: tuple) -> str:
    """The description (attribute docstring) of the field at ``loc``; empty when unknown."""
    kinds = {"world": WorldTermSpec, "clip": ClipTermSpec, "shaping": ShapingTermSpec,
             "seek_names": SeekNamesTermSpec}
    nested = {"reward": RewardSpec, "telemetry": TelemetryConfig}
    current: Any = model
    desc = ""
    for part in loc:
        if isinstance(part, int):
            continue
        if current is None:  # inside the term list: the next part is the union's tag
            current = kinds.get(part)
            continue
        info = current.model_fields.get(part)
        if info is None:
            return desc
        desc = " ".join((info.description or "").split())
        current = None if part == "terms" else nested.get(part)
        if current is None and part != "terms":
            return desc
    return desc


def _format(errors: list[tuple[str, str]], hints: list[str] | None = None) -> str:
    lines = []
    for i, (path, msg) in enumerate(errors):
        hint = (hints or [""] * len(errors))[i]
        lines.append(f"{path}: {msg}" + (f" ({path.split('.')[-1].split('[')[0]}: {hint})" if hint else ""))
    return "invalid " + ("; ".join(lines) if len(lines) < 2 else "\n  " + "\n  ".join(lines))


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _from_validation(exc: ValidationError, model: type[BaseModel]) -> SpecError:
    errors, hints = [], []
    for err in exc.errors(include_url=False):
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") not in ("missing", "extra_forbidden") and "input" in err \
                and not isinstance(err["input"], (dict, list)):
            msg += f" (got {_short(err['input'])})"
        if err.get("type") == "extra_forbidden":
            msg = "unknown field; remove it or check its spelling"
        errors.append((_loc(tuple(err.get("loc", ()))), msg))
        hints.append(_hint(model, tuple(err.get("loc", ()))) if err.get("type") != "extra_forbidden" else "")
    return SpecError(_format(errors, hints), errors)


def _parse(model: type[BaseModel], data: Any) -> Any:
    if isinstance(data, model):
        return data
    if isinstance(data, (str, Path)):
        data = load_document(data)
    if not isinstance(data, dict):
        raise SpecError(f"invalid (document): expected a mapping of fields, got {type(data).__name__}; "
                        f"write e.g. `terms: [{{kind: world, key: reach}}]`", [("(document)", "not a mapping")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _from_validation(exc, model) from None
    except (TypeError, ValueError, RecursionError, OverflowError) as exc:  # e.g. unserialisable kwargs
        raise SpecError(f"invalid (document): {exc}", [("(document)", str(exc))]) from None


def parse_reward_spec(data: Any) -> RewardSpec:
    """Validate a reward spec from a dict, a YAML/JSON string or path, or a :class:`RewardSpec`.

    Raises:
        SpecError: naming every bad field (``terms[1].alpha``) and what it should be.
    """
    return _parse(RewardSpec, data)


def parse_run_config(data: Any) -> RunConfig:
    """Validate a run config from a dict, YAML/JSON text or path, or a :class:`RunConfig` (see
    :func:`parse_reward_spec`)."""
    return _parse(RunConfig, data)


def load_document(source: str | Path) -> Any:
    """A YAML or JSON document from a path or from text (JSON is YAML)."""
    text = source
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and len(source) < 4096
                                    and Path(source).suffix in (".yaml", ".yml", ".json")):
        path = Path(source)
        if not path.is_file():
            raise SpecError(f"{path} does not exist; pass a YAML or JSON file", [("(document)", "missing file")])
        text = path.read_text()
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid (document): not YAML/JSON: {exc}", [("(document)", "not YAML")]) from None


def default_reward_spec(world_id: str, world_kwargs: dict[str, Any] | None = None) -> RewardSpec:
    """The world's own reward as a spec: one world term per world reward term, weight 1."""
    return RewardSpec(terms=[WorldTermSpec(key=k) for k in world_terms(world_id, world_kwargs)])


def world_terms(world_id: str, world_kwargs: dict[str, Any] | None = None) -> list[str]:
    """The world's reward term keys (builds the env and takes one step)."""
    return world_probe(world_id, world_kwargs)[0]


def world_probe(world_id: str, world_kwargs: dict[str, Any] | None = None,
                agent: str = "mlp") -> tuple[list[str], list[str]]:
    """The world's reward term keys and the info keys a step carries, with the world wrapped the way
    ``agent`` sees it (a memory agent's wrapper adds ``memory_new_name``); builds the env, takes one step."""
    import numpy as np
    import worlds

    env = worlds.make(world_id, render_mode=None, **(world_kwargs or {}))
    if agent not in (None, "mlp"):
        from agents.memory.train import wrap_world  # lazy: torch

        env = wrap_world(env, agent)
    try:
        env.reset(seed=0)
        _, _, _, _, info = env.step(np.zeros(env.action_space.shape, dtype=env.action_space.dtype))
        return list(info.get("reward_terms", {})), sorted(info)
    finally:
        env.close()


__all__ = ["AGENTS", "ALGOS", "ClipTermSpec", "MEMORY_AGENTS", "RecordingConfig", "RewardSpec", "RunConfig",
           "SeekNamesTermSpec", "ShapingTermSpec", "SpecError", "TelemetryConfig", "TermSpec", "WorldTermSpec",
           "algo_arguments", "default_reward_spec", "load_document", "parse_value",
           "parse_reward_spec", "parse_run_config", "world_probe", "world_terms"]
