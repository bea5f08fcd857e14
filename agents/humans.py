"""Simulated people for ``studio/CollabTable-v0``: goal-directed scripted policies with skills and biases.

Each person wants the red cubes at their station and reaches only their half of the table. A
:class:`ScriptedHuman` picks a red cube it can reach (in the order its bias prefers), carries it to the
station, and, when none is in reach, either waits at the reach line for the robot to hand one over or goes
back home. Skill is speed, steadiness (direction noise) and attention (lapses: stretches of doing nothing);
biases are the order it takes cubes in, shyness of the robot and whether it waits for hand-overs.

``TRAINING_HUMANS`` are the people RLHG trains and fits its baseline with; ``HELD_OUT_HUMAN`` is kept for
evaluation only (slower, distracted in bursts, takes cubes left to right and never waits at the line, so a
helper has to bring cubes all the way to it or to the station). ``make_human(name)`` builds any of them.

The policies follow :class:`worlds.collab.HumanPolicy`: ``human(view, rng) -> action`` and ``reset(rng)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from worlds.collab import (GRAB_RADIUS, HELD_BY_ROBOT, MOVER_RADIUS, ON_TABLE, REACH_Y, STATION, CollabView)

ORDERS = ("nearest", "farthest", "left_first")


@dataclass
class ScriptedHuman:
    """A goal-directed person at the table.

    Attributes:
        name: what the studio calls this person.
        speed: fraction of the full hand speed (skill).
        noise: standard deviation of the direction noise, in units of the step (steadiness).
        lapse: chance per step of starting a lapse (attention) ...
        lapse_steps: ... that lasts this many steps (low, high), doing nothing.
        order: which reachable red cube first: ``nearest`` to the hand, ``farthest``, or ``left_first``.
        shy: stays this far (m) from the robot's gripper, waiting while it is closer (0: not shy).
        waits_for_handover: with nothing in reach, wait at the reach line near the closest red cube beyond it
            (else go home and wait there).
    """

    name: str
    speed: float = 0.8
    noise: float = 0.1
    lapse: float = 0.0
    lapse_steps: tuple[int, int] = (5, 15)
    order: str = "nearest"
    shy: float = 0.0
    waits_for_handover: bool = True
    _lapse_left: int = field(default=0, init=False, repr=False)
    _goal: int = field(default=-1, init=False, repr=False)      # the cube it is going for (it commits)

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"unknown order {self.order!r}; choose one of {list(ORDERS)}")

    def reset(self, rng: np.random.Generator) -> None:
        self._lapse_left, self._goal = 0, -1

    def __call__(self, view: CollabView, rng: np.random.Generator) -> np.ndarray:
        if self._lapse_left > 0 or (self.lapse > 0 and rng.random() < self.lapse):
            self._lapse_left = (self._lapse_left or int(rng.integers(*self.lapse_steps))) - 1
            return np.array([0.0, 0.0, 1.0 if view.human_hold >= 0 else -1.0])
        target, grip = self._target(view)
        return self._toward(view, target, grip, rng)

    # ---------------------------------------------------------------- decisions
    def _target(self, view: CollabView) -> tuple[np.ndarray, bool]:
        hand = view.hand_xy
        if view.human_hold >= 0:
            if view.human_hold not in view.human_items:      # picked up someone else's item: put it down
                return hand, False
            return STATION, True
        if view.robot_hold in view.human_items and view.robot_xy[1] <= REACH_Y + GRAB_RADIUS:
            near = np.linalg.norm(view.robot_xy - hand) < GRAB_RADIUS + 2 * MOVER_RADIUS - 0.01
            return view.robot_xy, near                        # take the cube the robot holds out
        mine = [i for i in view.human_items if view.item_state[i] == ON_TABLE]
        reachable = [i for i in mine if view.item_xy[i][1] <= REACH_Y]
        if reachable:
            i = self._goal if self._goal in reachable else self._pick(view, reachable)
            self._goal = i
            return view.item_xy[i], bool(np.linalg.norm(view.item_xy[i] - hand) < 0.8 * GRAB_RADIUS)
        if self.waits_for_handover:
            beyond = [i for i in view.human_items if view.item_state[i] in (ON_TABLE, HELD_BY_ROBOT)]
            if beyond:
                xy = view.item_xy[min(beyond, key=lambda i: abs(view.item_xy[i][0] - hand[0]))]
                return np.array([xy[0], REACH_Y - 0.1]), False      # out of the robot's way
        return np.array([0.0, -0.25]), False

    def _pick(self, view: CollabView, items: list[int]) -> int:
        d = {i: float(np.linalg.norm(view.item_xy[i] - view.hand_xy)) for i in items}
        if self.order == "nearest":
            return min(items, key=d.get)
        if self.order == "farthest":
            return max(items, key=d.get)
        return min(items, key=lambda i: view.item_xy[i][0])

    def _toward(self, view: CollabView, target: np.ndarray, grip: bool, rng: np.random.Generator) -> np.ndarray:
        delta = np.asarray(target, dtype=np.float64) - view.hand_xy
        if self.shy > 0 and np.linalg.norm(view.robot_xy - view.hand_xy) < self.shy and view.human_hold < 0:
            delta = view.hand_xy - view.robot_xy                   # back off from the robot
        dist = float(np.linalg.norm(delta))
        step = 0.04 * self.speed                                    # HUMAN_SPEED at full action
        move = np.zeros(2) if dist < 1e-6 else delta / dist * min(1.0, dist / step) * self.speed
        move = move + rng.normal(0.0, self.noise * self.speed, 2)
        return np.array([*np.clip(move, -1, 1), 1.0 if grip else -1.0])


def _humans() -> dict[str, ScriptedHuman]:
    return {
        "novice": ScriptedHuman("novice", speed=0.5, noise=0.35, lapse=0.03),
        "expert": ScriptedHuman("expert", speed=1.0, noise=0.05),
        "far_first": ScriptedHuman("far_first", speed=0.8, noise=0.1, order="farthest"),
        "shy": ScriptedHuman("shy", speed=0.7, noise=0.15, shy=0.16),
        # held out: never seen in training
        "distracted": ScriptedHuman("distracted", speed=0.6, noise=0.25, lapse=0.05, lapse_steps=(6, 20),
                                    order="left_first", waits_for_handover=False),
    }


TRAINING_HUMANS = ("novice", "expert", "far_first", "shy")
HELD_OUT_HUMAN = "distracted"
HUMAN_NAMES = (*TRAINING_HUMANS, HELD_OUT_HUMAN)


def make_human(name: str) -> ScriptedHuman:
    """A fresh simulated person by name (see ``HUMAN_NAMES``)."""
    humans = _humans()
    if name not in humans:
        raise ValueError(f"unknown simulated human {name!r}; choose one of {list(HUMAN_NAMES)}")
    return humans[name]


def training_humans() -> list[ScriptedHuman]:
    """Fresh copies of the people RLHG trains with."""
    return [make_human(n) for n in TRAINING_HUMANS]


__all__ = ["ScriptedHuman", "TRAINING_HUMANS", "HELD_OUT_HUMAN", "HUMAN_NAMES", "make_human", "training_humans"]
