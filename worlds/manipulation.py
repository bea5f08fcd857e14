"""Table-top manipulation: a 5-joint arm with a two-finger gripper, coloured objects and target pads.

``ManipulationEnv(task="push")``, registered as ``studio/Reach-v0``, ``studio/Push-v0``,
``studio/PickPlace-v0`` and ``studio/Stack-v0``.

The arm (base yaw, shoulder, elbow, wrist pitch, wrist roll) stands at the table's near edge; its parallel
gripper closes two slide-jointed fingers, and objects are held only by finger contact friction (elliptic
cones, no welds or magic attachment). The policy commands the tool centre point (TCP) in Cartesian space:
an operational-space layer solves damped-least-squares inverse kinematics each step, keeping the gripper
pointing down with fixed yaw, and feeds the joint solution to position servos. Every arm link carries
gravity compensation, so a zero action holds the pose.

## Action space

``Box(-1, 1, (4,), float32)``

| index | meaning                                                         | unit at +1          |
|-------|-----------------------------------------------------------------|---------------------|
| 0     | TCP target displacement along x (away from the arm)             | ``max_delta`` m     |
| 1     | TCP target displacement along y (to the arm's left)             | ``max_delta`` m     |
| 2     | TCP target displacement along z (up)                            | ``max_delta`` m     |
| 3     | gripper: -1 fully open (9 cm), +1 fully closed                  | finger target       |

The TCP target is clipped to the workspace box ``WORKSPACE_LOW``..``WORKSPACE_HIGH`` (it never enters the
table).

## Observation space

``Box(-inf, inf, (11 + 9 * n_objects,), float32)``

| slice              | meaning                                                        |
|--------------------|----------------------------------------------------------------|
| 0:3                | TCP position (m, world frame; table top is z = 0)              |
| 3:6                | TCP linear velocity (m/s)                                      |
| 6                  | gripper opening (m, distance between finger faces)             |
| 7                  | gripper opening velocity (m/s)                                 |
| 8+9i : 11+9i       | object i position                                              |
| 11+9i : 14+9i      | object i position minus TCP position                           |
| 14+9i : 17+9i      | object i linear velocity                                       |
| 8+9n : 11+9n       | goal position (reach: object 0; push, pick_place: pad 0 at     |
|                    | object rest height; stack: top of object 1)                    |

Object 0 is always the one the task is about; object 1 is the base in ``stack``.

## Reward terms

Every term is bounded and weighted; ``info["reward_terms"]`` holds the weighted values with the same keys
every step, and they sum to the reward. ``d`` are Euclidean distances in metres.

| term      | tasks                   | value before weight                                  | weight |
|-----------|-------------------------|------------------------------------------------------|--------|
| reach     | all                     | ``1 - tanh(10 * d(TCP, object 0))``                  | 1 (reach), 0.25 |
| push      | push                    | ``1 - tanh(10 * d_xy(object 0, pad 0))``             | 1      |
| grasp     | pick_place, stack       | 1 when both fingers touch object 0                   | 0.25   |
| lift      | pick_place, stack       | grasped * clip(height gain / 0.08, 0, 1)             | 0.5    |
| place     | pick_place, stack       | ``1 - tanh(10 * d(object 0, goal))``                 | 1      |
| success   | all                     | 1 when ``is_success``                                | 1      |

## Success (``info["is_success"]``)

* reach: TCP within 3 cm of object 0's centre.
* push: object 0's centre within the pad radius (6 cm) of pad 0 in x-y, resting on the table.
* pick_place: object 0 was lifted at least 4 cm during the episode and now rests on pad 0 (x-y within 6 cm,
  height within 1 cm of resting height).
* stack: object 0 rests on object 1 (x-y within 2 cm, height within 1 cm of object 1's top), released by
  the fingers, and object 1 stands on the table.

## Arguments

| argument            | default                | meaning                                                          |
|---------------------|------------------------|------------------------------------------------------------------|
| task                | ``"push"``             | ``reach``, ``push``, ``pick_place`` or ``stack``                 |
| n_objects           | 1 (2 for stack)        | 1 to 3 objects (``stack`` needs 2 or 3)                          |
| colors              | None (random)          | object colour names from ``COLORS``, distinct                    |
| shapes              | None (random)          | object shapes from ``SHAPES``                                    |
| pad_colors          | None (random)          | pad colour names (push, pick_place: one pad per object)          |
| camera              | ``"front"``            | ``front``, ``top``, ``wrist`` or ``workspace`` (CLIP rewards)    |
| render_profile      | ``"viewer"``           | see :mod:`worlds.rendering`                                      |
| width, height       | profile's              | render size in pixels                                            |
| max_delta           | 0.04                   | TCP displacement (m) per step at full action                     |
| terminate_on_success| False                  | end the episode when the task succeeds                           |
| pad_distance        | None                   | ``(lo, hi)`` m: pad 0's centre drawn that far from object 0 (push |
|                     |                        | and pick_place; a curriculum's lever, :meth:`set_pad_distance`); |
|                     |                        | None: anywhere at least ``PAD_GAP`` (12 cm) away                 |

Colours, shapes and positions are drawn from the ``reset(seed=...)`` generator; :meth:`describe` returns the
scene in words (object names such as "red cube", the task instruction) for prompts.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from worlds import gl  # noqa: F401  (must precede the mujoco import)

import mujoco
import numpy as np
from gymnasium import spaces

from worlds.base import StudioEnv, check_choice

XML_PATH = Path(__file__).parent / "xml" / "manipulation.xml"

TASKS = ("reach", "push", "pick_place", "stack")
SHAPES = ("cube", "cylinder")
COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.15, 0.15),
    "green": (0.20, 0.70, 0.25),
    "blue": (0.15, 0.35, 0.90),
    "yellow": (0.95, 0.85, 0.15),
    "purple": (0.60, 0.25, 0.75),
    "orange": (0.98, 0.55, 0.10),
    "cyan": (0.15, 0.80, 0.85),
}
CAMERAS = ("front", "top", "wrist", "workspace")

HALF = 0.025              # objects are 5 cm cubes or 5 cm-tall cylinders of radius 2.5 cm
PAD_RADIUS = 0.06
PAD_GAP = 0.12            # pad 0's default least distance from object 0 (so a task never starts solved)
PAD_DISTANCE_MAX = 0.4    # the farthest ``pad_distance`` may ask for (the spawn area's diagonal is 0.5)
MAX_OPENING = 0.045       # per finger: 9 cm between the finger faces when open
WORKSPACE_LOW = np.array([-0.25, -0.32, 0.022])
WORKSPACE_HIGH = np.array([0.28, 0.32, 0.40])
HOME_TCP = np.array([-0.05, 0.0, 0.22])
SPAWN_LOW = np.array([-0.12, -0.20])
SPAWN_HIGH = np.array([0.18, 0.20])
ARM_JOINTS = ("yaw", "shoulder", "elbow", "wrist_pitch", "wrist_roll")
DOWN = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])  # TCP frame: z down, fixed yaw
_IK_WEIGHTS = np.array([1.0, 1.0, 1.0, 0.5, 0.5, 0.5])      # position rows count twice the orientation rows
_IK_DAMPING = 1e-4 * np.eye(6)

EPISODE_STEPS = {"reach": 50, "push": 100, "pick_place": 100, "stack": 150}
TERM_WEIGHTS: dict[str, dict[str, float]] = {
    "reach": {"reach": 1.0, "success": 1.0},
    "push": {"reach": 0.25, "push": 1.0, "success": 1.0},
    "pick_place": {"reach": 0.25, "grasp": 0.25, "lift": 0.5, "place": 1.0, "success": 1.0},
    "stack": {"reach": 0.25, "grasp": 0.25, "lift": 0.5, "place": 1.0, "success": 1.0},
}


def orientation_error(rot: np.ndarray) -> np.ndarray:
    """Half the sum of the cross products of ``rot``'s columns with :data:`DOWN`'s: the small-angle
    axis-angle from the TCP frame ``rot`` to pointing down.

    DOWN's columns are +x, -y and -z, so the sum reduces to these terms, equal bit for bit to
    ``0.5 * sum(np.cross(rot[:, k], DOWN[:, k]) for k in range(3))`` (tested), and 10x cheaper: the IK runs
    three times a step and np.cross cost more than the rest of its iteration.
    """
    return 0.5 * np.array([rot[2, 1] - rot[1, 2], rot[2, 0] + rot[0, 2], -rot[1, 0] - rot[0, 1]])


@dataclass(frozen=True)
class SceneDescription:
    """The scene in words, for prompts and captions."""

    task: str
    objects: list[str]                  # e.g. ["red cube", "blue cylinder"]
    pads: list[str] = field(default_factory=list)  # e.g. ["green pad"]
    instruction: str = ""


def _objects_xml(n_objects: int, n_pads: int) -> list[ET.Element]:
    """Bodies for the objects (each with a box and a cylinder geom; reset shows one) and the pads."""
    elements = []
    for i in range(n_objects):
        body = ET.Element("body", name=f"object{i}", pos=f"{0.1 * i} 0.3 {HALF}")
        ET.SubElement(body, "freejoint", name=f"object{i}")
        ET.SubElement(body, "inertial", pos="0 0 0", mass="0.06", diaginertia="2.5e-5 2.5e-5 2.5e-5")
        ET.SubElement(body, "geom", name=f"object{i}_cube", type="box", size=f"{HALF} {HALF} {HALF}",
                      attrib={"class": "object"})
        ET.SubElement(body, "geom", name=f"object{i}_cylinder", type="cylinder", size=f"{HALF} {HALF}",
                      attrib={"class": "object"})
        elements.append(body)
    for j in range(n_pads):
        elements.append(ET.Element("geom", name=f"pad{j}", type="cylinder", pos=f"0 {-0.3 + 0.1 * j} 0.0008",
                                   size=f"{PAD_RADIUS} 0.0008", contype="0", conaffinity="0"))
    return elements


def build_model(n_objects: int, n_pads: int) -> mujoco.MjModel:
    """Compile the scene with ``n_objects`` objects and ``n_pads`` pads."""
    tree = ET.parse(XML_PATH)
    worldbody = tree.getroot().find("worldbody")
    for element in _objects_xml(n_objects, n_pads):
        worldbody.append(element)
    return mujoco.MjModel.from_xml_string(ET.tostring(tree.getroot(), encoding="unicode"))


class ManipulationEnv(StudioEnv):
    """Reach, push, pick-and-place and stack on a table (full spec in the module docstring)."""

    def __init__(self, task: str = "push", n_objects: int | None = None, colors: Sequence[str] | None = None,
                 shapes: Sequence[str] | None = None, pad_colors: Sequence[str] | None = None,
                 camera: str = "front", render_profile: str = "viewer", width: int | None = None,
                 height: int | None = None, max_delta: float = 0.04, terminate_on_success: bool = False,
                 render_mode: str | None = "rgb_array", pad_distance: Sequence[float] | None = None):
        check_choice("task", task, TASKS)
        if n_objects is None:
            n_objects = 2 if task == "stack" else 1
        low = 2 if task == "stack" else 1
        if not isinstance(n_objects, (int, np.integer)) or not low <= n_objects <= 3:
            raise ValueError(f"n_objects={n_objects!r} is not allowed for task {task!r}; use an integer "
                             f"from {low} to 3")
        self.task = task
        self.n_objects = int(n_objects)
        self.n_pads = self.n_objects if task in ("push", "pick_place") else 0
        self.fixed_colors = self._check_names("colour", colors, COLORS, self.n_objects, distinct=True)
        self.fixed_shapes = self._check_names("shape", shapes, SHAPES, self.n_objects, distinct=False)
        self.fixed_pad_colors = self._check_names("pad colour", pad_colors, COLORS, self.n_pads, distinct=True)
        if self.fixed_colors and self.fixed_pad_colors and set(self.fixed_colors) & set(self.fixed_pad_colors):
            raise ValueError(f"pad_colors {list(self.fixed_pad_colors)} share a colour with colors "
                             f"{list(self.fixed_colors)}; give pads colours the objects do not use")
        if not 0 < float(max_delta) <= 0.1:
            raise ValueError(f"max_delta={max_delta!r} is outside (0, 0.1] metres per step")
        self.max_delta = float(max_delta)
        self.terminate_on_success = bool(terminate_on_success)
        check_choice("camera", camera, CAMERAS)
        self.pad_distance: tuple[float, float] | None = None
        self.set_pad_distance(pad_distance)

        super().__init__(build_model(self.n_objects, self.n_pads), frame_skip=20, camera=camera,
                         render_profile=render_profile, width=width, height=height, render_mode=render_mode)
        self._index_model()
        self._ik_data = mujoco.MjData(self.model)
        self._home_q = self._solve_ik(np.array([0.0, 0.5, 0.0, -0.5, 0.0]), HOME_TCP, iterations=200)

        self.action_space = spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        obs_dim = 11 + 9 * self.n_objects
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float32)
        self.term_weights = dict(TERM_WEIGHTS[task])
        self.colors: list[str] = []
        self.shapes: list[str] = []
        self.pad_colors: list[str] = []
        self._q_des = self._home_q.copy()
        self._lifted = False

    def set_pad_distance(self, pad_distance: Sequence[float] | None) -> None:
        """Where the next resets put pad 0: ``(lo, hi)`` metres from object 0's centre in x-y (distance uniform
        in that range, direction random, the pad inside the spawn area and clear of the other objects), or
        ``None`` for the default draw (anywhere at least ``PAD_GAP`` away). A curriculum calls this between
        episodes (``VecEnv.env_method("set_pad_distance", ...)``); success is judged as always.

        Raises:
            ValueError: a task without pads, or a range that is not ``PAD_RADIUS < lo <= hi <= PAD_DISTANCE_MAX``
                (a pad nearer than its radius would start the task solved).
        """
        if pad_distance is None:
            self.pad_distance = None
            return
        if self.n_pads == 0:
            raise ValueError(f"pad_distance={pad_distance!r}: task {self.task!r} has no pads; it applies to push "
                             f"and pick_place only")
        try:
            lo, hi = (float(v) for v in pad_distance)
        except (TypeError, ValueError):
            raise ValueError(f"pad_distance={pad_distance!r} is not a pair of distances; give (lo, hi) in "
                             f"metres, e.g. (0.07, 0.10)") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and PAD_RADIUS < lo <= hi <= PAD_DISTANCE_MAX):
            raise ValueError(f"pad_distance={pad_distance!r} is outside {PAD_RADIUS} < lo <= hi <= "
                             f"{PAD_DISTANCE_MAX} metres (nearer than the pad's radius starts the task solved)")
        self.pad_distance = (lo, hi)

    # ---------------------------------------------------------------- set-up helpers
    @staticmethod
    def _check_names(kind: str, names: Sequence[str] | None, allowed, count: int, distinct: bool):
        if names is None:
            return None
        names = list(names)
        if len(names) != count:
            raise ValueError(f"{len(names)} {kind}s given ({names}) but {count} are needed")
        for name in names:
            check_choice(kind, name, list(allowed))
        if distinct and len(set(names)) != len(names):
            raise ValueError(f"{kind}s {names} repeat a colour; give distinct colours")
        return names

    def _index_model(self) -> None:
        m = self.model
        jid = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name) for name in ARM_JOINTS]
        self._arm_qadr = np.array([m.jnt_qposadr[j] for j in jid])
        self._arm_dadr = np.array([m.jnt_dofadr[j] for j in jid])
        self._arm_range = m.jnt_range[jid].copy()
        fingers = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n) for n in ("finger_left", "finger_right")]
        self._finger_qadr = np.array([m.jnt_qposadr[j] for j in fingers])
        self._finger_dadr = np.array([m.jnt_dofadr[j] for j in fingers])
        self._finger_geoms = {mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, n)
                              for n in ("finger_left", "finger_right")}
        self._left_geom = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "finger_left")
        self._right_geom = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "finger_right")
        self._tcp = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "tcp")
        self._obj_body = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"object{i}") for i in range(self.n_objects)]
        self._obj_qadr = [m.jnt_qposadr[m.body_jntadr[b]] for b in self._obj_body]
        self._obj_dadr = [m.jnt_dofadr[m.body_jntadr[b]] for b in self._obj_body]
        self._obj_geoms = [{s: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"object{i}_{s}") for s in SHAPES}
                           for i in range(self.n_objects)]
        self._pad_geoms = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"pad{j}") for j in range(self.n_pads)]
        self._obj_geom_ids = [np.array(sorted(g.values())) for g in self._obj_geoms]

    # ---------------------------------------------------------------- operational-space control
    def _solve_ik(self, q: np.ndarray, target: np.ndarray, iterations: int = 3) -> np.ndarray:
        """Damped least squares on a scratch MjData: joint angles putting the TCP at ``target``, pointing down."""
        d, m = self._ik_data, self.model
        q = q.copy()
        jacp = np.zeros((3, m.nv))
        jacr = np.zeros((3, m.nv))
        for _ in range(iterations):
            d.qpos[self._arm_qadr] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            pos = d.site_xpos[self._tcp]
            rot = d.site_xmat[self._tcp].reshape(3, 3)
            err_p = target - pos
            err_r = orientation_error(rot)
            mujoco.mj_jacSite(m, d, jacp, jacr, self._tcp)
            jac = np.vstack([jacp[:, self._arm_dadr], jacr[:, self._arm_dadr]])
            err = np.concatenate([err_p, 0.5 * err_r])
            jw = jac * _IK_WEIGHTS[:, None]
            dq = jw.T @ np.linalg.solve(jw @ jw.T + _IK_DAMPING, err * _IK_WEIGHTS)
            q = np.clip(q + dq, self._arm_range[:, 0], self._arm_range[:, 1])
        return q

    def _tcp_of(self, q: np.ndarray) -> np.ndarray:
        self._ik_data.qpos[self._arm_qadr] = q
        mujoco.mj_kinematics(self.model, self._ik_data)
        return self._ik_data.site_xpos[self._tcp].copy()

    # ---------------------------------------------------------------- Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        rng = self.np_random
        self.colors = list(self.fixed_colors) if self.fixed_colors else \
            list(rng.choice(list(COLORS), size=self.n_objects, replace=False))
        self.shapes = list(self.fixed_shapes) if self.fixed_shapes else \
            [SHAPES[k] for k in rng.integers(0, len(SHAPES), size=self.n_objects)]
        if self.task == "stack":
            self.shapes[1] = self.fixed_shapes[1] if self.fixed_shapes else "cube"
        free = [c for c in COLORS if c not in self.colors]
        self.pad_colors = list(self.fixed_pad_colors) if self.fixed_pad_colors else \
            list(rng.choice(free, size=self.n_pads, replace=False))
        self._apply_appearance()
        self._place_objects(rng)

        self._q_des = self._home_q.copy()
        self.data.qpos[self._arm_qadr] = self._home_q
        self.data.qpos[self._finger_qadr] = MAX_OPENING
        self.data.ctrl[:5] = self._home_q
        self.data.ctrl[5:7] = MAX_OPENING
        mujoco.mj_forward(self.model, self.data)
        self._lifted = False
        obs = self._observation()
        info = self._evaluate()[1]
        info["instruction"] = self.describe().instruction
        return obs, info

    def step(self, action):
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (4,):
            raise ValueError(f"action has shape {action.shape}; expected (4,) = (dx, dy, dz, grip)")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action {action.tolist()} has NaN or inf entries")
        action = np.clip(action, -1.0, 1.0)
        target = np.clip(self._tcp_of(self._q_des) + action[:3] * self.max_delta, WORKSPACE_LOW, WORKSPACE_HIGH)
        q_new = self._solve_ik(self._q_des, target)
        # Keep the last command when the solver lands outside the workspace (a target at the edge of reach).
        reached = self._tcp_of(q_new)
        if np.all(reached >= WORKSPACE_LOW - 0.01) and np.all(reached <= WORKSPACE_HIGH + 0.01):
            self._q_des = q_new
        self.data.ctrl[:5] = self._q_des
        self.data.ctrl[5:7] = MAX_OPENING * (1.0 - action[3]) / 2.0
        self._step_physics()
        obs = self._observation()
        reward, info = self._evaluate()
        terminated = bool(self.terminate_on_success and info["is_success"])
        return obs, reward, terminated, False, info

    # ---------------------------------------------------------------- scene
    def _apply_appearance(self) -> None:
        m = self.model
        for i, (color, shape) in enumerate(zip(self.colors, self.shapes)):
            for s, gid in self._obj_geoms[i].items():
                on = s == shape
                m.geom_rgba[gid] = (*COLORS[color], 1.0) if on else (0, 0, 0, 0)
                m.geom_contype[gid] = m.geom_conaffinity[gid] = 1 if on else 0
        for j, color in enumerate(self.pad_colors):
            m.geom_rgba[self._pad_geoms[j]] = (*COLORS[color], 1.0)

    def _place_objects(self, rng: np.random.Generator) -> None:
        """Objects and pads at random non-overlapping spots; pad 0 at least ``PAD_GAP`` from object 0, or at a
        distance in ``pad_distance`` from it when that is set."""
        spots: list[np.ndarray] = []

        def draw(min_gap: float, away_from: np.ndarray | None = None) -> np.ndarray:
            for _ in range(1000):
                xy = rng.uniform(SPAWN_LOW, SPAWN_HIGH)
                if all(np.linalg.norm(xy - s) >= min_gap for s in spots) and \
                        (away_from is None or np.linalg.norm(xy - away_from) >= PAD_GAP):
                    spots.append(xy)
                    return xy
            raise RuntimeError("could not place objects without overlap; use fewer objects")

        def draw_near(min_gap: float, centre: np.ndarray) -> np.ndarray | None:
            # pad 0 at a set distance: it may overlap object 0 (a flat pad under an object is the goal state),
            # not the other objects; None when there is no room from where object 0 stands
            lo, hi = self.pad_distance
            for _ in range(1000):
                angle, d = rng.uniform(0.0, 2 * np.pi), rng.uniform(lo, hi)
                xy = centre + d * np.array([np.cos(angle), np.sin(angle)])
                if np.all(xy >= SPAWN_LOW) and np.all(xy <= SPAWN_HIGH) and \
                        all(np.linalg.norm(xy - s) >= min_gap for s in spots[1:]):
                    spots.append(xy)
                    return xy
            return None

        # With pad_distance set, a far range may not fit from where object 0 landed (the spawn area is 30 x 40 cm):
        # the objects are drawn again. The default draw makes exactly one attempt, so its scenes are unchanged.
        for _ in range(100 if self.pad_distance is not None else 1):
            spots.clear()
            for i in range(self.n_objects):
                xy = draw(0.09)
                qadr = self._obj_qadr[i]
                self.data.qpos[qadr:qadr + 3] = (*xy, HALF)
                self.data.qpos[qadr + 3:qadr + 7] = (1.0, 0.0, 0.0, 0.0)
            first = spots[0] if spots else None
            pads = []
            for j in range(self.n_pads):
                if j == 0 and self.pad_distance is not None:
                    xy = draw_near(PAD_RADIUS + HALF + 0.02, first)
                    if xy is None:
                        break
                else:
                    xy = draw(PAD_RADIUS + HALF + 0.02, first if j == 0 else None)
                pads.append(xy)
            if len(pads) == self.n_pads:
                for j, xy in enumerate(pads):
                    self.model.geom_pos[self._pad_geoms[j]][:2] = xy
                return
        raise RuntimeError(f"could not place pad 0 at pad_distance={self.pad_distance} from object 0 inside the spawn "
                           f"area in 100 scenes; use a range nearer {PAD_GAP} m or fewer objects")

    def describe(self) -> SceneDescription:
        """The scene in words: object and pad names and the instruction for the task."""
        objects = [f"{c} {s}" for c, s in zip(self.colors, self.shapes)]
        pads = [f"{c} pad" for c in self.pad_colors]
        if not objects:
            return SceneDescription(self.task, [], [], "")
        instruction = {
            "reach": lambda: f"reach the {objects[0]}",
            "push": lambda: f"push the {objects[0]} onto the {pads[0]}",
            "pick_place": lambda: f"put the {objects[0]} on the {pads[0]}",
            "stack": lambda: f"stack the {objects[0]} on the {objects[1]}",
        }[self.task]()
        return SceneDescription(self.task, objects, pads, instruction)

    # ---------------------------------------------------------------- state readouts
    def tcp_position(self) -> np.ndarray:
        return self.data.site_xpos[self._tcp].copy()

    def object_position(self, i: int) -> np.ndarray:
        return self.data.xpos[self._obj_body[i]].copy()

    def pad_position(self, j: int) -> np.ndarray:
        return self.model.geom_pos[self._pad_geoms[j]].copy()

    def gripper_opening(self) -> float:
        return float(self.data.qpos[self._finger_qadr].sum())

    def goal_position(self) -> np.ndarray:
        if self.task == "reach":
            return self.object_position(0)
        if self.task == "stack":
            return self.object_position(1) + np.array([0.0, 0.0, 2 * HALF])
        pad = self.pad_position(0)
        return np.array([pad[0], pad[1], HALF])

    def is_grasped(self, i: int = 0) -> bool:
        """Both finger geoms touch object ``i``."""
        pairs = self.data.contact.geom[: self.data.ncon]           # (ncon, 2) geom ids, read as one array
        with_object = pairs[(pairs[:, :, None] == self._obj_geom_ids[i]).any(axis=(1, 2))]
        return len(self._finger_geoms.intersection(with_object.ravel().tolist())) == 2

    def _observation(self) -> np.ndarray:
        vel = np.zeros(6)
        mujoco.mj_objectVelocity(self.model, self.data, mujoco.mjtObj.mjOBJ_SITE, self._tcp, vel, 0)
        tcp = self.tcp_position()
        parts = [tcp, vel[3:], [self.gripper_opening()], [float(self.data.qvel[self._finger_dadr].sum())]]
        for i in range(self.n_objects):
            pos = self.object_position(i)
            dadr = self._obj_dadr[i]
            parts += [pos, pos - tcp, self.data.qvel[dadr:dadr + 3]]
        parts.append(self.goal_position())
        return np.concatenate(parts).astype(np.float32)

    def _evaluate(self) -> tuple[float, dict[str, Any]]:
        """Reward terms (weighted, fixed keys) and success for the current state."""
        tcp, obj = self.tcp_position(), self.object_position(0)
        grasped = self.is_grasped(0)
        height = obj[2] - HALF
        if height > 0.04:
            self._lifted = True
        goal = self.goal_position()
        raw = {"reach": 1.0 - np.tanh(10.0 * np.linalg.norm(tcp - obj))}
        if self.task == "push":
            raw["push"] = 1.0 - np.tanh(10.0 * np.linalg.norm(obj[:2] - goal[:2]))
        if self.task in ("pick_place", "stack"):
            raw["grasp"] = float(grasped)
            raw["lift"] = float(grasped) * float(np.clip(height / 0.08, 0.0, 1.0))
            raw["place"] = 1.0 - np.tanh(10.0 * np.linalg.norm(obj - goal))
        success = self._success(tcp, obj, goal, grasped)
        raw["success"] = float(success)
        terms = {k: float(self.term_weights[k] * raw[k]) for k in self.term_weights}
        return float(sum(terms.values())), self.terms_info(terms, success)

    def _success(self, tcp, obj, goal, grasped) -> bool:
        if self.task == "reach":
            return bool(np.linalg.norm(tcp - obj) < 0.03)
        on_pad = np.linalg.norm(obj[:2] - goal[:2]) < PAD_RADIUS and abs(obj[2] - HALF) < 0.01
        if self.task == "push":
            return bool(on_pad)
        if self.task == "pick_place":
            return bool(self._lifted and on_pad)
        base = self.object_position(1)
        return bool(np.linalg.norm(obj[:2] - base[:2]) < 0.02 and abs(obj[2] - goal[2]) < 0.01
                    and abs(base[2] - HALF) < 0.01 and not grasped)
