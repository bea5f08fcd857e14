"""VLM-RM's humanoid poses: Gymnasium's Humanoid, textured, seen by fixed cameras, asked to hold a pose.

``HumanoidPosesEnv(pose="kneeling")``, registered as ``studio/HumanoidPoses-v0`` (kneeling) and one id per
pose: ``studio/HumanoidStand-v0``, ``studio/HumanoidKneel-v0``, ``studio/HumanoidArmsRaised-v0``,
``studio/HumanoidLotus-v0`` and ``studio/HumanoidSplits-v0``.

The body, joints, actuators and solver are Gymnasium's Humanoid-v5 (``worlds/xml/humanoid.xml``) with the fixes
VLM-RM (Rocamonde et al., ICLR 2024) found a CLIP reward needs: textured floor, sky and body (MuJoCo builtin
textures), a brighter top light and *fixed* cameras instead of the tracking one; in their kneeling ablation
these took success from 36% to 100%. As in VLM-RM the episode never terminates early and always lasts
``episode_steps`` steps (100), the policy sees the state (not pixels), and the pose is judged on the true
state: ``info["poses"]`` holds every pose predicate every step, so any agent (CLIP-rewarded or not) is scored
on truth.

## Action space

``Box(-0.4, 0.4, (17,), float32)``: torques of Gymnasium's 17 motors (N m = action x gear), in its order.

| index | actuator (joint)                                          | gear |
|-------|-----------------------------------------------------------|------|
| 0-2   | abdomen_y, abdomen_z, abdomen_x                           | 100  |
| 3-6   | right_hip_x, right_hip_z, right_hip_y, right_knee         | 100, 100, 300, 200 |
| 7-10  | left_hip_x, left_hip_z, left_hip_y, left_knee             | 100, 100, 300, 200 |
| 11-13 | right_shoulder1, right_shoulder2, right_elbow             | 25   |
| 14-16 | left_shoulder1, left_shoulder2, left_elbow                | 25   |

## Observation space

``Box(-inf, inf, (348,), float64)``, Humanoid-v5's default (x and y of the torso left out; the world body's
rows of ``cinert``, ``cvel``, ``cfrc_ext`` and the free joint's ``qfrc_actuator`` left out, as in v5).

| slice     | meaning                                                                        |
|-----------|--------------------------------------------------------------------------------|
| 0:22      | ``qpos[2:]``: torso height, torso quaternion (w, x, y, z), 17 joint angles (rad)|
| 22:45     | ``qvel``: torso linear and angular velocity, 17 joint velocities               |
| 45:175    | ``cinert[1:]``: 13 bodies x 10 (mass and inertia about the centre of mass)     |
| 175:253   | ``cvel[1:]``: 13 bodies x 6 (centre-of-mass based velocities)                  |
| 253:270   | ``qfrc_actuator[6:]``: actuator force on each of the 17 joints                 |
| 270:348   | ``cfrc_ext[1:]``: 13 bodies x 6 (external, i.e. contact, forces)               |

## Pose features

Pure functions of the MjData state (:func:`pose_features`); heights are metres above the floor.

| feature           | meaning                                                                     |
|-------------------|-----------------------------------------------------------------------------|
| head_z            | height of the head sphere's centre (about 1.48 standing)                    |
| pelvis_z          | height of the pelvis (the "butt" capsule, radius 9 cm; about 0.1 seated)    |
| torso_up          | cosine of the torso's tilt from vertical (1 upright, 0 lying)               |
| head_over_pelvis  | head_z - pelvis_z (about 0.6 with a straight back)                          |
| knee_z_min, _max  | lower / higher of the two knees (shin origins; about 0.43 standing, 0.08 on the floor) |
| foot_z_min, _max  | lower / higher foot sphere centre (radius 7.5 cm)                           |
| hands_over_head   | how far the *lower* hand's centre is above the head's centre                |
| feet_apart        | horizontal distance between the feet (0.2 standing)                         |
| knees_apart       | horizontal distance between the knees                                       |
| foot_reach        | horizontal distance from the pelvis to the farther foot                     |

## Poses (``info["poses"]``; ``info["is_success"]`` is the target's)

A pose holds when all its conditions hold (:data:`POSE_CONDITIONS`; margins shape the soft score only):

| pose        | condition                | margin | why                                                  |
|-------------|--------------------------|--------|------------------------------------------------------|
| standing    | head_z >= 1.2            | 0.6    | head high: an upright kneel reaches about 1.1        |
|             | torso_up >= 0.866        | 0.5    | torso tilted at most 30 deg                          |
|             | knee_z_min >= 0.3        | 0.2    | no knee down                                         |
|             | foot_z_min <= 0.2        | 0.3    | a foot on the floor                                  |
| kneeling    | knee_z_min <= 0.15       | 0.4    | a knee on the floor                                  |
|             | pelvis_z >= 0.25         | 0.2    | not seated on the floor                              |
|             | torso_up >= 0.707        | 0.5    | torso tilted at most 45 deg                          |
|             | head_z >= 0.75           | 0.4    | not crawling or slumped                              |
| arms_raised | every standing condition |        | VLM-RM's "standing up, with both arms raised"        |
|             | hands_over_head >= 0.1   | 0.5    | both hands above the top of the head                 |
| lotus       | pelvis_z <= 0.22         | 0.6    | seated on the floor                                  |
|             | torso_up >= 0.766        | 0.5    | torso tilted at most 40 deg                          |
|             | head_over_pelvis >= 0.3  | 0.2    | sitting up, not lying                                |
|             | knee_z_max <= 0.35       | 0.3    | knees down                                           |
|             | knees_apart >= 0.45      | 0.3    | knees out                                            |
|             | feet_apart <= 0.45       | 0.4    | feet together                                        |
|             | foot_reach <= 0.6        | 0.4    | legs folded in                                       |
| splits      | pelvis_z <= 0.22, torso_up >= 0.766, head_over_pelvis >= 0.3 | as lotus | seated upright |
|             | feet_apart >= 1.1        | 0.8    | legs spread (a standing straddle reaches 0.84)       |
|             | foot_z_max <= 0.2        | 0.3    | both legs on the floor                               |

By construction standing excludes kneeling (knee heights), kneeling excludes lotus and splits (pelvis
height), lotus excludes splits (feet apart) and arms_raised implies standing. The humanoid's hips abduct
only 25 deg, so its "side splits" is the seated straddle the body allows (legs about 120 deg apart), and its
"lotus" is sitting cross-legged with the feet together in front; :func:`pose_qpos` builds both.

## Reward terms

``info["reward_terms"]`` holds the weighted values with the same keys every step; they sum to the reward.

| term  | value before weight                                                  | weight                     |
|-------|----------------------------------------------------------------------|----------------------------|
| pose  | soft target pose in [0, 1] (:func:`pose_score`), 1 exactly when the  | ``pose_weight`` (1)        |
|       | target's predicate holds                                             |                            |
| ctrl  | ``-sum(ctrl ** 2)``, Gymnasium's control cost (at most 2.72 in size) | ``ctrl_cost_weight`` (0.1) |

The soft pose is the product, over the target's conditions, of dm_control's gaussian ``tolerance`` of the
feature: 1 where the condition holds, falling to 0.1 at ``margin`` beyond the threshold.

The pose term is the state-based reference reward; a CLIP reward (VLM-RM) is added by the agents' reward stack
from frames of the ``front`` camera, with prompts from :data:`POSE_PROMPTS`.

## Starting state and episode end

Gymnasium's: the standing ``qpos0`` (torso at 1.4 m, feet 11 cm above the floor) plus uniform noise of
``reset_noise_scale`` on every qpos and qvel entry, drawn from the ``reset(seed=...)`` generator. No early
termination; the env truncates after ``episode_steps`` steps, and the registered ids add a ``TimeLimit`` of
100 (to change the length through ``gymnasium.make`` pass both ``episode_steps`` and ``max_episode_steps``).

## Arguments

| argument          | default        | meaning                                                                   |
|-------------------|----------------|---------------------------------------------------------------------------|
| pose              | ``"kneeling"`` | target pose: one of :data:`POSES`                                         |
| episode_steps     | 100            | fixed episode length in steps (VLM-RM's ``episode_length``)               |
| camera            | ``"front"``    | ``front``: VLM-RM's view, 3.5 m away facing the humanoid, looking at  |
|                   |                | (0, 0, 1) 10 deg down; ``side``: the same from the humanoid's right   |
| render_profile    | ``"viewer"``   | see :mod:`worlds.rendering`                                               |
| width, height     | profile's      | render size in pixels                                                     |
| pose_weight       | 1.0            | weight of the pose term                                                   |
| ctrl_cost_weight  | 0.1            | weight of the control cost                                                |
| reset_noise_scale | 0.01           | half-width of the uniform noise added to the initial qpos and qvel        |

Helpers for CLIP data: :func:`pose_qpos` (a hand-designed, randomised state in a pose, resting on the floor),
:func:`random_qpos` (random joints and orientation, for negatives), :meth:`HumanoidPosesEnv.set_pose_state`
and :meth:`HumanoidPosesEnv.describe` (the poses true now and the target's caption).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from worlds import gl  # noqa: F401  (must precede the mujoco import)

import mujoco
import numpy as np
from gymnasium import spaces

from worlds.base import StudioEnv, check_choice

XML_PATH = Path(__file__).parent / "xml" / "humanoid.xml"

POSES = ("standing", "kneeling", "arms_raised", "lotus", "splits")
CAMERAS = ("front", "side")
EPISODE_STEPS = 100
FRAME_SKIP = 5
OBS_DIM = 348
BASELINE_PROMPT = "a humanoid robot"
# VLM-RM's prompts (Table 1); every task used the same baseline prompt.
POSE_PROMPTS: dict[str, dict[str, str]] = {
    "standing": {"goal": "a humanoid robot standing up", "baseline": BASELINE_PROMPT},
    "kneeling": {"goal": "a humanoid robot kneeling", "baseline": BASELINE_PROMPT},
    "arms_raised": {"goal": "a humanoid robot standing up, with both arms raised", "baseline": BASELINE_PROMPT},
    "lotus": {"goal": "a humanoid robot seated down, meditating in the lotus position",
              "baseline": BASELINE_PROMPT},
    "splits": {"goal": "a humanoid robot practicing gymnastics, doing the side splits",
               "baseline": BASELINE_PROMPT},
}
INSTRUCTIONS = {"standing": "stand up", "kneeling": "kneel", "arms_raised": "stand with both arms raised",
                "lotus": "sit in the lotus position", "splits": "do the side splits"}


# ---------------------------------------------------------------------------- pose predicates
def tolerance(x: float, lower: float = -np.inf, upper: float = np.inf, margin: float = 0.0,
              value_at_margin: float = 0.1) -> float:
    """dm_control's gaussian ``tolerance``: 1 in ``[lower, upper]``, ``value_at_margin`` at ``margin`` outside."""
    if lower <= x <= upper:
        return 1.0
    if margin <= 0.0:
        return 0.0
    distance = (lower - x if x < lower else x - upper) / margin
    scale = np.sqrt(-2.0 * np.log(value_at_margin))
    return float(np.exp(-0.5 * (distance * scale) ** 2))


@dataclass(frozen=True)
class Condition:
    """``feature >= threshold`` (``op=">="``) or ``feature <= threshold``; ``margin`` shapes the soft score."""

    feature: str
    op: str
    threshold: float
    margin: float

    def holds(self, features: dict[str, float]) -> bool:
        value = features[self.feature]
        return bool(value >= self.threshold if self.op == ">=" else value <= self.threshold)

    def score(self, features: dict[str, float]) -> float:
        if self.op == ">=":
            return tolerance(features[self.feature], lower=self.threshold, margin=self.margin)
        return tolerance(features[self.feature], upper=self.threshold, margin=self.margin)

    def __str__(self) -> str:
        return f"{self.feature} {self.op} {self.threshold:g}"


_STANDING = (Condition("head_z", ">=", 1.2, 0.6), Condition("torso_up", ">=", 0.866, 0.5),
             Condition("knee_z_min", ">=", 0.3, 0.2), Condition("foot_z_min", "<=", 0.2, 0.3))
_SEATED = (Condition("pelvis_z", "<=", 0.22, 0.6), Condition("torso_up", ">=", 0.766, 0.5),
           Condition("head_over_pelvis", ">=", 0.3, 0.2))
POSE_CONDITIONS: dict[str, tuple[Condition, ...]] = {
    "standing": _STANDING,
    "kneeling": (Condition("knee_z_min", "<=", 0.15, 0.4), Condition("pelvis_z", ">=", 0.25, 0.2),
                 Condition("torso_up", ">=", 0.707, 0.5), Condition("head_z", ">=", 0.75, 0.4)),
    "arms_raised": _STANDING + (Condition("hands_over_head", ">=", 0.1, 0.5),),
    "lotus": _SEATED + (Condition("knee_z_max", "<=", 0.35, 0.3), Condition("knees_apart", ">=", 0.45, 0.3),
                        Condition("feet_apart", "<=", 0.45, 0.4), Condition("foot_reach", "<=", 0.6, 0.4)),
    "splits": _SEATED + (Condition("feet_apart", ">=", 1.1, 0.8), Condition("foot_z_max", "<=", 0.2, 0.3)),
}


def _id(model: mujoco.MjModel, kind: mujoco.mjtObj, name: str) -> int:
    return mujoco.mj_name2id(model, kind, name)


def pose_features(model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
    """The quantities the pose predicates threshold (module docstring, "Pose features"); needs kinematics."""
    geom, body = mujoco.mjtObj.mjOBJ_GEOM, mujoco.mjtObj.mjOBJ_BODY
    head = data.geom_xpos[_id(model, geom, "head")]
    hands = [data.geom_xpos[_id(model, geom, f"{s}_hand")] for s in ("right", "left")]
    feet = [data.geom_xpos[_id(model, geom, f"{s}_foot")] for s in ("right", "left")]
    knees = [data.xpos[_id(model, body, f"{s}_shin")] for s in ("right", "left")]
    pelvis = data.xpos[_id(model, body, "pelvis")]
    torso_up = data.xmat[_id(model, body, "torso")][8]          # z-component of the torso's z-axis
    return {
        "head_z": float(head[2]),
        "pelvis_z": float(pelvis[2]),
        "torso_up": float(torso_up),
        "head_over_pelvis": float(head[2] - pelvis[2]),
        "knee_z_min": float(min(k[2] for k in knees)),
        "knee_z_max": float(max(k[2] for k in knees)),
        "foot_z_min": float(min(f[2] for f in feet)),
        "foot_z_max": float(max(f[2] for f in feet)),
        "hands_over_head": float(min(h[2] for h in hands) - head[2]),
        "feet_apart": float(np.linalg.norm(feet[0][:2] - feet[1][:2])),
        "knees_apart": float(np.linalg.norm(knees[0][:2] - knees[1][:2])),
        "foot_reach": float(max(np.linalg.norm(f[:2] - pelvis[:2]) for f in feet)),
    }


def pose_predicates(model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, bool]:
    """Every pose's predicate (``POSES`` order) for the state in ``data``."""
    features = pose_features(model, data)
    return {pose: all(c.holds(features) for c in POSE_CONDITIONS[pose]) for pose in POSES}


def pose_score(pose: str, features: dict[str, float]) -> float:
    """The soft predicate in [0, 1]: product of the conditions' tolerances; 1 exactly when the pose holds."""
    check_choice("pose", pose, POSES)
    return float(np.prod([c.score(features) for c in POSE_CONDITIONS[pose]]))


# ---------------------------------------------------------------------------- constructed states
# Hand-designed poses, in degrees, for the right side (the left mirrors it: same hip and knee values, since
# the left joint axes are mirrored in the XML, negated shoulder1/shoulder2). Found by a search for joint
# angles inside the ranges that meet the predicates with no self-penetration, then checked by eye.
ARMS = {                        # right_shoulder1, right_shoulder2, right_elbow
    "down": (40.5, -51.9, -56.6),
    "relaxed": (20.0, -20.0, -60.0),
    "guard": (0.0, 0.0, 0.0),   # Gymnasium's rest pose: elbows bent, hands in front of the chest
    "up": (-84.0, 20.0, -88.0),
    "sideways": (-48.7, -59.0, -43.7),
    "on_knees": (2.7, -19.7, -28.1),
}
LEGS_STRAIGHT = {"hip_x": -4.0, "hip_z": 0.0, "hip_y": -3.0, "knee": -5.0}   # feet 28 cm apart: they never touch


@dataclass(frozen=True)
class PoseDesign:
    """A pose as joint angles: trunk and right-leg angles (deg), root pitch (deg), allowed arm settings."""

    legs: dict[str, float]
    arms: tuple[str, ...]
    trunk: dict[str, float] = field(default_factory=dict)
    pitch: float = 0.0


POSE_DESIGNS: dict[str, PoseDesign] = {
    "standing": PoseDesign(LEGS_STRAIGHT, ("down", "relaxed", "guard", "sideways")),
    "arms_raised": PoseDesign(LEGS_STRAIGHT, ("up",)),
    "kneeling": PoseDesign({"hip_x": 0.0, "hip_z": 0.0, "hip_y": -5.0, "knee": -95.0},
                           ("down", "relaxed", "guard")),
    # Cross-legged: pelvis rolled back, thighs out and forward, knees fully bent, feet together in front.
    "lotus": PoseDesign({"hip_x": -25.0, "hip_z": -60.0, "hip_y": -42.0, "knee": -160.0}, ("on_knees",),
                        {"abdomen_y": -65.0}, pitch=-10.0),
    # Seated straddle: hips flexed and turned out to their limits, knees straight, legs on the floor.
    "splits": PoseDesign({"hip_x": -25.0, "hip_z": -60.0, "hip_y": -62.7, "knee": -2.0}, ("sideways", "relaxed"),
                         {"abdomen_y": -14.0}, pitch=1.5),
}


@lru_cache(maxsize=1)
def _model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(str(XML_PATH))


def _joint_adr(model: mujoco.MjModel, name: str) -> int:
    return int(model.jnt_qposadr[_id(model, mujoco.mjtObj.mjOBJ_JOINT, name)])


def _quat(yaw: float, pitch: float = 0.0) -> np.ndarray:
    """Unit quaternion of a yaw (about z) after a pitch (about y), radians."""
    qz = np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])
    qy = np.array([np.cos(pitch / 2), 0.0, np.sin(pitch / 2), 0.0])
    out = np.zeros(4)
    mujoco.mju_mulQuat(out, qz, qy)
    return out


def _lowest_point(model: mujoco.MjModel, data: mujoco.MjData) -> float:
    """Height of the lowest point of the body's colliding spheres and capsules (the visor does not collide)."""
    low = np.inf
    for g in range(model.ngeom):
        if model.geom_bodyid[g] == 0 or model.geom_contype[g] == 0:
            continue
        radius, z = model.geom_size[g][0], data.geom_xpos[g][2]
        if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_CAPSULE:
            z -= abs(data.geom_xmat[g][8]) * model.geom_size[g][1]
        low = min(low, z - radius)
    return float(low)


def _rest_on_floor(qpos: np.ndarray) -> np.ndarray:
    """``qpos`` with the torso height set so the lowest point of the body just touches the floor."""
    model = _model()
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_kinematics(model, data)
    qpos = qpos.copy()
    qpos[2] -= _lowest_point(model, data)
    return qpos


def _set_angles(model: mujoco.MjModel, qpos: np.ndarray, angles_deg: dict[str, float]) -> None:
    for name, value in angles_deg.items():
        qpos[_joint_adr(model, name)] = np.radians(value)


def self_penetration(model: mujoco.MjModel, data: mujoco.MjData) -> float:
    """Deepest overlap between two body parts in metres (0 when none touch); needs ``mj_forward``."""
    depth = 0.0
    for contact in data.contact[: data.ncon]:
        if model.geom_bodyid[contact.geom1] != 0 and model.geom_bodyid[contact.geom2] != 0:
            depth = max(depth, -float(contact.dist))
    return depth


def _designed_qpos(pose: str, rng: np.random.Generator | None) -> np.ndarray:
    design, model = POSE_DESIGNS[pose], _model()
    qpos = model.qpos0.copy()
    arms = design.arms[0] if rng is None else design.arms[int(rng.integers(len(design.arms)))]
    s1, s2, elbow = ARMS[arms]
    angles = dict(design.trunk)
    for side in ("right", "left"):
        angles.update({f"{side}_{k}": v for k, v in design.legs.items()})
        sign = 1.0 if side == "right" else -1.0
        angles.update({f"{side}_shoulder1": sign * s1, f"{side}_shoulder2": sign * s2, f"{side}_elbow": elbow})
    _set_angles(model, qpos, angles)
    yaw = 0.0
    if rng is not None:
        qpos[7:] += np.radians(rng.uniform(-3.0, 3.0, model.nq - 7))
        qpos[7:] = np.clip(qpos[7:], *model.jnt_range[1:].T)
        yaw = np.radians(rng.uniform(-15.0, 15.0))
        qpos[:2] = rng.uniform(-0.1, 0.1, 2)
    qpos[3:7] = _quat(yaw, np.radians(design.pitch))
    return _rest_on_floor(qpos)


def pose_qpos(pose: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """A physically plausible qpos in ``pose``, resting on the floor and facing the ``front`` camera.

    With ``rng`` the pose varies a little: each joint by up to 3 deg (kept inside its range), the heading by
    up to 15 deg, the position by up to 10 cm, and the arm setting among the pose's choices. Draws that break
    the pose's predicate or let body parts overlap by more than 5 mm are redrawn (the nominal pose after 50
    tries). Without ``rng`` the nominal pose is returned.
    """
    check_choice("pose", pose, POSES)
    if rng is None:
        return _designed_qpos(pose, None)
    model = _model()
    data = mujoco.MjData(model)
    for _ in range(50):
        qpos = _designed_qpos(pose, rng)
        data.qpos[:] = qpos
        mujoco.mj_forward(model, data)
        if pose_predicates(model, data)[pose] and self_penetration(model, data) <= 0.005:
            return qpos
    return _designed_qpos(pose, None)


def random_qpos(rng: np.random.Generator) -> np.ndarray:
    """Random joint angles (uniform in their ranges) resting on the floor, for negative examples.

    Half the draws keep the torso upright-ish (random heading, tilt under 30 deg); the other half take a
    uniformly random orientation (fallen bodies). A draw may by chance meet a pose predicate: label it with
    :func:`pose_predicates` rather than assume it is negative.
    """
    model = _model()
    qpos = model.qpos0.copy()
    low, high = model.jnt_range[1:].T
    qpos[7:] = rng.uniform(low, high)
    qpos[:2] = rng.uniform(-0.5, 0.5, 2)
    if rng.random() < 0.5:
        tilt_axis = rng.uniform(-np.pi, np.pi)
        tilt = np.radians(rng.uniform(0.0, 30.0))
        qpos[3:7] = _quat(rng.uniform(-np.pi, np.pi))
        tilted = np.zeros(4)
        axis = np.array([np.cos(tilt_axis), np.sin(tilt_axis), 0.0])
        mujoco.mju_mulQuat(tilted, np.concatenate([[np.cos(tilt / 2)], np.sin(tilt / 2) * axis]), qpos[3:7])
        qpos[3:7] = tilted
    else:
        quat = rng.normal(size=4)
        qpos[3:7] = quat / np.linalg.norm(quat)
    return _rest_on_floor(qpos)


# ---------------------------------------------------------------------------- the environment
@dataclass(frozen=True)
class PoseDescription:
    """The humanoid in words: the target pose, its caption and prompts, and the poses true now."""

    target: str
    caption: str                    # e.g. "a humanoid robot kneeling" (VLM-RM's goal prompt for the target)
    baseline: str                   # "a humanoid robot"
    instruction: str                # e.g. "kneel"
    poses: list[str] = field(default_factory=list)   # pose names whose predicate holds now, POSES order


class HumanoidPosesEnv(StudioEnv):
    """Gymnasium's Humanoid asked to hold a pose, VLM-RM style (full spec in the module docstring)."""

    def __init__(self, pose: str = "kneeling", episode_steps: int = EPISODE_STEPS, camera: str = "front",
                 render_profile: str = "viewer", width: int | None = None, height: int | None = None,
                 pose_weight: float = 1.0, ctrl_cost_weight: float = 0.1, reset_noise_scale: float = 1e-2,
                 render_mode: str | None = "rgb_array"):
        check_choice("pose", pose, POSES)
        whole = isinstance(episode_steps, (int, np.integer)) and not isinstance(episode_steps, bool)
        if not whole or episode_steps < 1:
            raise ValueError(f"episode_steps={episode_steps!r} is not allowed; use a positive integer "
                             f"(VLM-RM used {EPISODE_STEPS})")
        for name, value in (("pose_weight", pose_weight), ("ctrl_cost_weight", ctrl_cost_weight),
                            ("reset_noise_scale", reset_noise_scale)):
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name}={value!r} is not allowed; use a finite number >= 0")
        check_choice("camera", camera, CAMERAS)
        super().__init__(mujoco.MjModel.from_xml_path(str(XML_PATH)), frame_skip=FRAME_SKIP, camera=camera,
                         render_profile=render_profile, width=width, height=height, render_mode=render_mode)
        self.pose = pose
        self.episode_steps = int(episode_steps)
        self.pose_weight = float(pose_weight)
        self.ctrl_cost_weight = float(ctrl_cost_weight)
        self.reset_noise_scale = float(reset_noise_scale)
        self.action_space = spaces.Box(-0.4, 0.4, shape=(self.model.nu,), dtype=np.float32)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(OBS_DIM,), dtype=np.float64)
        self._steps = 0

    # ---------------------------------------------------------------- Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        noise = self.reset_noise_scale
        # Gymnasium's draws in Gymnasium's order (the quaternion is not renormalised there either), so a seeded
        # reset and the same actions give Humanoid-v5's observations bit for bit.
        self.data.qpos[:] = self.model.qpos0 + self.np_random.uniform(-noise, noise, self.model.nq)
        self.data.qvel[:] = self.np_random.uniform(-noise, noise, self.model.nv)
        mujoco.mj_forward(self.model, self.data)
        self._steps = 0
        return self._observation(), self._evaluate()[1]

    def step(self, action):
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (self.model.nu,):
            raise ValueError(f"action has shape {action.shape}; expected ({self.model.nu},), one torque per "
                             f"motor in [-0.4, 0.4]")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action {action.tolist()} has NaN or inf entries")
        self.data.ctrl[:] = np.clip(action, -0.4, 0.4)
        self._step_physics()
        mujoco.mj_rnePostConstraint(self.model, self.data)   # fills cfrc_ext, as Gymnasium does
        self._steps += 1
        reward, info = self._evaluate()
        return self._observation(), reward, False, self._steps >= self.episode_steps, info

    # ---------------------------------------------------------------- poses
    def set_pose_state(self, qpos: np.ndarray) -> None:
        """Put the body in ``qpos`` (e.g. from :func:`pose_qpos`) at rest: zero velocity, kinematics updated."""
        qpos = np.asarray(qpos, dtype=np.float64).reshape(-1)
        if qpos.shape != (self.model.nq,) or not np.all(np.isfinite(qpos)):
            raise ValueError(f"qpos has shape {qpos.shape} or non-finite entries; expected {self.model.nq} "
                             f"finite numbers (see pose_qpos)")
        self.data.qpos[:] = qpos
        self.data.qvel[:] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def poses(self) -> dict[str, bool]:
        """Every pose predicate for the current state."""
        return pose_predicates(self.model, self.data)

    def describe(self) -> PoseDescription:
        """The target pose in words and the names of the poses that hold now."""
        prompts = POSE_PROMPTS[self.pose]
        true_now = [name for name, holds in self.poses().items() if holds]
        return PoseDescription(self.pose, prompts["goal"], prompts["baseline"], INSTRUCTIONS[self.pose], true_now)

    # ---------------------------------------------------------------- state readouts
    def _observation(self) -> np.ndarray:
        d = self.data
        return np.concatenate([d.qpos[2:], d.qvel, d.cinert[1:].ravel(), d.cvel[1:].ravel(),
                               d.qfrc_actuator[6:], d.cfrc_ext[1:].ravel()]).astype(np.float64)

    def _evaluate(self) -> tuple[float, dict[str, Any]]:
        """Reward terms (weighted, fixed keys), the target's success and every pose predicate."""
        features = pose_features(self.model, self.data)
        poses = {p: all(c.holds(features) for c in POSE_CONDITIONS[p]) for p in POSES}
        terms = {"pose": self.pose_weight * pose_score(self.pose, features),
                 "ctrl": -self.ctrl_cost_weight * float(np.sum(np.square(self.data.ctrl)))}
        info = self.terms_info(terms, poses[self.pose])
        info["poses"] = poses
        return float(sum(terms.values())), info
