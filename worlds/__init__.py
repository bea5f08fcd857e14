"""MuJoCo scenes as Gymnasium environments, registered under ``studio/``.

Importing ``worlds`` first picks MuJoCo's GL backend (:mod:`worlds.gl`), then registers the worlds, so
``gymnasium.make("studio/Push-v0")`` works after ``import worlds``. This package imports only gymnasium,
mujoco and numpy.
"""

from worlds import gl  # noqa: F401  (first: MUJOCO_GL must be set before mujoco is imported)
from worlds.registry import WORLDS, make, register_all, world_ids

register_all()

__all__ = ["WORLDS", "make", "world_ids"]
