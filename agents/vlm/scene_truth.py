"""Which training captions are true, false or unknowable of a frame, from what its FrameSet records.

The contrastive loss of :mod:`agents.vlm.train_domain_clip` scores every image against every caption in its batch:
its own, its hard negatives, and the captions and negatives of the other frames. Before ``--scene-truth`` a caption
counted as true of an image only when it stated exactly the image's own facts (object 0 against its reference), so
another frame's caption that was just as true of the image counted as false. Measured by ``python -m
bench.batch_truth`` (``bench/results/batch_truth.json``: 2,918 frames of 150 training episodes, 20 batches of 224
table frames, no gripper clause), per image: of the other 223 frames' captions, 1.47 stated its own facts and
counted as true already, 0.50 more were true of it through object 0's relation to another reference and counted as
false, and 4.1 were about another object in view against a reference in view, whose relation a FrameSet does not
record (true or false, nobody knows), and counted as false; of their 669 hard negatives, 1.09 were true of it and
12.6 unknowable, all counted as false. A true caption counted false tells the model to deny what it sees; an
unknowable one is a coin toss counted as a certainty. Both are about 2% of what an image is scored against.

A frame records object 0's facts (``facts``), every object in view (``present``) and object 0's relation to
every other reference (``relations``: the other pads, or the other objects when stacking). From those:

* **true**: object 0, by any name the caption may use for it, in the recorded relation to any reference it has
  one to, lifted as it is (:func:`true_facts`); the gripper clause is judged by the trainer, as before;
* **unknown**: a caption about another object in view against a reference in view (a pad the frame records
  or an object in view), or about object 0, lifted as it is and with any gripper clause true, against an
  object in view whose relation is not recorded (e.g. "the red cube is next to the blue cylinder" in a push
  scene);
* **false**: everything else: it names an object or a reference that is not in view (stacking scenes have no
  pads), or states a relation, lift, gripper clause or pose the records contradict.

An unknown pair is left out of the loss (neither a positive nor a negative); a true one is a positive.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

import torch

from agents.vlm.captions import Facts

PAD = -1    # the padding id of the per-frame id rows: never any name's or fact's id


def true_facts(ways: Sequence[Facts], relations: dict[str, str]) -> list[Facts]:
    """Every fact (gripper unsaid) the records make true of a frame whose facts may be said ``ways`` (the first
    is the facts as recorded; the others name object 0 or its reference otherwise, e.g. "<colour> object"),
    with object 0's ``relations`` to the other references. The first is ``ways[0]``."""
    first = ways[0]
    if first.is_pose:
        return [first]
    refs = dict.fromkeys([(w.ref, first.relation) for w in ways] + list(relations.items()))
    objs = dict.fromkeys(w.obj for w in ways)
    out = dict.fromkeys([first] + [replace(first, obj=o, ref=r, relation=rel) for o in objs for r, rel in refs])
    return list(out)


def _rows(values: Sequence[Sequence[int]]) -> torch.Tensor:
    """Ragged id lists as one (rows, longest) tensor padded with :data:`PAD`."""
    width = max((len(v) for v in values), default=0) or 1
    return torch.tensor([list(v) + [PAD] * (width - len(v)) for v in values], dtype=torch.long)


def member(rows: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """(len(rows), len(values)) bool: whether each value is one of each row's ids (``rows`` padded with
    :data:`PAD`, which no value equals)."""
    return (rows[:, :, None] == values[None, None, :]).any(1)


class SceneIndex:
    """Per-frame ids of what a round's frames make true, for building a batch's true and unknown pairs.

    ``ways[i]``: frame ``i``'s facts as they may be said (gripper unsaid); ``present[i]``, ``relations[i]``:
    the FrameSet's records for it; ``fact_id`` and ``name_id`` map a fact and an object or reference name to a
    stable integer (the trainer's, so the ids match its text labels).
    """

    def __init__(self, ways: Sequence[Sequence[Facts]], present: Sequence[Sequence[str]],
                 relations: Sequence[dict[str, str]], fact_id: Callable[[Facts], int],
                 name_id: Callable[[str], int]):
        self.lifted = torch.tensor([bool(w[0].lifted) for w in ways])
        self.labels = _rows([[fact_id(f) for f in true_facts(w, r)] for w, r in zip(ways, relations)])
        # object 0's names, the references its relation is recorded to, and every object in view
        self.names = _rows([[name_id(n) for n in dict.fromkeys(f.obj for f in w)] if not w[0].is_pose else []
                            for w in ways])
        self.known_refs = _rows([[name_id(n) for n in dict.fromkeys([f.ref for f in w] + list(r))]
                                 if not w[0].is_pose else [] for w, r in zip(ways, relations)])
        self.present = _rows([[name_id(n) for n in p] for p in present])

    def unknown(self, idx: torch.Tensor, text_obj: torch.Tensor, text_ref: torch.Tensor, text_lifted: torch.Tensor,
                gripper_true: torch.Tensor) -> torch.Tensor:
        """(len(idx), texts) bool: the captions whose truth the records of frames ``idx`` cannot tell (see the
        module's docstring). ``text_obj``, ``text_ref``: each caption's object and reference name ids;
        ``text_lifted``: whether it says lifted; ``gripper_true`` (len(idx), texts): its gripper clause is unsaid
        or true of object 0 (:func:`~agents.vlm.train_domain_clip.gripper_agrees`)."""
        present, known = self.present[idx], self.known_refs[idx]
        ref_in_view = member(present, text_ref) | member(known, text_ref)
        about_obj0 = member(self.names[idx], text_obj)
        other = member(present, text_obj) & ~about_obj0 & ref_in_view
        agrees = (text_lifted[None, :] == self.lifted[idx][:, None]) & gripper_true
        unrecorded = about_obj0 & agrees & ~member(known, text_ref) & member(present, text_ref)
        return other | unrecorded
