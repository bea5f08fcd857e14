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

from dataclasses import dataclass

import numpy as np

import worlds
from agents.scripted import ScriptedController
from agents.vlm.captions import Facts
from worlds.manipulation import HALF, PAD_RADIUS

CAMERA = "workspace"
HELDOUT_OBJECT = "purple cylinder"
EVAL_SEED_OFFSET = 1_000_000
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

    def __len__(self) -> int:
        return len(self.facts)

    def subset(self, mask: np.ndarray) -> "FrameSet":
        """The frames where ``mask`` is true."""
        keep = np.flatnonzero(mask)
        return FrameSet(self.images[keep], [self.facts[i] for i in keep], self.progress[keep], self.episode[keep],
                        [self.tasks[i] for i in keep], [self.present[i] for i in keep])


def relation_facts(env) -> Facts:
    """The facts of the current manipulation state: object 0 against pad 0 (or object 1 when stacking)."""
    u = env.unwrapped
    desc = u.describe()
    obj = u.object_position(0)
    if u.task == "stack":
        ref_name, ref = desc.objects[1], u.object_position(1)
        on = bool(np.linalg.norm(obj[:2] - ref[:2]) < 0.03 and abs(obj[2] - ref[2] - 2 * HALF) < 0.015)
    else:
        ref_name, ref = desc.pads[0], u.pad_position(0)
        on = bool(np.linalg.norm(obj[:2] - ref[:2]) < PAD_RADIUS)
    dist = float(np.linalg.norm(obj[:2] - ref[:2]))
    lifted = bool(u.is_grasped(0) and obj[2] - HALF > 0.03)
    relation = "on" if on else ("next to" if dist < 0.15 else "far from")
    return Facts(obj=desc.objects[0], ref=ref_name, relation=relation, lifted=lifted)


def _progress(env, start: float) -> float:
    u = env.unwrapped
    goal = u.goal_position()
    d = float(np.linalg.norm(u.object_position(0)[:2] - goal[:2]))
    return float(np.clip(1.0 - d / max(start, 1e-6), 0.0, 1.0))


def _goal_distance(env) -> float:
    u = env.unwrapped
    return float(np.linalg.norm(u.object_position(0)[:2] - u.goal_position()[:2]))


def manipulation_frames(n_episodes: int, seed: int, *, heldout: bool = False, every: int = 3,
                        random_fraction: float = 0.15, noise: float = 0.3, size: int = 96,
                        tasks: tuple[str, ...] = ("push", "pick_place", "stack")) -> FrameSet:
    """Render ``n_episodes`` episodes (tasks in turn) and keep every ``every``-th frame with its facts.

    ``heldout=False`` skips scenes containing :data:`HELDOUT_OBJECT`; ``heldout=True`` uses the evaluation
    seed range and keeps every scene. Episodes are seeded ``seed + i`` (plus the offset when held out), so
    the set is reproducible.
    """
    rng = np.random.default_rng(seed + (EVAL_SEED_OFFSET if heldout else 0))
    envs = {}
    images, facts, progress, episode, task_names, present = [], [], [], [], [], []
    i = 0
    while i < n_episodes:
        task = tasks[i % len(tasks)]
        n_objects = int(rng.integers(2 if task == "stack" else 1, 4))
        key = (task, n_objects)
        if key not in envs:
            envs[key] = worlds.make(TASK_IDS[task], n_objects=n_objects, camera=CAMERA, render_profile="reward",
                                    width=size, height=size)
        env = envs[key]
        env_seed = int(seed + i + (EVAL_SEED_OFFSET if heldout else 0) + 7919 * n_objects)
        env.reset(seed=env_seed)
        u = env.unwrapped
        if not heldout and HELDOUT_OBJECT in u.describe().objects:
            seed += 104729           # another scene for the same slot, so the episode count holds
            continue
        controller = ScriptedController(env)
        random_policy = rng.random() < random_fraction
        start = _goal_distance(env)
        offset = int(rng.integers(0, every))
        done, t = False, 0
        while not done:
            if random_policy:
                action = rng.uniform(-1, 1, 4)
            else:
                action = controller() + rng.normal(0, noise, 4) * [1, 1, 1, 0]
            _, _, term, trunc, _ = env.step(np.clip(action, -1, 1))
            done = term or trunc
            if (t + offset) % every == 0:
                images.append(env.render())
                facts.append(relation_facts(env))
                progress.append(_progress(env, start))
                episode.append(i)
                task_names.append(task)
                present.append(tuple(u.describe().objects))
            t += 1
        i += 1
    for env in envs.values():
        env.close()
    return FrameSet(np.stack(images), facts, np.array(progress, np.float32), np.array(episode), task_names,
                    present)


def concat(*sets: FrameSet) -> FrameSet:
    """One FrameSet from several (episode indices are made unique)."""
    offset, episodes = 0, []
    for s in sets:
        episodes.append(s.episode + offset)
        offset += int(s.episode.max()) + 1 if len(s) else 0
    return FrameSet(np.concatenate([s.images for s in sets]), [f for s in sets for f in s.facts],
                    np.concatenate([s.progress for s in sets]), np.concatenate(episodes),
                    [t for s in sets for t in s.tasks], [p for s in sets for p in s.present])
