"""Captions for the studio CLIP, written from the true scene state.

A :class:`Facts` record holds what is true in one frame (object names, relation, lift); :func:`caption`
turns it into words with one of several paraphrase templates, and :func:`distractors` changes exactly one
fact to make the hard negatives of the caption-retrieval test.

Templates are split: ``TRAIN_TEMPLATES`` are used for training, ``HELDOUT_TEMPLATES`` only for evaluation
(held-out paraphrases).

Manipulation relations (object 0 against its reference: pad 0, or object 1 in ``stack``):

========  ==========================================================================
relation  meaning
========  ==========================================================================
on        resting on the reference (x-y within 6 cm of a pad's centre / stacked)
next to   within 15 cm in x-y, not on it
far from  farther than 15 cm
========  ==========================================================================

``lifted`` (held by both fingers and at least 3 cm above the table) turns the phrase into "lifted above",
"lifted near" or "lifted far from".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

RELATIONS = ("on", "next to", "far from")
LIFTED_PHRASE = {"on": "lifted above", "next to": "lifted near", "far from": "lifted far from"}

TRAIN_TEMPLATES = (
    "the {obj} is {rel} the {ref}",
    "a {obj} {rel} a {ref}",
    "{obj} {rel} {ref}",
    "a photo of the {obj} {rel} the {ref}",
)
HELDOUT_TEMPLATES = (
    "there is a {obj} {rel} the {ref}",
    "robot table with the {obj} {rel} the {ref}",
)

POSE_PHRASES = {
    "standing": "standing up",
    "kneeling": "kneeling",
    "arms_raised": "standing up, with both arms raised",
    "lotus": "seated down, meditating in the lotus position",
    "splits": "practicing gymnastics, doing the side splits",
    "lying": "lying on the ground",
}
POSE_TRAIN_TEMPLATES = ("a humanoid robot {pose}", "humanoid robot {pose}", "a photo of a humanoid robot {pose}")
POSE_HELDOUT_TEMPLATES = ("a robot that is {pose}",)


@dataclass(frozen=True)
class Facts:
    """What is true in one frame, in words. ``pose`` is set for humanoid frames, the rest for manipulation."""

    obj: str = ""            # "red cube"
    ref: str = ""            # "blue pad" or "green cylinder"
    relation: str = ""       # one of RELATIONS
    lifted: bool = False
    pose: str = ""           # one of POSE_PHRASES

    @property
    def is_pose(self) -> bool:
        return bool(self.pose)


def caption(facts: Facts, template: str) -> str:
    """The caption of ``facts`` in ``template`` (a manipulation or pose template)."""
    if facts.is_pose:
        return template.format(pose=POSE_PHRASES[facts.pose])
    rel = LIFTED_PHRASE[facts.relation] if facts.lifted else facts.relation
    return template.format(obj=facts.obj, rel=rel, ref=facts.ref)


def _swap_colour(name: str, colours: list[str]) -> list[str]:
    colour, rest = name.split(" ", 1)
    return [f"{c} {rest}" for c in colours if c != colour]


def negative_kind(facts: Facts, negative: Facts) -> str:
    """Which fact ``negative`` changes: relation, lifted, pose, ref_colour, shape or obj_colour."""
    if negative.pose != facts.pose:
        return "pose"
    if negative.relation != facts.relation:
        return "relation"
    if negative.lifted != facts.lifted:
        return "lifted"
    if negative.ref != facts.ref:
        return "ref_colour"
    return "shape" if negative.obj.split(" ", 1)[1] != facts.obj.split(" ", 1)[1] else "obj_colour"


def distractors(facts: Facts, colours: list[str], shapes: list[str], present: tuple[str, ...] = (),
                relations: dict[str, str] | None = None) -> list[Facts]:
    """Every record that differs from ``facts`` in exactly one fact and is false of the scene (hard negatives).

    ``present`` names every object in the scene: a swap that names another object of the scene is left out,
    since "the green cube is far from the pad" may well be true of that other object. ``relations`` gives
    object 0's relation to every other reference in the scene (``{"yellow pad": "far from"}``): a swap of
    the reference that states a relation which holds for that reference too is left out, since "the red cube
    is far from the yellow pad" is then as true as the caption itself.
    """
    if facts.is_pose:
        return [replace(facts, pose=p) for p in POSE_PHRASES if p != facts.pose]
    out = [replace(facts, relation=r) for r in RELATIONS if r != facts.relation]
    out.append(replace(facts, lifted=not facts.lifted))
    ref_colour = facts.ref.split(" ", 1)[0]
    obj_colour = facts.obj.split(" ", 1)[0]
    out += [replace(facts, obj=o) for o in _swap_colour(facts.obj, [c for c in colours if c != ref_colour])]
    out += [replace(facts, ref=r) for r in _swap_colour(facts.ref, [c for c in colours if c != obj_colour])]
    colour, shape = facts.obj.split(" ", 1)
    out += [replace(facts, obj=f"{colour} {s}") for s in shapes if s != shape]
    relations = relations or {}
    return [f for f in out if (f.obj == facts.obj or f.obj not in present)
            and (f.ref == facts.ref or relations.get(f.ref) != facts.relation)]
