"""CollabTable: a person and a robot share one table; each has items of their own to put away.

``CollabTableEnv(human=...)``, registered as ``studio/CollabTable-v0``.

The robot (the agent) must put the three **blue cylinders** in its **blue bin** (far right corner). The person
(a simulated human, or a real one at the keyboard) wants the three **red cubes** at their **red station** (near
left corner), but can only reach their own half of the table (``y <= REACH_Y``, the grey line). Red cubes
that spawn beyond the line are lost to the person unless the robot brings them over: it can carry one into
the person's half (the person takes it from the gripper, a hand-over) or drop it on the station itself. The
two also get in each other's way: hands cannot pass through each other (the robot blocks the person and vice
versa), both grab from the same table, and a robot that picks up a red cube and drops it further away
undoes the person's progress.

Everything that moves is a mocap body placed by the Python step: no contacts, no dynamics, so the world steps
in numpy (tens of thousands of steps per second) and MuJoCo only computes positions for rendering.

The person's behaviour is injected: ``human`` is a callable ``human(view, rng) -> action`` (see
:class:`CollabView` and :class:`HumanPolicy`), or a list of them (one is drawn per episode). The world knows
nothing about where humans come from (``agents.humans`` has simulated ones, ``studio.play_along`` a person at
the keyboard). ``human_probability`` is the share of episodes in which the person is at the table (the rest
are robot-only: the hand is parked out of the way and the observation's ``human present`` gate is 0).

## Action space

``Box(-1, 1, (3,), float32)`` for the robot; the person's action has the same layout.

| index | meaning                                                                           | unit at +1        |
|-------|-----------------------------------------------------------------------------------|-------------------|
| 0     | gripper displacement along x (to the right, seen from the person)                 | ``ROBOT_SPEED`` m |
| 1     | gripper displacement along y (away from the person)                               | ``ROBOT_SPEED`` m |
| 2     | grip: > 0 grabs the nearest free item within ``GRAB_RADIUS`` and holds it;        | -                 |
|       | <= 0 opens (drops what it holds where it is)                                      |                   |

Hands cannot pass through each other: a step that would bring one within ``2 * MOVER_RADIUS`` of the other
ends on the edge of that circle instead (it slides around, slowed; pinned against an edge it stays put).
A held item is delivered as soon as its holder enters the matching zone (blue cylinder: bin; red cube:
station), or when it is dropped there.

## Observation space

``Box(-inf, inf, (18 + 7 * 6,), float32)``; positions in metres, table top is z = 0, the centre is (0, 0).

| slice          | meaning                                                                          |
|----------------|----------------------------------------------------------------------------------|
| 0:2            | robot gripper x, y                                                               |
| 2:5            | robot holds: nothing / a blue cylinder / a red cube (one-hot)                    |
| 5              | person present (the RLHG task gate: 1 in human-agent episodes, 0 in robot-only) |
| 6:8            | person's hand minus robot gripper (0 when absent)                                |
| 8              | person holds an item (0 when absent)                                             |
| 9              | time elapsed, ``t / episode_steps``                                              |
| 10:12          | bin centre minus gripper                                                         |
| 12:14          | station centre minus gripper                                                     |
| 14:16          | the robot's task target minus gripper (the bin when holding a blue cylinder,    |
|                | else the nearest blue cylinder on the table; 0 when there is none)              |
| 16:18          | the nearest red cube beyond the person's reach minus gripper (0 when none)       |
| 18+7i : 20+7i  | item i minus gripper (items 0-2 blue cylinders, 3-5 red cubes)                   |
| 20+7i : 24+7i  | item i is on the table / held by the robot / held by the person / delivered      |
| 24+7i          | item i is within the person's reach                                              |

## Reward terms (the robot's own task)

| term      | value                                                                                      |
|-----------|--------------------------------------------------------------------------------------------|
| approach  | ``2 * (d_before - d_after)``: how much closer the gripper got to its task target this step |
|           | (the bin when holding a blue cylinder, else the nearest blue cylinder on the table)        |
| deliver   | 1 per blue cylinder that reached the bin this step                                         |
| complete  | 1 on the step the last blue cylinder reaches the bin                                       |

## The person's goals (ground truth in ``info``, never in the reward)

One goal per red cube k: ``info["human_progress"][k]`` (also ``info["human_goal_<k>"]``) is 1 once the cube is at the
station, else ``0.5 * clip(1 - d_k / d0_k, 0, 1) + 0.25 * reachable_k`` with ``d_k`` its distance to the station,
``d0_k`` that distance at reset and ``reachable_k`` 1 while the person holds it or it lies on the table within their
reach (a sub-goal: "my cube is where I can get it"). ``info["human_reward"]`` is the per-goal change of progress this
step (the vector human-goal reward r_H that RLHG's values are fitted to); ``info["human_goals_done"]`` counts delivered
red cubes. ``info["task_progress"]`` is the fraction of blue cylinders in the bin; ``is_success`` is all three in the
bin. ``info["events"]`` counts hand-overs, robot blocks and red cubes the robot picked up.

## Arguments

| argument          | default      | meaning                                                                         |
|-------------------|--------------|---------------------------------------------------------------------------------|
| human             | None         | a :class:`HumanPolicy`, or a list (one drawn per episode); None: nobody there   |
| human_probability | 1.0          | share of episodes with the person present (drawn at reset; 0 when human=None)  |
| episode_steps     | 120          | steps per episode (the registered id also truncates there)                     |
| camera            | ``"front"``  | ``front`` (over the person's shoulder), ``top`` or ``robot_view``              |
| render_profile    | ``"viewer"`` | see :mod:`worlds.rendering`                                                     |
| width, height     | profile's    | render size in pixels                                                           |

``reset(options={"human_present": bool, "human_index": int})`` overrides the per-episode draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from worlds import gl  # noqa: F401  (must precede the mujoco import)

import mujoco
import numpy as np
from gymnasium import spaces

from worlds.base import StudioEnv
from worlds.manipulation import SceneDescription

XML_PATH = Path(__file__).parent / "xml" / "collab.xml"

EPISODE_STEPS = 120
N_ROBOT_ITEMS = 3
N_HUMAN_ITEMS = 3
N_ITEMS = N_ROBOT_ITEMS + N_HUMAN_ITEMS
TABLE_HALF = np.array([0.48, 0.33])       # movers stay within this box
REACH_Y = 0.05                            # the person's hand cannot go beyond this y
STATION = np.array([-0.36, -0.24])
STATION_RADIUS = 0.08
BIN = np.array([0.36, 0.24])
BIN_HALF = 0.08
ROBOT_SPEED = 0.04
HUMAN_SPEED = 0.04
GRAB_RADIUS = 0.05
MOVER_RADIUS = 0.045
ROBOT_HOME = np.array([0.0, 0.25])
HUMAN_HOME = np.array([0.0, -0.25])
CAMERAS = ("front", "top", "robot_view")
ON_TABLE, HELD_BY_ROBOT, HELD_BY_HUMAN, DELIVERED = 0, 1, 2, 3
OBS_SIZE = 18 + 7 * N_ITEMS


@dataclass(frozen=True)
class CollabView:
    """What a human policy sees each step (copies; changing them changes nothing)."""

    robot_xy: np.ndarray          # (2,)
    hand_xy: np.ndarray           # (2,) the person's hand
    robot_hold: int               # item index or -1
    human_hold: int               # item index or -1
    item_xy: np.ndarray           # (N_ITEMS, 2)
    item_state: np.ndarray        # (N_ITEMS,) ON_TABLE, HELD_BY_ROBOT, HELD_BY_HUMAN or DELIVERED
    human_items: tuple[int, ...]  # indices of the person's items (the red cubes)
    t: int
    episode_steps: int

    @staticmethod
    def reachable(xy: np.ndarray) -> bool:
        return bool(xy[1] <= REACH_Y)


class HumanPolicy(Protocol):
    """A person at the table: ``__call__(view, rng)`` returns a (3,) action like the robot's; ``reset(rng)``
    (optional) is called at every reset with the episode's generator."""

    def __call__(self, view: CollabView, rng: np.random.Generator) -> np.ndarray: ...


class CollabTableEnv(StudioEnv):
    """A person and a robot at one table (see the module docstring for the tables)."""

    def __init__(self, human: HumanPolicy | Sequence[HumanPolicy] | None = None, human_probability: float = 1.0,
                 episode_steps: int = EPISODE_STEPS, camera: str = "front", render_profile: str = "viewer",
                 width: int | None = None, height: int | None = None, render_mode: str | None = "rgb_array"):
        model = mujoco.MjModel.from_xml_path(str(XML_PATH))
        super().__init__(model, frame_skip=1, camera=camera, render_profile=render_profile, width=width,
                         height=height, render_mode=render_mode)
        self.metadata = {**self.metadata, "render_fps": 10}
        self.humans: list[HumanPolicy] = ([] if human is None else
                                          list(human) if isinstance(human, (list, tuple)) else [human])
        self.human_probability = float(human_probability)
        if not 0.0 <= self.human_probability <= 1.0:
            raise ValueError(f"human_probability {human_probability!r} is not in [0, 1]")
        if int(episode_steps) < 1:
            raise ValueError(f"episode_steps {episode_steps!r} must be at least 1")
        self.episode_steps = int(episode_steps)
        self.action_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.observation_space = spaces.Box(-np.inf, np.inf, (OBS_SIZE,), np.float32)
        mocap = lambda name: int(model.body_mocapid[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)])
        self._mocap = {name: mocap(name) for name in ("robot", "human", "human_body", "robot_arm", "human_arm")}
        self._item_mocap = [mocap(f"item{i}") for i in range(N_ITEMS)]
        gid = lambda name: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
        self._arm_geoms = {"robot_arm": gid("robot_arm"), "human_arm": gid("human_arm")}
        for i in range(N_ITEMS):
            model.geom_rgba[gid(f"item{i}")] = (0.15, 0.35, 0.90, 1) if i < N_ROBOT_ITEMS else (0.85, 0.15, 0.15, 1)
        self.human_items = tuple(range(N_ROBOT_ITEMS, N_ITEMS))
        self._zero_state()

    # ---------------------------------------------------------------- people
    def set_human(self, human: HumanPolicy | Sequence[HumanPolicy] | None) -> None:
        """Swap the person (takes effect at the next reset)."""
        self.humans = [] if human is None else list(human) if isinstance(human, (list, tuple)) else [human]

    def set_human_probability(self, p: float) -> None:
        """The share of episodes with the person present (RLHG's beta; takes effect at the next reset)."""
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"human probability {p!r} is not in [0, 1]")
        self.human_probability = float(p)

    @property
    def human(self) -> HumanPolicy | None:
        """The person at the table this episode (None when absent)."""
        return self._human if self.human_present else None

    # ---------------------------------------------------------------- gym API
    def _zero_state(self) -> None:
        self.robot_xy = ROBOT_HOME.copy()
        self.hand_xy = HUMAN_HOME.copy()
        self.robot_hold = -1
        self.human_hold = -1
        self.item_xy = np.zeros((N_ITEMS, 2))
        self.item_state = np.zeros(N_ITEMS, dtype=np.int64)
        self.t = 0
        self.human_present = False
        self._human: HumanPolicy | None = None
        self._d0 = np.ones(N_HUMAN_ITEMS)
        self._progress = np.zeros(N_HUMAN_ITEMS)
        self._events = {"handovers": 0, "robot_blocked_person": 0, "robot_took_red": 0}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        rng = self.np_random
        self._zero_state()
        self.item_xy = self._spawn_items(rng)
        present = rng.random() < self.human_probability
        index = int(rng.integers(len(self.humans))) if self.humans else -1
        present = bool(options.get("human_present", present)) and bool(self.humans)
        if "human_index" in options and self.humans:
            index = int(options["human_index"])
            if not 0 <= index < len(self.humans):
                raise ValueError(f"human_index {index} is out of range; there are {len(self.humans)} humans")
        self.human_present = present
        self._human = self.humans[index] if present else None
        if self._human is not None and hasattr(self._human, "reset"):
            self._human.reset(rng)
        if not present:
            self.hand_xy = np.array([0.0, -TABLE_HALF[1]])
        self._d0 = np.maximum(np.linalg.norm(self.item_xy[N_ROBOT_ITEMS:] - STATION, axis=1), 1e-6)
        self._progress = self._human_progress()
        return self._observation(), self._info({"approach": 0.0, "deliver": 0.0, "complete": 0.0},
                                               np.zeros(N_HUMAN_ITEMS))

    def step(self, action):
        action = np.clip(np.asarray(action, dtype=np.float64).reshape(3), -1.0, 1.0)
        target_before = self._task_target()
        d_before = 0.0 if target_before is None else float(np.linalg.norm(self.robot_xy - target_before))
        delivered_before = self._n_delivered(range(N_ROBOT_ITEMS))

        self._move_robot(action)
        if self.human_present:
            human_action = np.asarray(self._human(self.view(), self.np_random), dtype=np.float64).reshape(3)
            self._move_human(np.clip(human_action, -1.0, 1.0))
        self._carry()
        self.t += 1

        approach = 0.0
        if target_before is not None:
            approach = 2.0 * (d_before - float(np.linalg.norm(self.robot_xy - target_before)))
        delivered = self._n_delivered(range(N_ROBOT_ITEMS))
        terms = {"approach": approach, "deliver": float(delivered - delivered_before),
                 "complete": float(delivered == N_ROBOT_ITEMS and delivered_before < N_ROBOT_ITEMS)}
        progress = self._human_progress()
        human_reward, self._progress = progress - self._progress, progress
        reward = float(sum(terms.values()))
        return self._observation(), reward, False, self.t >= self.episode_steps, self._info(terms, human_reward)

    # ---------------------------------------------------------------- mechanics
    def _spawn_items(self, rng: np.random.Generator) -> np.ndarray:
        """Items apart from each other, the zones and the hands; red cube 0 always beyond the person's reach."""
        placed: list[np.ndarray] = []
        for i in range(N_ITEMS):
            low_y = REACH_Y + 0.04 if i == N_ROBOT_ITEMS else -0.28
            for _ in range(1000):
                xy = np.array([rng.uniform(-0.42, 0.42), rng.uniform(low_y, 0.28)])
                if (np.linalg.norm(xy - STATION) > STATION_RADIUS + 0.04 and np.abs(xy - BIN).max() > BIN_HALF + 0.04
                        and np.linalg.norm(xy - ROBOT_HOME) > 0.08 and np.linalg.norm(xy - HUMAN_HOME) > 0.08
                        and all(np.linalg.norm(xy - p) > 0.08 for p in placed)):
                    break
            placed.append(xy)
        return np.array(placed)

    def _move(self, xy: np.ndarray, delta: np.ndarray, other: np.ndarray | None,
              max_y: float) -> tuple[np.ndarray, bool]:
        high = [TABLE_HALF[0], min(TABLE_HALF[1], max_y)]
        new = np.clip(xy + delta, -TABLE_HALF, high)
        if other is None or np.linalg.norm(new - other) >= 2 * MOVER_RADIUS:
            return new, False
        away = new - other                      # blocked: slide along the other hand's edge instead
        norm = float(np.linalg.norm(away))
        away = away / norm if norm > 1e-9 else (xy - other) / max(float(np.linalg.norm(xy - other)), 1e-9)
        slid = np.clip(other + away * 2 * MOVER_RADIUS, -TABLE_HALF, high)
        if np.linalg.norm(slid - other) < 2 * MOVER_RADIUS - 1e-9:
            return xy, True                     # pinned against the table edge or the reach line
        return slid, True

    def _move_robot(self, action: np.ndarray) -> None:
        other = self.hand_xy if self.human_present else None
        self.robot_xy, _ = self._move(self.robot_xy, action[:2] * ROBOT_SPEED, other, np.inf)
        if action[2] > 0 and self.robot_hold < 0:
            i = self._nearest_free(self.robot_xy)
            if i >= 0:
                self.robot_hold, self.item_state[i] = i, HELD_BY_ROBOT
                self._events["robot_took_red"] += int(i >= N_ROBOT_ITEMS)
        elif action[2] <= 0 and self.robot_hold >= 0:
            self._drop(self.robot_hold, self.robot_xy)
            self.robot_hold = -1
        if self.robot_hold >= 0 and self._in_zone(self.robot_hold, self.robot_xy):
            self._deliver(self.robot_hold)
            self.robot_hold = -1

    def _move_human(self, action: np.ndarray) -> None:
        self.hand_xy, blocked = self._move(self.hand_xy, action[:2] * HUMAN_SPEED, self.robot_xy, REACH_Y)
        self._events["robot_blocked_person"] += int(blocked)
        if action[2] > 0 and self.human_hold < 0:
            i = self._nearest_free(self.hand_xy)
            r = self.robot_hold
            if r >= N_ROBOT_ITEMS and np.linalg.norm(self.robot_xy - self.hand_xy) < GRAB_RADIUS + 2 * MOVER_RADIUS:
                i, self.robot_hold = r, -1          # the robot hands a red cube over
                self._events["handovers"] += 1
            if i >= 0:
                self.human_hold, self.item_state[i] = i, HELD_BY_HUMAN
        elif action[2] <= 0 and self.human_hold >= 0:
            self._drop(self.human_hold, self.hand_xy)
            self.human_hold = -1
        if self.human_hold >= 0 and self._in_zone(self.human_hold, self.hand_xy):
            self._deliver(self.human_hold)
            self.human_hold = -1

    def _nearest_free(self, xy: np.ndarray) -> int:
        free = np.flatnonzero(self.item_state == ON_TABLE)
        if free.size == 0:
            return -1
        d = np.linalg.norm(self.item_xy[free] - xy, axis=1)
        j = int(np.argmin(d))
        return int(free[j]) if d[j] <= GRAB_RADIUS else -1

    @staticmethod
    def _in_zone(i: int, xy: np.ndarray) -> bool:
        if i < N_ROBOT_ITEMS:
            return bool(np.abs(xy - BIN).max() <= BIN_HALF)
        return bool(np.linalg.norm(xy - STATION) <= STATION_RADIUS)

    def _drop(self, i: int, xy: np.ndarray) -> None:
        self.item_xy[i], self.item_state[i] = xy, ON_TABLE
        if self._in_zone(i, xy):
            self._deliver(i)

    def _deliver(self, i: int) -> None:
        slot = self._n_delivered(range(N_ROBOT_ITEMS) if i < N_ROBOT_ITEMS else self.human_items)
        centre = BIN if i < N_ROBOT_ITEMS else STATION
        self.item_xy[i] = centre + 0.035 * np.array([np.cos(2.1 * slot), np.sin(2.1 * slot)])
        self.item_state[i] = DELIVERED

    def _carry(self) -> None:
        if self.robot_hold >= 0:
            self.item_xy[self.robot_hold] = self.robot_xy
        if self.human_hold >= 0:
            self.item_xy[self.human_hold] = self.hand_xy

    def _n_delivered(self, items) -> int:
        return int(sum(self.item_state[i] == DELIVERED for i in items))

    def _task_target(self) -> np.ndarray | None:
        if 0 <= self.robot_hold < N_ROBOT_ITEMS:
            return BIN
        if self.robot_hold >= 0:
            return None
        free = [i for i in range(N_ROBOT_ITEMS) if self.item_state[i] == ON_TABLE]
        if not free:
            return None
        d = np.linalg.norm(self.item_xy[free] - self.robot_xy, axis=1)
        return self.item_xy[free[int(np.argmin(d))]].copy()

    def _human_progress(self) -> np.ndarray:
        red = np.array(self.human_items)
        d = np.linalg.norm(self.item_xy[red] - STATION, axis=1)
        state = self.item_state[red]
        reachable = (state == HELD_BY_HUMAN) | ((state == ON_TABLE) & (self.item_xy[red][:, 1] <= REACH_Y))
        partial = 0.5 * np.clip(1.0 - d / self._d0, 0.0, 1.0) + 0.25 * reachable
        return np.where(self.item_state[red] == DELIVERED, 1.0, partial)

    # ---------------------------------------------------------------- readouts
    def view(self) -> CollabView:
        return CollabView(self.robot_xy.copy(), self.hand_xy.copy(), self.robot_hold, self.human_hold,
                          self.item_xy.copy(), self.item_state.copy(), self.human_items, self.t, self.episode_steps)

    def _observation(self) -> np.ndarray:
        obs = np.zeros(OBS_SIZE, dtype=np.float64)
        obs[0:2] = self.robot_xy
        obs[2 + (0 if self.robot_hold < 0 else 1 if self.robot_hold < N_ROBOT_ITEMS else 2)] = 1.0
        if self.human_present:
            obs[5] = 1.0
            obs[6:8] = self.hand_xy - self.robot_xy
            obs[8] = float(self.human_hold >= 0)
        obs[9] = self.t / self.episode_steps
        obs[10:12] = BIN - self.robot_xy
        obs[12:14] = STATION - self.robot_xy
        target = self._task_target()
        if target is not None:
            obs[14:16] = target - self.robot_xy
        beyond = [i for i in self.human_items if self.item_state[i] == ON_TABLE and self.item_xy[i][1] > REACH_Y]
        if beyond:
            d = [np.linalg.norm(self.item_xy[i] - self.robot_xy) for i in beyond]
            obs[16:18] = self.item_xy[beyond[int(np.argmin(d))]] - self.robot_xy
        for i in range(N_ITEMS):
            k = 18 + 7 * i
            obs[k:k + 2] = self.item_xy[i] - self.robot_xy
            obs[k + 2 + self.item_state[i]] = 1.0
            obs[k + 6] = float(self.item_xy[i][1] <= REACH_Y)
        return obs.astype(np.float32)

    def _info(self, terms: dict[str, float], human_reward: np.ndarray) -> dict[str, Any]:
        info = self.terms_info(terms, self._n_delivered(range(N_ROBOT_ITEMS)) == N_ROBOT_ITEMS)
        progress = self._progress.copy()
        info.update(task_progress=self._n_delivered(range(N_ROBOT_ITEMS)) / N_ROBOT_ITEMS,
                    human_present=self.human_present, human_progress=progress, human_reward=human_reward.copy(),
                    human_goals_done=self._n_delivered(self.human_items), events=dict(self._events))
        for k, value in enumerate(progress):
            info[f"human_goal_{k}"] = float(value)
        return info

    def describe(self) -> SceneDescription:
        """The scene in words."""
        objects = [f"blue cylinder {i}" for i in range(N_ROBOT_ITEMS)] + [f"red cube {i}" for i in range(N_HUMAN_ITEMS)]
        who = "a person" if self.human_present else "nobody"
        return SceneDescription("collab", objects, ["red station (the person's)", "blue bin (the robot's)"],
                                f"robot: put the blue cylinders in the blue bin; {who} at the table wants the red "
                                "cubes at the red station")

    # ---------------------------------------------------------------- rendering
    def render_state(self):
        self._sync_scene()
        return super().render_state()

    def _sync_scene(self) -> None:
        mp = self.data.mocap_pos
        mp[self._mocap["robot"]] = (*self.robot_xy, 0.075)
        hand_z = 0.045 if self.human_present else -3.0
        mp[self._mocap["human"]] = (*self.hand_xy, hand_z)
        body_z = 0.0 if self.human_present else -3.0
        mp[self._mocap["human_body"]] = (np.clip(self.hand_xy[0], -0.4, 0.4), -0.55, body_z)
        for i, m in enumerate(self._item_mocap):
            held = self.item_state[i] in (HELD_BY_ROBOT, HELD_BY_HUMAN)
            mp[m] = (*self.item_xy[i], 0.05 if held else 0.02)
        self._place_link("robot_arm", np.array([0.0, 0.45, 0.12]), np.array([*self.robot_xy, 0.1]), 0.02)
        shoulder = np.array([np.clip(self.hand_xy[0], -0.4, 0.4) + 0.0, -0.5, 0.13])
        self._place_link("human_arm", shoulder, np.array([*self.hand_xy, 0.05 if self.human_present else -3.0]), 0.03)
        mujoco.mj_forward(self.model, self.data)

    def _place_link(self, name: str, a: np.ndarray, b: np.ndarray, radius: float) -> None:
        """Stretch a capsule geom from ``a`` to ``b`` (the arms are drawn, not simulated)."""
        g = self._arm_geoms[name]
        axis = b - a
        length = max(float(np.linalg.norm(axis)), 1e-6)
        z = axis / length
        quat = np.zeros(4)
        mujoco.mju_quatZ2Vec(quat, z)
        self.data.mocap_pos[self._mocap[name]] = (a + b) / 2
        self.data.mocap_quat[self._mocap[name]] = quat
        self.model.geom_size[g][:2] = (radius, length / 2)
        self.model.geom_rbound[g] = radius + length / 2


__all__ = ["CollabTableEnv", "CollabView", "HumanPolicy", "EPISODE_STEPS", "N_ITEMS", "N_HUMAN_ITEMS",
           "N_ROBOT_ITEMS", "REACH_Y", "STATION", "BIN", "ON_TABLE", "HELD_BY_ROBOT", "HELD_BY_HUMAN", "DELIVERED"]
