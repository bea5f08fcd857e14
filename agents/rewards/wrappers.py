"""Apply a :class:`RewardStack` to a Gymnasium env or an SB3 VecEnv: the stack's total becomes the reward.

Both wrappers rewrite each step's ``info`` the same way:

* ``info["reward_terms"]``: ``{name: weighted value}`` for every stack term (same keys every step; they sum
  to the reward the agent sees), and each again as ``info["reward_<name>"]``.
* the world's own terms move to ``info["world_reward_terms"]`` and ``info["world_reward_<term>"]``, and its
  reward to ``info["world_reward"]``, so every ``reward_*`` key belongs to the stack.
* ``info["reward_version"]``: the stack version that scored this step.

Reward frames are rendered with ``render_camera(camera, "reward")`` (the fast profile, no shadows or
multisampling) at the stack embedder's input size (96 px for the studio CLIP, 224 for ViT-B-32: a frame is
never rendered small and upsampled for the model) of the state AFTER the step, only while an enabled term
needs frames or embeddings (or a store is attached). The stack configuration is pinned when the step starts, so a live
edit takes effect on the next step, never halfway.

**Auto-reset in VecEnvs.** SB3 VecEnvs reset a finished env inside ``step_wait``, before any wrapper
outside sees the result, so a frame rendered afterwards shows the NEW episode's first state, not the terminal
state being rewarded. Hence :class:`RewardFrameWrapper` runs inside each env (``make_vec_env(...,
wrapper_class=RewardFrameWrapper)``), renders right after every step into ``info["reward_frame"]`` (which
survives the reset, like ``terminal_observation``), and :class:`VecRewardStack` batches those frames into
one embedding call and deletes them from the infos. This also works with ``SubprocVecEnv``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from agents.rewards.base import StepBatch
from agents.rewards.embedding_store import EmbeddingStore
from agents.rewards.stack import RewardStack, StackScores, StackState

FRAME_KEY = "reward_frame"
REWARD_PROFILE = "reward"


def default_reward_camera(env: gym.Env) -> str:
    """``"workspace"`` when the world has such a camera (framed for CLIP rewards), else the env's camera."""
    base = env.unwrapped
    names = list(getattr(base, "camera_names", []))
    return "workspace" if "workspace" in names else getattr(base, "camera", names[0] if names else None)


def _check_camera(env: gym.Env, camera: str | None) -> str:
    base = env.unwrapped
    if not hasattr(base, "render_camera"):
        raise ValueError(f"{type(base).__name__} has no render_camera(camera, profile); CLIP terms need a studio "
                         f"world (worlds.make(...)) or an env with that method")
    camera = default_reward_camera(env) if camera is None else camera
    names = list(getattr(base, "camera_names", [camera]))
    if camera not in names:
        raise ValueError(f"camera {camera!r} is not in {type(base).__name__}; choose one of {names}")
    return camera


def reward_frame_size(stack: RewardStack) -> tuple[int, int] | None:
    """``(height, width)`` of the stack embedder's input, the size reward frames are rendered at; ``None``
    when the stack has no embedder (frames then keep the size the env renders its ``reward`` profile at: 96 px
    unless the env was made with another ``width``/``height``)."""
    size = getattr(stack.embedder, "image_size", None)
    return None if size is None else (int(size[0]), int(size[1]))


def render_reward_frame(env: gym.Env, camera: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """``camera``'s frame under the ``reward`` profile at ``size`` = ``(height, width)`` (an embedder's
    ``image_size``), or at the profile's own size when ``size`` is ``None``: what a CLIP term is fed."""
    if size is None:
        return env.unwrapped.render_camera(camera, REWARD_PROFILE)
    return env.unwrapped.render_camera(camera, REWARD_PROFILE, size[1], size[0])


def _rows(obs: Any) -> np.ndarray | None:
    """Observations as an ``(N, d)`` array, or ``None`` for dict/tuple observations (terms then lack them)."""
    return np.asarray(obs) if isinstance(obs, np.ndarray) else None


def _one(obs: Any) -> np.ndarray | None:
    """One observation as a ``(1, d)`` window, or ``None`` for dict/tuple observations."""
    return obs[None] if isinstance(obs, np.ndarray) else None


def rewrite_info(info: dict[str, Any], weighted: dict[str, float], version: int,
                 world_reward: float | None) -> dict[str, Any]:
    """Move the world's reward entries aside and write the stack's (see module docstring); returns ``info``."""
    world_terms = info.pop("reward_terms", None) or {}
    for key, value in world_terms.items():
        info.pop(f"reward_{key}", None)
        info[f"world_reward_{key}"] = float(value)
    info["world_reward_terms"] = dict(world_terms)
    info["world_reward"] = float(sum(world_terms.values()) if world_reward is None else world_reward)
    info["reward_terms"] = dict(weighted)
    for name, value in weighted.items():
        info[f"reward_{name}"] = value
    info["reward_version"] = int(version)
    return info


def _info_terms(scores: StackScores, i: int) -> dict[str, float]:
    return {name: float(v[i]) for name, v in scores.weighted.items()}


def _store_steps(store: EmbeddingStore, embeddings: np.ndarray, scores: StackScores, infos: list[dict],
                 first_step: int, env_ids: np.ndarray) -> None:
    columns: dict[str, Any] = {"step": first_step + np.arange(len(infos)), "env": env_ids,
                               "reward_version": scores.version, "reward": scores.total}
    columns.update({f"reward_{k}": v for k, v in scores.weighted.items()})
    for key in infos[0].get("world_reward_terms", {}):
        columns[f"world_reward_{key}"] = [info.get("world_reward_terms", {}).get(key, np.nan) for info in infos]
    store.add(embeddings, **columns)


class RewardStackWrapper(gym.Wrapper):
    """A single env whose reward is ``stack``'s total over a window of one step.

    Args:
        env: a studio world (or any env; frames need ``env.unwrapped.render_camera(camera, profile)``).
        stack: the reward terms.
        camera: camera for reward frames; default :func:`default_reward_camera`.
        store: optional :class:`EmbeddingStore`; when given, every step's frame is embedded and stored with
            its per-term values (even while no CLIP term is enabled).
    """

    def __init__(self, env: gym.Env, stack: RewardStack, camera: str | None = None,
                 store: EmbeddingStore | None = None):
        super().__init__(env)
        self.stack, self.store = stack, store
        if store is not None and stack.embedder is None:
            raise ValueError("an EmbeddingStore needs embeddings: give the stack an embedder "
                             "(RewardStack(..., embedder=ClipEmbedder(...)))")
        needs_camera = store is not None or stack.needs_frames(enabled_only=False)
        # Check the camera now when frames may be needed (or can be rendered); a later edit can enable CLIP.
        self.camera = _check_camera(env, camera) if needs_camera or hasattr(env.unwrapped, "render_camera") \
            else camera
        self._obs: Any = None
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs = obs
        # Same keys as a step's info (recorders such as Minari want one structure), with zero stack rewards.
        zeros = {name: 0.0 for name in self.stack.names}
        return obs, rewrite_info(info, zeros, self.stack.version, None)

    def render_reward_frame(self) -> np.ndarray:
        """The current state from the reward camera under the ``reward`` profile, ``(H, W, 3)`` uint8."""
        if self.camera is None:
            self.camera = _check_camera(self.env, None)
        return render_reward_frame(self.env, self.camera, reward_frame_size(self.stack))

    def step(self, action):
        state: StackState = self.stack.state  # pinned before the step: an edit lands on the next one
        obs, reward, terminated, truncated, info = self.env.step(action)
        render = self.store is not None or self.stack.needs_frames(state=state)
        batch = StepBatch(obs=_one(self._obs), next_obs=_one(obs),
                          frames=self.render_reward_frame()[None] if render else None,
                          infos=[info], dones=np.array([terminated]))
        scores = self.stack.evaluate(batch, state)
        rewrite_info(info, _info_terms(scores, 0), scores.version, float(reward))
        if self.store is not None:
            emb = batch.embeddings if batch.embeddings is not None else self.stack.embedder.embed_images(batch.frames)
            _store_steps(self.store, emb, scores, [info], self._steps, np.zeros(1))
        self._obs = obs
        self._steps += 1
        return obs, float(scores.total[0]), terminated, truncated, info


class RewardFrameWrapper(gym.Wrapper):
    """Renders the reward frame after every step into ``info["reward_frame"]`` (for :class:`VecRewardStack`).

    Args:
        env: a studio world.
        camera: reward camera; default :func:`default_reward_camera`.
        enabled: render from the start; :class:`VecRewardStack` switches it with :meth:`set_reward_frames`.
    """

    def __init__(self, env: gym.Env, camera: str | None = None, enabled: bool = True,
                 size: tuple[int, int] | None = None):
        super().__init__(env)
        self.camera = _check_camera(env, camera)
        self.enabled = bool(enabled)
        self.size = size

    def set_reward_frames(self, enabled: bool) -> None:
        """Turn frame rendering on or off (called through ``VecEnv.env_method``)."""
        self.enabled = bool(enabled)

    def set_reward_frame_size(self, size: tuple[int, int] | None) -> None:
        """Render frames at ``(height, width)`` (the embedder's input; ``None``: the profile's own size)."""
        self.size = None if size is None else (int(size[0]), int(size[1]))

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.enabled:
            info[FRAME_KEY] = render_reward_frame(self.env, self.camera, self.size)
        return obs, reward, terminated, truncated, info


class VecRewardStack(VecEnvWrapper):
    """A VecEnv whose rewards are ``stack``'s totals, all ``n_envs`` steps scored in one batched call.

    Args:
        venv: a VecEnv whose envs are wrapped in :class:`RewardFrameWrapper` when any term needs frames
            (``make_vec_env(id, n, wrapper_class=RewardFrameWrapper)``); state-only stacks need no wrapper.
        stack: the reward terms.
        store: optional :class:`EmbeddingStore` receiving every step's embedding and per-term values
            (columns ``step``, ``env``, ``reward``, ``reward_<term>``, ``world_reward_<term>``,
            ``reward_version``).

    Per step, ``obs`` is the observation before the step and ``next_obs`` the one after it (for finished
    envs ``info["terminal_observation"]``); ``dones`` passed to terms are ``terminated`` only
    (``TimeLimit.truncated`` steps are not terminal). Put ``VecMonitor`` outside this wrapper to log the
    stack's episode returns.
    """

    def __init__(self, venv: VecEnv, stack: RewardStack, store: EmbeddingStore | None = None):
        super().__init__(venv)
        self.stack, self.store = stack, store
        if store is not None and stack.embedder is None:
            raise ValueError("an EmbeddingStore needs embeddings: give the stack an embedder "
                             "(RewardStack(..., embedder=ClipEmbedder(...)))")
        if (store is not None or stack.needs_frames(enabled_only=False)) and not venv.has_attr("set_reward_frames"):
            raise ValueError("the stack renders frames but the envs are not wrapped in RewardFrameWrapper; build "
                             "the VecEnv with make_vec_env(env_id, n_envs, wrapper_class=RewardFrameWrapper)")
        self._frame_size: Any = "unset"
        self._frames_on: bool | None = None
        self._state: StackState = stack.state
        self._obs: Any = None
        self._steps = 0

    def _sync_frames(self, need: bool) -> None:
        if need != self._frames_on:
            if not self.venv.has_attr("set_reward_frames"):
                if not need:
                    self._frames_on = False
                    return
                raise RuntimeError("a term that needs frames was enabled, but the envs are not wrapped in "
                                   "RewardFrameWrapper; rebuild the VecEnv with wrapper_class=RewardFrameWrapper")
            self.venv.env_method("set_reward_frames", need)
            self._frames_on = need
        size = reward_frame_size(self.stack)     # the embedder can arrive with a term added while training
        if need and size != self._frame_size:
            if not self.venv.has_attr("set_reward_frame_size"):
                raise RuntimeError("the envs' frame wrapper cannot set the frame size; wrap them in "
                                   "agents.rewards.RewardFrameWrapper (wrapper_class=RewardFrameWrapper)")
            self.venv.env_method("set_reward_frame_size", size)
            self._frame_size = size

    def reset(self):
        obs = self.venv.reset()
        self._obs = obs.copy() if isinstance(obs, np.ndarray) else obs
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._state = self.stack.state  # pinned before the step: an edit lands on the next one
        self._sync_frames(self.store is not None or self.stack.needs_frames(state=self._state))
        self.venv.step_async(actions)

    def step_wait(self):
        obs, world_rewards, dones, infos = self.venv.step_wait()
        n = len(infos)
        next_obs = _rows(obs)
        if next_obs is not None:
            next_obs = next_obs.copy()
            for i in np.flatnonzero(dones):
                next_obs[i] = infos[i]["terminal_observation"]
        terminated = np.array([bool(d) and not info.get("TimeLimit.truncated", False)
                               for d, info in zip(dones, infos)])
        frames = [info.pop(FRAME_KEY, None) for info in infos]
        batch = StepBatch(obs=_rows(self._obs), next_obs=next_obs,
                          frames=np.stack(frames) if all(f is not None for f in frames) else None,
                          infos=infos, dones=terminated)
        scores = self.stack.evaluate(batch, self._state)
        for i, info in enumerate(infos):
            rewrite_info(info, _info_terms(scores, i), scores.version, float(world_rewards[i]))
        if self.store is not None:
            emb = batch.embeddings if batch.embeddings is not None else self.stack.embedder.embed_images(batch.frames)
            _store_steps(self.store, emb, scores, infos, self._steps, np.arange(n))
        self._obs = obs.copy() if isinstance(obs, np.ndarray) else obs
        self._steps += n
        return obs, scores.total.astype(np.float32), dones, infos


__all__ = ["FRAME_KEY", "RewardFrameWrapper", "RewardStackWrapper", "VecRewardStack", "default_reward_camera",
           "render_reward_frame", "reward_frame_size", "rewrite_info"]
