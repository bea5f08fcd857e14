"""The studio's worlds in Gymnasium's registry, under the ``studio/`` namespace.

``make("studio/Push-v0", **kwargs)`` is ``gymnasium.make`` with an error that lists the valid ids when the id
is unknown. ``WORLDS`` holds what the UI shows for each id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym

NAMESPACE = "studio"


@dataclass(frozen=True)
class WorldInfo:
    """One registered world: its id, entry point, default arguments and a one-line summary for people."""

    id: str
    entry_point: str
    kwargs: dict = field(default_factory=dict)
    max_episode_steps: int | None = None
    summary: str = ""
    family: str = ""          # "manipulation" or "humanoid": which controls and previews apply


WORLDS: dict[str, WorldInfo] = {}


def _add(info: WorldInfo) -> None:
    WORLDS[info.id] = info
    if info.id not in gym.registry:
        gym.register(id=info.id, entry_point=info.entry_point, kwargs=info.kwargs,
                     max_episode_steps=info.max_episode_steps)


def register_all() -> None:
    """Register every studio world (idempotent)."""
    from worlds.manipulation import EPISODE_STEPS

    ep = "worlds.manipulation:ManipulationEnv"
    for name, task, summary in (("Reach", "reach", "Move the gripper to the object."),
                                ("Push", "push", "Push the object onto its pad."),
                                ("PickPlace", "pick_place", "Lift the object and put it on its pad."),
                                ("Stack", "stack", "Stack one object on another.")):
        _add(WorldInfo(f"{NAMESPACE}/{name}-v0", ep, {"task": task}, EPISODE_STEPS[task], summary, "manipulation"))

    from worlds.humanoid import EPISODE_STEPS as HUMANOID_STEPS

    hp = "worlds.humanoid:HumanoidPosesEnv"
    _add(WorldInfo(f"{NAMESPACE}/HumanoidPoses-v0", hp, {"pose": "kneeling"}, HUMANOID_STEPS,
                   "VLM-RM's humanoid: hold a pose (pose=..., default kneeling).", "humanoid"))
    for name, pose, summary in (("Stand", "standing", "Humanoid: stand up."),
                                ("Kneel", "kneeling", "Humanoid: kneel."),
                                ("ArmsRaised", "arms_raised", "Humanoid: stand with both arms raised."),
                                ("Lotus", "lotus", "Humanoid: sit cross-legged in the lotus position."),
                                ("Splits", "splits", "Humanoid: do the side splits.")):
        _add(WorldInfo(f"{NAMESPACE}/Humanoid{name}-v0", hp, {"pose": pose}, HUMANOID_STEPS, summary, "humanoid"))

    from worlds.collab import EPISODE_STEPS as COLLAB_STEPS

    _add(WorldInfo(f"{NAMESPACE}/CollabTable-v0", "worlds.collab:CollabTableEnv", {}, COLLAB_STEPS,
                   "A person and a robot share a table; each puts away their own items (pass human=...).",
                   "collab"))

    _add(WorldInfo(f"{NAMESPACE}/FastMapRoom-v0", "worlds.fastmap:FastMapRoomEnv", {}, None,
                   "Name-learning room: hear \"this is a dax\", then pick up the dax (n_objects=3).", "fastmap"))


def world_ids() -> list[str]:
    """All studio world ids, sorted."""
    return sorted(WORLDS)


def make(world_id: str, **kwargs) -> gym.Env:
    """``gymnasium.make`` for a studio world; an unknown id raises ``ValueError`` listing the valid ids."""
    if world_id not in WORLDS:
        raise ValueError(f"unknown world id {world_id!r}; valid ids are {world_ids()}")
    return gym.make(world_id, **kwargs)
