"""Captioned renders of the studio's own worlds: the training and test data of the studio CLIP.

Frames come from the manipulation world's ``workspace`` camera under the ``reward`` profile (96 px, what the
CLIP reward sees at training time) while a noisy scripted controller or random actions play push,
pick-and-place and stack episodes, so the data covers every stage of each task: far, next to, held, lifted,
placed, stacked. Each frame carries its :class:`~agents.vlm.captions.Facts`, read from the true state.

Held-out material for honest evaluation:

* scenes: evaluation episodes use seeds from a separate range (``EVAL_SEED_OFFSET``);
* a colour/shape combination: no training frame has a ``HELDOUT_OBJECT`` ("purple cylinder") anywhere in it;
* paraphrases: :data:`~agents.vlm.captions.HELDOUT_TEMPLATES` are never used in training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import mujoco
import numpy as np

import worlds
from agents.scripted import ScriptedController
from agents.vlm.captions import Facts, gripper_relation
from worlds.manipulation import HALF, PAD_RADIUS, SHAPES, WORKSPACE_HIGH, WORKSPACE_LOW
from worlds.rendering import RenderProfile

CAMERA = "workspace"
HELDOUT_OBJECT = "purple cylinder"
HELDOUT_COLOUR = HELDOUT_OBJECT.split(" ", 1)[0]
# The held-out object's colour in the shapes training does show ("purple cube"): every object of that colour a
# training frame holds is one of these, so the colour alone can stand for their shape.
HELDOUT_COLOUR_SEEN = tuple(f"{HELDOUT_COLOUR} {s}" for s in SHAPES if f"{HELDOUT_COLOUR} {s}" != HELDOUT_OBJECT)
EVAL_SEED_OFFSET = 1_000_000
SCENE_SEED_STRIDE = 7919      # episode i of a draw resets with seed + i + offset + this * its object count
TASK_IDS = {"push": "studio/Push-v0", "pick_place": "studio/PickPlace-v0", "stack": "studio/Stack-v0"}


@dataclass
class FrameSet:
    """Frames (N, 96, 96, 3) uint8 with their facts and, for rollouts, task progress and episode index."""

    images: np.ndarray
    facts: list[Facts]
    progress: np.ndarray            # task progress in [0, 1] (1 - distance to goal / start distance)
    episode: np.ndarray             # episode index of each frame
    tasks: list[str]
    present: list[tuple[str, ...]]  # names of every object in each frame's scene
    relations: list[dict[str, str]] = field(default_factory=list)   # object 0 to the other references
    hover: np.ndarray | None = None   # x-y distance (m) from the gripper to the task's pad / reference
    # x-y distance (m) from object 0 to its pad's centre; NaN when the reference is an object (stack) or absent
    ref_distance: np.ndarray | None = None
    # where each object's centre is in the image: ((column, row) in pixels, name) per object, per frame
    objects: list[tuple[tuple[float, float, str], ...]] = field(default_factory=list)

    def relations_of(self, i: int) -> dict[str, str]:
        """Frame ``i``'s :func:`other_relations` (empty when not recorded, e.g. humanoid frames)."""
        return self.relations[i] if self.relations else {}

    def objects_of(self, i: int) -> tuple[tuple[float, float, str], ...]:
        """Frame ``i``'s objects in the image (:func:`object_pixels`; empty when not recorded)."""
        return self.objects[i] if self.objects else ()

    def __len__(self) -> int:
        return len(self.facts)

    def subset(self, mask: np.ndarray) -> "FrameSet":
        """The frames where ``mask`` is true."""
        keep = np.flatnonzero(mask)
        return FrameSet(self.images[keep], [self.facts[i] for i in keep], self.progress[keep], self.episode[keep],
                        [self.tasks[i] for i in keep], [self.present[i] for i in keep],
                        [self.relations_of(i) for i in keep], None if self.hover is None else self.hover[keep],
                        None if self.ref_distance is None else self.ref_distance[keep],
                        [self.objects_of(i) for i in keep] if self.objects else [])


NEXT_TO = 0.15      # m: "next to" within this x-y distance (and not on), "far from" beyond it
PAD_THRESHOLDS = (PAD_RADIUS, NEXT_TO)   # where a pad relation changes: captions on either side are hardest


def _relation(env, ref: np.ndarray, stacked_on: bool) -> str:
    """Object 0's relation to a pad (``stacked_on=False``) or an object's top (``True``) at ``ref``."""
    obj = env.unwrapped.object_position(0)
    dist = float(np.linalg.norm(obj[:2] - ref[:2]))
    if stacked_on:
        on = bool(dist < 0.03 and abs(obj[2] - ref[2] - 2 * HALF) < 0.015)
    else:
        on = dist < PAD_RADIUS
    return "on" if on else ("next to" if dist < NEXT_TO else "far from")


def _pad_distance(env) -> float:
    """x-y distance from object 0 to its reference when that is a pad; NaN when it is an object (stack)."""
    _, ref, stacked = _references(env)[0]
    return float("nan") if stacked else float(np.linalg.norm(env.unwrapped.object_position(0)[:2] - ref[:2]))


def _references(env) -> list[tuple[str, np.ndarray, bool]]:
    """(name, position, stacked) of every reference object 0 can be related to; the task's own comes first."""
    u = env.unwrapped
    desc = u.describe()
    if u.task == "stack":
        return [(desc.objects[j], u.object_position(j), True) for j in range(1, len(desc.objects))]
    return [(desc.pads[j], u.pad_position(j), False) for j in range(len(desc.pads))]


def relation_facts(env) -> Facts:
    """The facts of the current manipulation state: object 0 against pad 0 (or object 1 when stacking), and
    the gripper against object 0 (recorded always, said in a caption only when training chooses to)."""
    u = env.unwrapped
    name, ref, stacked = _references(env)[0]
    lifted = bool(u.is_grasped(0) and u.object_position(0)[2] - HALF > 0.03)
    grip = gripper_relation(float(np.linalg.norm(u.tcp_position() - u.object_position(0))))
    return Facts(obj=u.describe().objects[0], ref=name, relation=_relation(env, ref, stacked), lifted=lifted,
                 gripper=grip)


def other_relations(env) -> dict[str, str]:
    """Object 0's relation to every other reference in the scene (the pads, or the other objects when
    stacking), so a negative caption that swaps the reference can be checked to be false."""
    return {name: _relation(env, ref, stacked) for name, ref, stacked in _references(env)[1:]}


def _progress(env, start: float) -> float:
    u = env.unwrapped
    goal = u.goal_position()
    d = float(np.linalg.norm(u.object_position(0)[:2] - goal[:2]))
    return float(np.clip(1.0 - d / max(start, 1e-6), 0.0, 1.0))


def goal_distance(env) -> float:
    """Object 0's x-y distance to the goal (read at a reset, the ``start`` of :func:`state_record`)."""
    u = env.unwrapped
    return float(np.linalg.norm(u.object_position(0)[:2] - u.goal_position()[:2]))


OCCLUDE_HEIGHT = (0.12, WORKSPACE_HIGH[2])   # m above the table: where an occluding gripper is drawn


def object_pixels(env, camera: str = CAMERA) -> tuple[tuple[float, float, str], ...]:
    """Each object's centre as ``(column, row, name)`` in the pixels of ``camera``'s render (pixel ``i`` spans
    ``[i, i + 1)``; the render's size is the env's), by the pinhole model MuJoCo renders with: the camera looks
    along its frame's -z with its y up, and ``fovy`` spans the image's height. Hidden objects are projected too."""
    u = env.unwrapped
    cam = mujoco.mj_name2id(u.model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
    height, width = u.profile.height, u.profile.width
    focal = (height / 2) / np.tan(np.deg2rad(u.model.cam_fovy[cam]) / 2)
    rotation, centre = u.data.cam_xmat[cam].reshape(3, 3), u.data.cam_xpos[cam]
    out = []
    for j, name in enumerate(u.describe().objects):
        x, y, z = rotation.T @ (u.object_position(j) - centre)
        out.append((float(width / 2 + focal * x / -z), float(height / 2 - focal * y / -z), name))
    return tuple(out)


def state_record(env, start: float) -> tuple[Facts, float, tuple[str, ...], dict[str, str], float, float]:
    """What a :class:`FrameSet` keeps of the current state beside its image: the facts, task progress (from
    the object's ``start`` distance to the goal), the objects present, the other relations, the gripper's x-y
    distance to the task's reference and the object's to its pad (NaN when stacking)."""
    u = env.unwrapped
    return (relation_facts(env), _progress(env, start), tuple(u.describe().objects), other_relations(env),
            float(np.linalg.norm(u.tcp_position()[:2] - _references(env)[0][1][:2])), _pad_distance(env))


class ArmWander:
    """Drives the tool centre point to random targets, half of them above the task's pad or reference and a
    third of those low over it, with a random gripper: the arm goes where a successful episode's arm goes
    while the object stays put. Without such frames the arm's place predicts "on" (the scripted pushes end
    with the gripper at the pad), and a CLIP reward learnt from them pays the arm for hovering there.

    ``occlude``: the share of targets that put the gripper between the :data:`CAMERA` and object 0 or the
    task's pad (even odds), at a height drawn from :data:`OCCLUDE_HEIGHT`, so it hides what the caption is
    about. The CLIP agent trained on run 13 found that pose (it raised the gripper toward the camera until
    cube and pad were hidden, and run 13 paid that 44% of success): an image that cannot show the relation
    had been read as the average scene, which is often a solved one.
    """

    def __init__(self, env, rng: np.random.Generator, occlude: float = 0.0):
        self.u, self.rng, self.target, self.grip, self.occlude = env.unwrapped, rng, None, 0.0, occlude

    def _occluding_target(self) -> np.ndarray:
        u = self.u
        thing = u.object_position(0) if self.rng.random() < 0.5 else u.goal_position()
        eye = u.data.cam_xpos[u.model.camera(CAMERA).id]
        z = self.rng.uniform(*OCCLUDE_HEIGHT)
        point = eye + (eye[2] - z) / (eye[2] - thing[2]) * (thing - eye)   # on the sight line, at height z
        return np.clip(point + self.rng.normal(0, 0.015, 3), WORKSPACE_LOW + [0, 0, 0.03], WORKSPACE_HIGH)

    def _new_target(self) -> np.ndarray:
        # Drawn only when asked for, so wandering without occlusion is the frames it always was.
        if self.occlude > 0 and self.rng.random() < self.occlude:
            return self._occluding_target()
        if self.rng.random() < 0.5:
            goal = self.u.goal_position()
            z = self.rng.uniform(0.03, 0.08) if self.rng.random() < 0.33 else self.rng.uniform(0.08, 0.25)
            return np.array([*(goal[:2] + self.rng.normal(0, 0.03, 2)), z])
        return self.rng.uniform(WORKSPACE_LOW + [0, 0, 0.03], WORKSPACE_HIGH)

    def __call__(self) -> np.ndarray:
        arrived = self.target is not None and np.linalg.norm(self.target - self.u.tcp_position()) < 0.02
        if self.target is None or arrived or self.rng.random() < 0.03:
            self.target, self.grip = self._new_target(), float(self.rng.uniform(-1, 1))
        return toward(self.u, self.target, self.grip)


def toward(u, target: np.ndarray, grip: float) -> np.ndarray:
    """The action that moves the tool centre point of the manipulation world ``u`` (unwrapped) straight toward
    ``target`` (m), as far as one step allows, with gripper command ``grip``."""
    return np.append(np.clip((target - u.tcp_position()) / u.max_delta, -1, 1), grip)


def manipulation_frames(n_episodes: int, seed: int, *, heldout: bool = False, every: int = 3,
                        random_fraction: float = 0.15, noise: float = 0.3, size: int = 96,
                        tasks: tuple[str, ...] = ("push", "pick_place", "stack"),
                        wander_fraction: float = 0.0, actor: Callable[[np.ndarray], np.ndarray] | None = None,
                        n_objects: int | None = None, occlude: float = 0.0,
                        render_profile: str | RenderProfile = "reward") -> FrameSet:
    """Render ``n_episodes`` episodes (tasks in turn) and keep every ``every``-th frame with its facts.

    ``heldout=False`` skips scenes containing :data:`HELDOUT_OBJECT`; ``heldout=True`` uses the evaluation
    seed range and keeps every scene. Episodes are seeded ``seed + i`` (plus the offset when held out), so
    the set is reproducible. With ``wander_fraction > 0``, that share of episodes is played by
    :class:`ArmWander` instead of the scripted controller, and in as many of the others the arm wanders off
    once the task succeeds (so "on" is seen with the arm anywhere). ``actor`` (observation -> action) plays
    instead of the scripted controller, with the same exploration noise; ``n_objects`` fixes the number of
    objects (an actor trained on one scene size needs it), else 1-3 are drawn. ``occlude``: the share of
    targets of the arms that wander from the start which hide object 0 or the pad from the camera
    (:class:`ArmWander`). Only those arms: an arm that hides the scene before the task is done is the pose a
    reward must not pay, and the truthful caption of such a frame is the unsolved scene's ("far from");
    arms that wander off after a success keep the ordinary targets, so a hidden scene is not also taught
    as "on". ``render_profile``: a profile name or :class:`worlds.rendering.RenderProfile` (at ``size``) for
    experiments on how frames are drawn; the studio CLIP's frames are the ``reward`` profile's.
    """
    rng = np.random.default_rng(seed + (EVAL_SEED_OFFSET if heldout else 0))
    envs = {}
    images, facts, progress, episode, task_names, present, relations, hover = [], [], [], [], [], [], [], []
    distance, pixels = [], []
    i = 0
    while i < n_episodes:
        task = tasks[i % len(tasks)]
        n_obj = n_objects if n_objects is not None else int(rng.integers(2 if task == "stack" else 1, 4))
        key = (task, n_obj)
        if key not in envs:
            envs[key] = worlds.make(TASK_IDS[task], n_objects=n_obj, camera=CAMERA, render_profile=render_profile,
                                    width=size, height=size)
        env = envs[key]
        env_seed = int(seed + i + (EVAL_SEED_OFFSET if heldout else 0) + SCENE_SEED_STRIDE * n_obj)
        obs, _ = env.reset(seed=env_seed)
        u = env.unwrapped
        if not heldout and (HELDOUT_OBJECT in u.describe().objects
                            or EVAL_SEED_OFFSET <= env_seed < EVAL_SEED_OFFSET + 100_000):
            seed += 104729           # another scene for the same slot (never an evaluation seed), so the count holds
            continue
        controller = ScriptedController(env)
        random_policy = rng.random() < random_fraction
        # Drawn only when asked for, so sets made without wandering are the frames they always were.
        wander_now = wander_fraction > 0 and rng.random() < wander_fraction
        wander_after = wander_fraction > 0 and rng.random() < wander_fraction
        wander = ArmWander(env, rng, occlude if wander_now else 0.0) if wander_now or wander_after else None
        start = goal_distance(env)
        offset = int(rng.integers(0, every))
        done, t, succeeded = False, 0, False
        while not done:
            if random_policy:
                action = rng.uniform(-1, 1, 4)
            elif wander_now or (wander_after and succeeded):
                action = wander()
            else:
                action = (controller() if actor is None else actor(obs)) + rng.normal(0, noise, 4) * [1, 1, 1, 0]
            obs, _, term, trunc, info = env.step(np.clip(action, -1, 1))
            done = term or trunc
            succeeded = succeeded or bool(info.get("is_success", False))
            if (t + offset) % every == 0:
                images.append(env.render())
                record = state_record(env, start)
                for column, value in zip((facts, progress, present, relations, hover, distance), record):
                    column.append(value)
                episode.append(i)
                task_names.append(task)
                pixels.append(object_pixels(env))
            t += 1
        i += 1
    for env in envs.values():
        env.close()
    return FrameSet(np.stack(images), facts, np.array(progress, np.float32), np.array(episode), task_names,
                    present, relations, np.array(hover, np.float32), np.array(distance, np.float32), pixels)


def load_policy(path) -> Callable[[np.ndarray], np.ndarray]:
    """The deterministic actor of an SB3 SAC zip (``bench.clip_push --save`` writes one) as a callable.

    An SB3 zip unpickles objects when it loads, which can run code: load only a file made on your machine.
    """
    from stable_baselines3 import SAC

    model = SAC.load(str(path), device="cpu")
    return lambda obs: model.predict(obs, deterministic=True)[0]


def policy_frames(policy_path, n_episodes: int, seed: int, *, every: int = 3, noise: float = 0.15,
                  size: int = 96) -> FrameSet:
    """Push episodes played by a trained agent (an SB3 SAC zip, see :func:`load_policy`), captioned from the
    true state like every other frame.

    This is where an agent that games a CLIP reward goes: ``bench.clip_push``'s CLIP agent parks its arm
    low near the pad and never touches the cube, and the model it was trained on (run 8) paid those frames 68%
    of the reward of success (``bench.clip_push_probe``); run 9, trained with them, pays 22%. Here they are
    captioned with what is true ("the cube is far from the pad"), so training on them teaches the reward not
    to pay that pose. The agent sees only positions, so the scenes
    keep the world's random colours and shapes (one object, as the agent was trained); the held-out object
    is skipped as everywhere in training. Exploration noise (``noise``) widens the poses around the agent's.
    """
    actor = load_policy(policy_path)
    return manipulation_frames(n_episodes, seed, every=every, random_fraction=0.0, noise=noise, size=size,
                               tasks=("push",), actor=actor, n_objects=1)


def concat(*sets: FrameSet) -> FrameSet:
    """One FrameSet from several (episode indices are made unique)."""
    offset, episodes = 0, []
    for s in sets:
        episodes.append(s.episode + offset)
        offset += int(s.episode.max()) + 1 if len(s) else 0
    return FrameSet(np.concatenate([s.images for s in sets]), [f for s in sets for f in s.facts],
                    np.concatenate([s.progress for s in sets]), np.concatenate(episodes),
                    [t for s in sets for t in s.tasks], [p for s in sets for p in s.present],
                    [s.relations_of(i) for s in sets for i in range(len(s))],
                    None if any(s.hover is None for s in sets) else np.concatenate([s.hover for s in sets]),
                    None if all(s.ref_distance is None for s in sets) else np.concatenate(
                        [np.full(len(s), np.nan, np.float32) if s.ref_distance is None else s.ref_distance
                         for s in sets]),
                    [s.objects_of(i) for s in sets for i in range(len(s))] if any(s.objects for s in sets) else [])
