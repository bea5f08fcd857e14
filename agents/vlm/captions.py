"""Captions for the studio CLIP, written from the true scene state.

A :class:`Facts` record holds what is true in one frame (object names, relation, lift); :func:`caption`
turns it into words with one of several paraphrase templates, and :func:`distractors` changes exactly one
fact to make the hard negatives of the caption-retrieval test.

Templates are split: ``TRAIN_TEMPLATES`` are used for training, ``HELDOUT_TEMPLATES`` only for evaluation
(held-out paraphrases). Training captions may also be *decorated* (:func:`draw_decoration`): filler words
before and after the description, some of them random words of the tokenizer's vocabulary, so that the text
tower learns to read the facts and to ignore the words around them. No decoration uses a word of the held-out
templates (:data:`HELDOUT_WORDS`), so the held-out paraphrases stay unseen. A manipulation caption may also
name the robot arm that every table frame shows (:data:`ARM_PHRASES`, ``arm_p`` of :func:`draw_decoration`):
without it "robot" is read only in the humanoid captions, and a table prompt that says "robot" is pulled
towards the poses. Bare "robot" phrases decorate both scenes alike (:data:`ROBOT_PHRASES`): said of the table
alone, "robot" pulled the humanoid's "a robot that is kneeling" towards the table instead.

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

A manipulation caption may also say where the gripper is, against object 0 (``Facts.gripper``, one of
:data:`GRIPPER_RELATIONS`; :func:`gripper_relation` maps a distance to it), as a clause after the description:
"the red cube is far from the blue pad and the gripper is at the red cube". The scene-state readers always
record it; training states it in a share of captions (``--gripper``), and a caption without the clause says
nothing about the gripper. It lets one prompt describe the whole goal state of a push, the gripper at the cube
that it has just pushed onto the pad, so the reward also pays the approach to the cube.

========  ==================================================================
gripper   meaning (3-D distance from the gripper's centre to object 0's)
========  ==================================================================
at        within 6 cm: touching, pushing or holding it
near      within 18 cm, not at it
far from  farther than 18 cm
========  ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

RELATIONS = ("on", "next to", "far from")
GRIPPER_RELATIONS = ("at", "near", "far from")
GRIPPER_AT, GRIPPER_NEAR = 0.06, 0.18      # m: the limits of "at" and "near" (see the table above)
GRIPPER_CLAUSE = "{text} and the gripper is {grip} the {obj}"
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
# The last two name no robot, or no subject at all: trained only behind "humanoid robot", the pose words were
# read only behind a word that names the humanoid (run 9 probed with the wordings of bench.domain_clip's
# ``pose_word_probe``: "{pose}" alone 0.63 top-1, "a person {pose}" 0.61, 0.99 behind "a robot"), so a model
# that stopped reading "robot" as the humanoid lost them (run 11: 0.60 on the held-out "a robot that is {pose}").
POSE_TRAIN_TEMPLATES = ("a humanoid robot {pose}", "humanoid robot {pose}", "a photo of a humanoid robot {pose}",
                        "the humanoid {pose}", "{pose}")
POSE_HELDOUT_TEMPLATES = ("a robot that is {pose}",)

# Shown beside the prompt boxes: how to word a prompt for the studio CLIP. Measured by bench.domain_clip
# (bench/results/domain_clip.json, 240 held-out episodes): of the two held-out wordings, "there is a ..." scores
# 0.77 top-1, as the training wordings do (0.76), and "robot table with the ..." 0.74; its word_probe puts words
# in front of a training wording: "robot " 0.76 as alone (it was 0.64 before the table captions named the arm),
# "table with " 0.75, and the unseen "piano zebra " 0.76. Cube against cylinder wins only 71% of pairs: colour
# (96%) is surer.
PROMPT_HELP = ("The studio CLIP (the default model) was trained on captions such as 'the red cube is on the blue "
               "pad', 'the green cylinder is lifted above the yellow pad', 'the red cube is on the green cube' and "
               "'a humanoid robot kneeling'. Name colour and shape, and say on / next to / far from / lifted "
               "above; mentioning the robot or its arm is fine. It tells the colours apart far better than cube "
               "from cylinder, so the colour is what carries a prompt. Other CLIP models: any wording.")

# Words that carry facts (or could: other colours, shapes, places, negations) never come from the random
# filler, nor do the words of the held-out templates that the training templates lack.
HELDOUT_WORDS = frozenset({"there", "table", "with", "that"})
# True of every table frame: the arm is always in view. Said before (or after) the description, never in place
# of a fact, and shared by a caption and its hard negatives like every decoration.
# The bare-"robot" ones (ROBOT_PHRASES) decorate the humanoid's captions too, as often: the humanoid is a robot
# as well, and a word said of both scenes alike cannot stand for either, so the rest of the caption must.
ROBOT_PHRASES = ("a robot and", "the robot sees", "robot scene:")
ROBOT_SUFFIXES = ("and the robot",)
ARM_PHRASES = ("a robot arm and", "robot arm scene:", "a robot arm scene where", "the robot arm and", "robot arm:",
               "a robot arm picture:") + ROBOT_PHRASES
ARM_SUFFIXES = ("and a robot arm", "for the robot arm") + ROBOT_SUFFIXES
FACT_WORDS = frozenset("""
    red green blue yellow purple orange pink white black gray grey brown cyan magenta violet gold silver colour
    color cube cubes cylinder cylinders sphere spheres ball balls box block blocks square circle round cone pad
    pads on onto off next to far from near above below under over beside behind between inside outside into in
    top atop left right front back away close beneath underneath upon across along around
    against toward towards nearby adjacent lifted lift held holding gripper at not no never none nothing without nor
    one two three robot humanoid standing stand kneeling kneel arms arm raised seated sitting meditating lotus
    position practicing gymnastics side splits lying ground up down both
    """.split()) | HELDOUT_WORDS
FILLER_PREFIXES = ("a photo of", "an image of", "a picture showing", "a render of", "a scene where", "we see",
                   "it shows", "a view of", "a snapshot of", "here", "the camera sees", "look,", "this is")
FILLER_SUFFIXES = (".", "in the picture", "in the image", "in this scene", "right now", "at the moment")


def filler_words(vocabulary, limit: int = 8000) -> list[str]:
    """Whole-word, alphabetic tokens among the first ``limit`` of a BPE ``vocabulary`` (open_clip's
    ``SimpleTokenizer.encoder`` keys, most frequent merges first), less :data:`FACT_WORDS`."""
    words = [t[:-4] for t in list(vocabulary)[:limit] if t.endswith("</w>")]
    return [w for w in words if w.isascii() and w.isalpha() and len(w) > 2 and w not in FACT_WORDS]


def draw_decoration(rng, words: list[str], p: float = 0.5, arm_p: float = 0.0, pose: bool = False) -> tuple[str, str]:
    """A random ``(prefix, suffix)`` of filler (or ``("", "")`` with probability ``1 - p``). The prefix is a
    filler phrase, one to three random ``words``, or both; the suffix (one time in three) a filler phrase or a
    random word. Drawn once per image, it decorates the image's caption and its hard negatives alike, so the
    filler never tells them apart.

    With probability ``arm_p`` an :data:`ARM_PHRASES` phrase (the arm is in every table frame) goes just before
    the description, or one time in four an :data:`ARM_SUFFIXES` phrase after it, whether or not filler was
    drawn. A humanoid caption (``pose``) draws from the bare-"robot" phrases only, as often as a table
    caption draws one of them. ``arm_p = 0`` draws nothing more, so older runs keep their random stream.
    """
    prefix, suffix = _draw_filler(rng, words, p)
    phrases, suffixes = (ROBOT_PHRASES, ROBOT_SUFFIXES) if pose else (ARM_PHRASES, ARM_SUFFIXES)
    share = len(ROBOT_PHRASES) / len(ARM_PHRASES) if pose else 1.0
    if arm_p and rng.random() < arm_p * share:
        if rng.random() < 0.75:
            prefix = f"{prefix} {phrases[rng.integers(len(phrases))]}".strip()
        else:
            suffix = suffixes[rng.integers(len(suffixes))]
    return prefix, suffix


def _draw_filler(rng, words: list[str], p: float) -> tuple[str, str]:
    if rng.random() >= p:
        return "", ""
    kind = rng.integers(3)
    random_words = " ".join(words[i] for i in rng.integers(len(words), size=rng.integers(1, 4)))
    phrase = FILLER_PREFIXES[rng.integers(len(FILLER_PREFIXES))]
    prefix = (phrase, random_words, f"{phrase} {random_words}")[kind]
    suffix = ""
    if rng.random() < 1 / 3:
        suffix = FILLER_SUFFIXES[rng.integers(len(FILLER_SUFFIXES))] if rng.random() < 0.5 \
            else words[rng.integers(len(words))]
    return prefix, suffix


def decorate(text: str, decoration: tuple[str, str]) -> str:
    """``text`` with a :func:`draw_decoration` prefix and suffix around it."""
    prefix, suffix = decoration
    text = f"{prefix} {text}" if prefix else text
    if suffix:
        text = text + suffix if suffix == "." else f"{text} {suffix}"
    return text


@dataclass(frozen=True)
class Facts:
    """What is true in one frame, in words. ``pose`` is set for humanoid frames, the rest for manipulation."""

    obj: str = ""            # "red cube"
    ref: str = ""            # "blue pad" or "green cylinder"
    relation: str = ""       # one of RELATIONS
    lifted: bool = False
    pose: str = ""           # one of POSE_PHRASES
    gripper: str = ""        # one of GRIPPER_RELATIONS (the gripper against obj), or "" for unsaid

    @property
    def is_pose(self) -> bool:
        return bool(self.pose)


def gripper_relation(distance: float) -> str:
    """The :data:`GRIPPER_RELATIONS` word for a gripper ``distance`` (m) from the object."""
    return "at" if distance < GRIPPER_AT else ("near" if distance < GRIPPER_NEAR else "far from")


def caption(facts: Facts, template: str) -> str:
    """The caption of ``facts`` in ``template`` (a manipulation or pose template); a stated ``gripper``
    adds :data:`GRIPPER_CLAUSE` after it."""
    if facts.is_pose:
        return template.format(pose=POSE_PHRASES[facts.pose])
    rel = LIFTED_PHRASE[facts.relation] if facts.lifted else facts.relation
    text = template.format(obj=facts.obj, rel=rel, ref=facts.ref)
    return GRIPPER_CLAUSE.format(text=text, grip=facts.gripper, obj=facts.obj) if facts.gripper else text


def unsaid_gripper(facts: Facts) -> Facts:
    """``facts`` without the gripper clause (what every caption said before ``--gripper``)."""
    return replace(facts, gripper="") if facts.gripper else facts


def _swap_colour(name: str, colours: list[str]) -> list[str]:
    colour, rest = name.split(" ", 1)
    return [f"{c} {rest}" for c in colours if c != colour]


def negative_kind(facts: Facts, negative: Facts) -> str:
    """Which fact ``negative`` changes: relation, lifted, pose, gripper, ref_colour, shape or obj_colour."""
    if negative.pose != facts.pose:
        return "pose"
    if negative.gripper != facts.gripper:
        return "gripper"
    if negative.relation != facts.relation:
        return "relation"
    if negative.lifted != facts.lifted:
        return "lifted"
    if negative.ref != facts.ref:
        return "ref_colour"
    return "shape" if negative.obj.split(" ", 1)[1] != facts.obj.split(" ", 1)[1] else "obj_colour"


def colour_elsewhere(kind: str, facts: Facts, negative: Facts, present: Sequence[str]) -> bool:
    """Whether the colour a colour negative (of ``kind``, from :func:`negative_kind`) says belongs to another
    object in view than the two ``facts`` names: a negative that only a model binding colours to the wrong object
    would take for true. ``present`` names the objects in view as a :class:`~agents.vlm.domain_data.FrameSet`
    records them: the cubes and cylinders, not the pads, so another pad's colour does not count."""
    if kind not in ("obj_colour", "ref_colour"):
        return False
    colour = (negative.obj if kind == "obj_colour" else negative.ref).split(" ", 1)[0]
    return any(o.split(" ", 1)[0] == colour for o in present if o not in (facts.obj, facts.ref))


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
    if facts.gripper:       # the gripper clause is said: its other relations are negatives too
        out += [replace(facts, gripper=g) for g in GRIPPER_RELATIONS if g != facts.gripper]
    ref_colour = facts.ref.split(" ", 1)[0]
    obj_colour = facts.obj.split(" ", 1)[0]
    out += [replace(facts, obj=o) for o in _swap_colour(facts.obj, [c for c in colours if c != ref_colour])]
    out += [replace(facts, ref=r) for r in _swap_colour(facts.ref, [c for c in colours if c != obj_colour])]
    colour, shape = facts.obj.split(" ", 1)
    out += [replace(facts, obj=f"{colour} {s}") for s in shapes if s != shape]
    relations = relations or {}
    return [f for f in out if (f.obj == facts.obj or f.obj not in present)
            and (f.ref == facts.ref or relations.get(f.ref) != facts.relation)]
