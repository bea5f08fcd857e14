"""A curriculum as data: lessons of world settings, each held until the agent succeeds at it often enough.

A lesson is a dict of world settings, each applied between episodes through the world's own setter: the key
``pad_distance`` calls ``set_pad_distance(value)`` on every environment (``VecEnv.env_method``), so any world
that exposes ``set_<key>`` can be taught this way, and a config file or a sweep can write lessons as plain
data::

    lessons = [{"pad_distance": [0.07, 0.10]}, {"pad_distance": [0.07, 0.16]}, {"pad_distance": None}]
    model.learn(200_000, callback=Curriculum(lessons, promote_at=0.7, window=100))

:class:`Curriculum` is a Stable-Baselines3 callback. It applies the first lesson when training starts and
moves to the next once the last ``window`` training episodes *begun under the current lesson* reach the
ground-truth success rate ``promote_at`` (``info["is_success"]`` at the episode's end); episodes already under
way when a lesson changes count for neither. The last lesson is normally the task as it is judged (``None``
restores a world's default), and is kept to the end. Only success moves it on: a lesson never passed is
reported, not skipped. ``history`` records each change as ``(timesteps, lesson index)``.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Callable, Sequence

from stable_baselines3.common.callbacks import BaseCallback


def check_lessons(lessons: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lessons as a list of dicts with string keys; a clear error otherwise (the fix named)."""
    if isinstance(lessons, (str, bytes, dict)) or not isinstance(lessons, Sequence) or len(lessons) == 0:
        raise ValueError(f"lessons={lessons!r} is not a non-empty list of lessons; give a list of dicts of world "
                         f"settings, e.g. [{{'pad_distance': [0.07, 0.1]}}, {{'pad_distance': None}}]")
    out = []
    for i, lesson in enumerate(lessons):
        if not isinstance(lesson, dict) or not lesson or not all(isinstance(k, str) and k for k in lesson):
            raise ValueError(f"lesson {i} ({lesson!r}) is not a dict of world settings; give e.g. "
                             f"{{'pad_distance': [0.07, 0.1]}}")
        out.append(dict(lesson))
    return out


class Curriculum(BaseCallback):
    """Teach ``lessons`` in order (module docstring); ``promote_at`` in (0, 1], ``window`` episodes >= 1;
    ``on_change(index, lesson, env_steps)`` is called as each lesson begins (a worker's telemetry)."""

    def __init__(self, lessons: Sequence[dict[str, Any]], promote_at: float = 0.7, window: int = 100,
                 verbose: int = 0, on_change: Callable[[int, dict[str, Any], int], None] | None = None):
        super().__init__(verbose)
        self.on_change = on_change          # told (lesson index, lesson, env steps) whenever a lesson begins
        self.lessons = check_lessons(lessons)
        if not (isinstance(promote_at, (int, float)) and math.isfinite(promote_at) and 0 < promote_at <= 1):
            raise ValueError(f"promote_at={promote_at!r} is not a success rate in (0, 1]; e.g. 0.7")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window={window!r} is not a whole number of episodes >= 1; e.g. 100")
        self.promote_at, self.window = float(promote_at), window
        self.lesson = 0
        self.history: list[tuple[int, int]] = []
        self._recent: deque[float] = deque(maxlen=window)
        self._env_lesson: list[int] = []

    @property
    def finished(self) -> bool:
        """Whether the last lesson is being taught."""
        return self.lesson == len(self.lessons) - 1

    def _apply(self, index: int) -> None:
        self.lesson = index
        for key, value in self.lessons[index].items():
            self.training_env.env_method(f"set_{key}", value)
        self.history.append((int(self.num_timesteps), index))
        self._recent.clear()
        if self.on_change is not None:
            self.on_change(index, self.lessons[index], int(self.num_timesteps))
        if self.verbose:
            print(f"curriculum: lesson {index} {self.lessons[index]} from step {self.num_timesteps}")

    def _on_training_start(self) -> None:
        for i, lesson in enumerate(self.lessons):
            for key in lesson:
                if not self.training_env.has_attr(f"set_{key}"):
                    raise ValueError(f"lesson {i} sets {key!r}, but the world has no set_{key}() to apply it; "
                                     f"give settings the world can change between episodes (e.g. pad_distance "
                                     f"for push)")
        # Episodes already begun were drawn before the first lesson: they count once they end and restart.
        self._env_lesson = [-1] * self.training_env.num_envs
        self._apply(self.lesson)

    def _on_step(self) -> bool:
        for i, (done, info) in enumerate(zip(self.locals["dones"], self.locals["infos"])):
            if not done:
                continue
            if self._env_lesson[i] == self.lesson:
                self._recent.append(float(info.get("is_success", False)))
            self._env_lesson[i] = self.lesson        # the env has reset under the current lesson
        if not self.finished and len(self._recent) == self.window and \
                sum(self._recent) / self.window >= self.promote_at:
            self._apply(self.lesson + 1)
        return True

    def episode_tags(self, env_index: int) -> dict[str, int]:
        """``{"lesson": n}``: the lesson env ``env_index``'s current episode began under (-1: before the first
        lesson was applied). Asked as an episode ends and before this callback's ``_on_step`` sees it, it is the
        lesson of the episode that is ending (a recorder's episode tag)."""
        return {"lesson": self._env_lesson[env_index] if self._env_lesson else -1}

    def summary(self) -> dict[str, Any]:
        """What was taught: the lessons, where each began (env steps) and the lesson reached."""
        return {"lessons": self.lessons, "promote_at": self.promote_at, "window": self.window,
                "began_at_steps": {str(i): t for t, i in self.history}, "reached": self.lesson,
                "finished": self.finished}
