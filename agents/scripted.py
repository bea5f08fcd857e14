"""Scripted controllers for the manipulation world: proof that each task is solvable, and demonstrations.

``ScriptedController(env)`` reads the true state of a :class:`worlds.manipulation.ManipulationEnv` and returns
actions; ``run_episode(env, seed)`` plays one episode with it. The controllers are small state machines:

* reach: move the TCP straight to the object.
* push: close the gripper into a fist, go above a point behind the object (seen from the pad), descend, and
  push along the object-to-pad line, re-aiming whenever the object drifts off that line.
* pick_place and stack: open, hover above the object, descend, close, lift, carry above the goal, lower,
  open, retreat.
"""

from __future__ import annotations

import numpy as np

from worlds.manipulation import HALF, ManipulationEnv

HOVER = 0.12
GRASP_ABOVE = 0.006
PUSH_Z = 0.03
CLOSED, OPEN = 1.0, -1.0


class ScriptedController:
    """A state machine over the env's true state; call :meth:`reset` at each episode start."""

    def __init__(self, env):
        self.env: ManipulationEnv = env.unwrapped
        self.reset()

    def reset(self) -> None:
        self.phase = "start"
        self.wait = 0

    # ------------------------------------------------------------------ helpers
    def _move(self, target: np.ndarray, grip: float, gain: float = 1.0) -> np.ndarray:
        delta = (np.asarray(target) - self.env.tcp_position()) * gain / self.env.max_delta
        return np.append(np.clip(delta, -1.0, 1.0), grip).astype(np.float32)

    def _near(self, target: np.ndarray, tol: float = 0.01) -> bool:
        return bool(np.linalg.norm(np.asarray(target) - self.env.tcp_position()) < tol)

    def __call__(self, obs=None) -> np.ndarray:
        return getattr(self, f"_{self.env.task}")()

    # ------------------------------------------------------------------ tasks
    def _reach(self) -> np.ndarray:
        obj, tcp = self.env.object_position(0), self.env.tcp_position()
        if np.linalg.norm(obj[:2] - tcp[:2]) > 0.01 and tcp[2] < obj[2] + 0.05:
            return self._move(np.append(tcp[:2], obj[2] + 0.08), OPEN)   # rise first: never sweep objects
        if np.linalg.norm(obj[:2] - tcp[:2]) > 0.01:
            return self._move(np.append(obj[:2], obj[2] + 0.08), OPEN)
        return self._move(obj, OPEN)

    def _push(self) -> np.ndarray:
        env = self.env
        obj, goal, tcp = env.object_position(0), env.goal_position(), env.tcp_position()
        to_goal = goal[:2] - obj[:2]
        dist = float(np.linalg.norm(to_goal))
        direction = to_goal / max(dist, 1e-6)
        behind = obj[:2] - direction * (HALF + 0.03)
        rel = tcp[:2] - obj[:2]
        along = float(rel @ direction)                                   # < 0: TCP is behind the object
        lateral = float(abs(rel[0] * direction[1] - rel[1] * direction[0]))
        if dist < 0.015:
            self.phase = "done"
        if self.phase == "done":
            return self._move(np.append(tcp[:2], PUSH_Z + 0.05), CLOSED) if dist < 0.03 else self._restart()
        if self.phase == "push":
            if along > -HALF * 0.8 or lateral > 0.02:
                return self._restart()
            # Aim at the point behind the object on the object-goal line, pushed forward: corrects drift.
            target = np.append(obj[:2] - direction * (HALF + 0.01) + direction * min(0.04, dist), PUSH_Z)
            return 0.35 * self._move(target, CLOSED) + [0, 0, 0, 0.65 * CLOSED]   # slow: fast pushes topple
        if self.phase in ("start", "rise"):
            self.phase = "rise"
            if tcp[2] > PUSH_Z + 0.07:
                self.phase = "aim"
            return self._move(np.append(tcp[:2], PUSH_Z + 0.09), CLOSED)
        if self.phase == "aim":
            above = np.append(behind, PUSH_Z + 0.08)
            if np.linalg.norm(above[:2] - tcp[:2]) < 0.008:
                self.phase = "down"
            return self._move(above, CLOSED)
        # down
        if tcp[2] < PUSH_Z + 0.008:
            self.phase = "push"
        return self._move(np.append(behind, PUSH_Z), CLOSED)

    def _restart(self) -> np.ndarray:
        self.phase = "rise"
        return self._push()

    def _pick_place(self) -> np.ndarray:
        env = self.env
        obj = env.object_position(0)
        goal = env.goal_position()
        tcp = env.tcp_position()
        p = self.phase
        if p == "start":
            self.phase = "hover"
            p = "hover"
        if p == "hover":
            target = obj + [0, 0, HOVER]
            if np.linalg.norm(target[:2] - tcp[:2]) < 0.008:
                self.phase = "descend"
            return self._move(target, OPEN)
        if p == "descend":
            # Grasp 5 mm above the centre: fingertips dragging on the table would stop the fingers closing.
            target = obj + [0, 0, GRASP_ABOVE]
            if abs(tcp[2] - target[2]) < 0.006:
                self.phase, self.wait = "close", 0
            return self._move(target, OPEN)
        if p == "close":
            # Squeeze until both fingers touch the object, then a few steps more for grip force.
            self.wait += 1
            if self.wait >= 12 or (env.is_grasped(0) and self.wait >= 4):
                self.phase = "lift"
            return self._move(tcp, CLOSED)
        if p == "lift":
            if not env.is_grasped(0):
                self.phase = "hover"
            if tcp[2] > goal[2] + HOVER * 0.6:
                self.phase = "carry"
            return self._move(np.append(tcp[:2], goal[2] + HOVER * 0.8), CLOSED)
        if p == "carry":
            target = np.append(goal[:2], goal[2] + HOVER * 0.8)
            if not env.is_grasped(0):
                self.phase = "hover"
            if np.linalg.norm(target[:2] - obj[:2]) < 0.006:
                self.phase = "lower"
            # Carried objects slip when jerked: cap the speed at 60% of the maximum.
            return 0.6 * self._move(target + np.append(tcp[:2] - obj[:2], 0), CLOSED) + [0, 0, 0, 0.4 * CLOSED]
        if p == "lower":
            target = goal + np.append(tcp[:2] - obj[:2], 0.004)
            if abs(obj[2] - goal[2]) < 0.006:
                self.phase, self.wait = "release", 0
            return self._move(target, CLOSED, gain=0.7)
        if p == "release":
            self.wait += 1
            if self.wait >= 5:
                self.phase = "retreat"
            return self._move(tcp, OPEN)
        return self._move(np.append(tcp[:2], goal[2] + HOVER), OPEN)

    _stack = _pick_place


def run_episode(env, seed: int, controller: ScriptedController | None = None, render: bool = False):
    """Play one episode with the scripted controller; return (success at the end, return, frames)."""
    controller = controller or ScriptedController(env)
    obs, info = env.reset(seed=seed)
    controller.reset()
    total, frames = 0.0, []
    terminated = truncated = False
    while not (terminated or truncated):
        obs, reward, terminated, truncated, info = env.step(controller(obs))
        total += reward
        if render:
            frames.append(env.render())
    return bool(info["is_success"]), total, frames
