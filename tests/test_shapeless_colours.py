"""``train_domain_clip --shapeless-colours``: a colour the training scenes show in one shape only (purple, whose
cylinder is held out) is said without a shape, so no training text ties that colour to a shape word."""

from __future__ import annotations

from worlds import gl  # noqa: F401

import numpy as np
import pytest

from agents.vlm import train_domain_clip as T
from agents.vlm.captions import Facts, negative_kind
from agents.vlm.domain_data import HELDOUT_OBJECT, FrameSet
from worlds.manipulation import COLORS

PURPLE_SHAPES = {"purple cube", "purple cylinder"}


def _frames() -> FrameSet:
    facts = [Facts(obj="purple cube", ref="red pad", relation="far from"),
             Facts(obj="red cube", ref="purple cube", relation="far from"),     # stacking on a purple cube
             Facts(pose="kneeling")]
    present = [("purple cube", "red cylinder"), ("red cube", "purple cube"), ()]
    relations = [{"blue pad": "on"}, {"green cylinder": "far from", "purple cylinder": "on"}, {}]
    n = len(facts)
    return FrameSet(np.zeros((n, 8, 8, 3), np.uint8), facts, np.zeros(n), np.arange(n), ["push", "stack", "pose"],
                    present, relations)


def test_the_shapeless_colour_is_the_held_out_objects():
    assert T.one_shape_colours() == (HELDOUT_OBJECT.split()[0],) == ("purple",)
    assert T.shapeless_names(("purple",)) == PURPLE_SHAPES


def test_objects_of_the_colour_are_called_objects_in_facts_relations_and_present():
    data = T.without_shapes(_frames(), ("purple",))
    assert data.facts[0] == Facts(obj="purple object", ref="red pad", relation="far from")
    assert data.facts[1] == Facts(obj="red cube", ref="purple object", relation="far from")
    assert data.facts[2] == Facts(pose="kneeling")                      # the humanoid is untouched
    assert data.relations[0] == {"blue pad": "on"}                      # pads keep their names
    # Each other object stands also as "<colour> object", with the same relation.
    assert data.relations[1] == {"green cylinder": "far from", "purple object": "on", "green object": "far from"}
    # Every colour in view also stands as "<colour> object", so no negative can name it.
    assert set(data.present[0]) == {"purple object", "red cylinder", "red object"}
    assert set(data.present[1]) == {"red cube", "purple object", "red object"}
    assert data.present[2] == ()


def test_no_negative_names_a_shape_of_the_colour_or_a_colour_in_view():
    data = T.without_shapes(_frames(), ("purple",))
    unsaid = T.shapeless_names(("purple",)) | {HELDOUT_OBJECT}
    rng = np.random.default_rng(0)
    kinds, objs = set(), set()
    for _ in range(300):
        for f in T.draw_negatives(data.facts[0], data.present[0], data.relations[0], 3, rng, unsaid=unsaid):
            assert f.obj not in PURPLE_SHAPES and f.ref not in PURPLE_SHAPES
            kinds.add(negative_kind(data.facts[0], f))
            objs.add(f.obj)
    assert "shape" not in kinds                         # a shapeless object has no shape to swap
    assert {"obj_colour", "ref_colour", "relation", "lifted"} <= kinds
    assert "red object" not in objs                     # a red cylinder is in view: it could be true
    assert "green object" in objs
    # Stacking on the purple object: the red cube is far from the green cylinder too, so "far from the green
    # object" would be true and is never drawn; "far from the blue object" (no blue object in view) is.
    refs = {f.ref for _ in range(300)
            for f in T.draw_negatives(data.facts[1], data.present[1], data.relations[1], 3, rng, unsaid=unsaid)
            if f.relation == "far from"}
    assert "green object" not in refs and "blue object" in refs and not refs & PURPLE_SHAPES
    # Without the option the purple cube's own shape negative is still withheld (it names the held-out object).
    plain = _frames()
    for _ in range(100):
        for f in T.draw_negatives(plain.facts[0], plain.present[0], plain.relations[0], 3, rng):
            assert HELDOUT_OBJECT not in (f.obj, f.ref)


def test_the_trainer_never_says_a_shape_of_the_colour(trainer_texts):
    meta, texts = trainer_texts(episodes=6, hard_negatives=3, decorate_p=1.0, shapeless_colours=True)
    assert meta["config"]["shapeless_colours"] == ["purple"]
    assert any("purple object" in t for t in texts)           # the colour is still taught
    assert not any(name in t for t in texts for name in PURPLE_SHAPES)
    assert any(" cube" in t for t in texts) and any(" cylinder" in t for t in texts)   # other colours keep shape
    # "object" only ever follows a colour: the filler never draws it.
    for words in (t.split() for t in texts):
        assert all(w == "object" and j and words[j - 1] in COLORS
                   for j, w in enumerate(words) if w in T.SHAPELESS_WORDS), words


@pytest.mark.parametrize("head", ["--object-head", "--token-shape"])
def test_the_option_is_refused_beside_a_head_that_teaches_shape(head, capsys):
    with pytest.raises(SystemExit) as exit_info:
        T.main(["--shapeless-colours", head, "1"])
    assert exit_info.value.code == 2
    assert "--shapeless-colours" in capsys.readouterr().err
