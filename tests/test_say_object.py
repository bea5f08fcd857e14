"""``train_domain_clip --say-object``: any cube or cylinder is said "<colour> object" some of the time, the mend
of ``--shapeless-colours``' flaw (only purple was ever said "object", so "object" came to mean purple)."""

from __future__ import annotations

from worlds import gl  # noqa: F401

import numpy as np
import pytest
import torch

from agents.vlm import train_domain_clip as T
from agents.vlm.captions import Facts, negative_kind
from agents.vlm.domain_data import HELDOUT_OBJECT, FrameSet
from worlds.manipulation import COLORS

STACK = Facts(obj="red cube", ref="green cylinder", relation="on")
PUSH = Facts(obj="red cube", ref="blue pad", relation="next to")


def test_nothing_is_drawn_at_zero_and_only_cubes_and_cylinders_are_renamed():
    rng, twin = np.random.default_rng(3), np.random.default_rng(3)
    assert T.say_object(STACK, 0.0, rng) is STACK
    assert rng.random() == twin.random()                       # share 0 draws nothing: old runs keep their stream
    assert T.say_object(STACK, 1.0, rng) == Facts(obj="red object", ref="green object", relation="on")
    assert T.say_object(PUSH, 1.0, rng) == Facts(obj="red object", ref="blue pad", relation="next to")
    pose = Facts(pose="kneeling")
    assert T.say_object(pose, 1.0, rng) is pose
    seen = {T.say_object(STACK, 0.5, rng) for _ in range(200)}
    assert len(seen) == 4                                      # object and reference independently


def test_said_ways_lists_every_way_and_the_facts_first():
    ways = T.said_ways(STACK)
    assert ways[0] == STACK and len(ways) == len(set(ways)) == 4
    assert {(w.obj, w.ref) for w in ways} == {(o, r) for o in ("red cube", "red object")
                                             for r in ("green cylinder", "green object")}
    assert T.said_ways(PUSH) == [PUSH, Facts(obj="red object", ref="blue pad", relation="next to")]
    assert T.said_ways(Facts(pose="kneeling")) == [Facts(pose="kneeling")]


def test_an_image_is_matched_by_its_caption_said_any_way_and_by_nothing_false():
    ids: dict = {}

    def fid(f):
        return ids.setdefault(f, len(ids))

    image = torch.tensor([[fid(w) for w in T.said_ways(PUSH)] + [fid(PUSH)] * 2])     # padded to 4, as train does
    texts = [PUSH, Facts(obj="red object", ref="blue pad", relation="next to"),
             Facts(obj="red cylinder", ref="blue pad", relation="next to"),
             Facts(obj="red object", ref="blue pad", relation="far from"),
             Facts(obj="green object", ref="blue pad", relation="next to")]
    same = T.positives(image, torch.tensor([0]), torch.tensor([fid(t) for t in texts]), torch.zeros(5, dtype=int))
    assert same.tolist() == [[1.0, 1.0, 0.0, 0.0, 0.0]]
    # One label per image, as before the option: only the same facts match.
    assert T.positives(image[:, 0], torch.tensor([0]), torch.tensor([fid(t) for t in texts]),
                       torch.zeros(5, dtype=int)).tolist() == [[1.0, 0.0, 0.0, 0.0, 0.0]]


def _push_frame() -> FrameSet:
    """A red cube next to the blue pad, a green cylinder in view, no purple object."""
    return FrameSet(np.zeros((1, 8, 8, 3), np.uint8), [PUSH], np.zeros(1), np.arange(1), ["push"],
                    [("red cube", "green cylinder")], [{"yellow pad": "far from"}])


def test_the_negatives_of_an_object_said_object_are_false_and_purple_gets_colour_negatives_back():
    data = T.without_shapes(_push_frame(), ("purple",))
    unsaid = T.shapeless_names(("purple",)) | {HELDOUT_OBJECT}
    said = T.say_object(data.facts[0], 1.0, np.random.default_rng(0))
    assert said.obj == "red object"
    rng = np.random.default_rng(1)
    objs, kinds = set(), set()
    for _ in range(300):
        for f in T.draw_negatives(said, data.present[0], data.relations[0], 3, rng, unsaid=unsaid):
            objs.add(f.obj)
            kinds.add(negative_kind(said, f))
    assert "red cube" not in objs                   # the true shape is never a negative
    assert "red cylinder" in objs                   # the false one is
    assert "green object" not in objs and "green cylinder" not in objs     # in view: could be next to the pad
    assert "purple object" in objs                  # purple's colour negatives are back (no purple in view)
    assert not objs & T.shapeless_names(("purple",))
    assert {"shape", "obj_colour", "relation", "lifted"} <= kinds


def test_the_trainer_says_every_colour_object_and_records_the_share(trainer_texts):
    meta, texts = trainer_texts(episodes=6, hard_negatives=3, decorate_p=1.0, shapeless_colours=True,
                                say_object_p=0.5)
    assert meta["config"]["say_object"] == 0.5
    others = [c for c in COLORS if c != "purple"]
    assert any(f"{c} object" in t for t in texts for c in others)       # "object" is not purple's alone
    assert any(" cube" in t for t in texts) and any(" cylinder" in t for t in texts)   # shapes still said
    assert not any(name in t for t in texts for name in T.shapeless_names(("purple",)))
    for words in (t.split() for t in texts):     # "object" only ever follows a colour
        assert all(w == "object" and j and words[j - 1] in COLORS
                   for j, w in enumerate(words) if w in T.SHAPELESS_WORDS), words


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan"])
def test_a_share_outside_0_1_is_refused(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        T.main(["--say-object", value])
    assert exit_info.value.code == 2
    assert "--say-object" in capsys.readouterr().err


def test_a_stack_onto_an_object_said_object_never_draws_a_true_reference():
    """Stacking: the reference is an object too, and a reference swap to "<colour> object" is checked against
    the frame's other relations ("next to the blue object" would be true here: a blue cube stands next to it)."""
    stack = Facts(obj="red cube", ref="green cylinder", relation="next to")
    frame = FrameSet(np.zeros((1, 8, 8, 3), np.uint8), [stack], np.zeros(1), np.arange(1), ["stack"],
                     [("red cube", "green cylinder", "blue cube")],
                     [{"blue cube": "next to", "yellow pad": "far from"}])
    data = T.without_shapes(frame, ())
    assert data.facts == [stack]                    # with no colours nothing is renamed
    said = T.say_object(stack, 1.0, np.random.default_rng(0))
    assert (said.obj, said.ref) == ("red object", "green object")
    rng = np.random.default_rng(2)
    drawn = [f for _ in range(300) for f in T.draw_negatives(said, data.present[0], data.relations[0], 3, rng)]
    refs = {(f.ref, f.relation) for f in drawn}
    assert ("blue object", "next to") not in refs and ("blue cube", "next to") not in refs
    assert ("purple object", "next to") in refs     # no purple object in view: false
    assert said not in drawn


def test_in_training_each_image_matches_its_own_caption_and_none_of_its_negatives(trainer_texts, monkeypatch):
    """A real train() call with --say-object alone (no shapeless colours): in every batch each image's caption,
    said whichever way, is a positive for it, and none of its own hard negatives is."""
    checked = []
    real = T.positives

    def checking(image_labels, image_where, text_labels, text_where):
        same = real(image_labels, image_where, text_labels, text_where)
        n, k = len(image_labels), 3
        assert image_labels.shape == (n, 4)
        assert bool((same[torch.arange(n), torch.arange(n)] == 1).all())
        own = same[:, n:].reshape(n, n, k)[torch.arange(n), torch.arange(n)]     # image i's own k negatives
        assert float(own.sum()) == 0.0
        checked.append(n)
        return same

    monkeypatch.setattr(T, "positives", checking)
    meta, texts = trainer_texts(episodes=6, hard_negatives=3, say_object_p=0.5)
    assert checked and meta["config"]["say_object"] == 0.5 and "shapeless_colours" not in meta["config"]
    assert any(f"{c} object" in t for t in texts for c in COLORS)
