"""``train_domain_clip --scene-truth``: every caption in a batch is judged against all of an image's frame
records, not only its own facts (:mod:`agents.vlm.scene_truth`)."""

from __future__ import annotations

from dataclasses import replace

from worlds import gl  # noqa: F401

import numpy as np
import pytest
import torch

from agents.vlm import train_domain_clip as T
from agents.vlm.captions import Facts
from agents.vlm.domain_data import FrameSet, manipulation_frames
from agents.vlm.scene_truth import SceneIndex, member, true_facts

# A push scene: object 0 the red cube, next to its blue pad, far from the green pad; a yellow cylinder in view.
PUSH = Facts(obj="red cube", ref="blue pad", relation="next to")
PUSH_PRESENT = ("red cube", "yellow cylinder")
PUSH_RELATIONS = {"green pad": "far from"}
POSE = Facts(pose="kneeling")


class Ids:
    """The trainer's id maps: a fact or name gets the next integer the first time it is seen."""

    def __init__(self):
        self.facts, self.names = {}, {}

    def fact(self, f: Facts) -> int:
        return self.facts.setdefault(f, len(self.facts))

    def name(self, n: str) -> int:
        return self.names.setdefault(n, len(self.names))


def index_of(frames, ids: Ids) -> SceneIndex:
    """A SceneIndex over ``frames``: (facts, present, relations) triples, each said one way."""
    return SceneIndex([[f] for f, _, _ in frames], [p for _, p, _ in frames], [r for _, _, r in frames],
                      ids.fact, ids.name)


def judge(index: SceneIndex, ids: Ids, texts: list[Facts], where: list[int] | None = None
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """(true, unknown) of every image of ``index`` (its gripper codes ``where``, default none) against ``texts``
    (their gripper clauses said), as the trainer builds them."""
    n = len(index.labels)
    image_where = torch.tensor(where or [0] * n)
    text_where = torch.tensor([T.GRIPPER_CODE[t.gripper] for t in texts])
    labels = torch.tensor([ids.fact(T.unsaid_gripper(t)) for t in texts])
    true = T.positives(index.labels, image_where, labels, text_where)
    unknown = index.unknown(torch.arange(n), torch.tensor([ids.name(t.obj) for t in texts]),
                            torch.tensor([ids.name(t.ref) for t in texts]), torch.tensor([t.lifted for t in texts]),
                            T.gripper_agrees(image_where, text_where))
    return true, unknown


def test_object_0_against_every_recorded_reference_is_true_and_nothing_else():
    facts = true_facts([PUSH], PUSH_RELATIONS)
    assert facts[0] == PUSH
    assert Facts(obj="red cube", ref="green pad", relation="far from") in facts
    assert Facts(obj="red cube", ref="green pad", relation="on") not in facts
    assert all(f.obj == "red cube" and not f.lifted for f in facts) and len(facts) == 2
    assert true_facts([POSE], {}) == [POSE]


def test_said_ways_multiply_the_names_of_object_0_and_its_reference():
    stack = Facts(obj="red cube", ref="green cylinder", relation="on")
    ways = T.said_ways(stack)
    facts = true_facts(ways, {"blue cube": "far from", "blue object": "far from"})
    assert Facts(obj="red object", ref="green object", relation="on") in facts
    assert Facts(obj="red object", ref="blue cube", relation="far from") in facts
    assert len(facts) == len(set(facts)) == 2 * 4       # two names of object 0, four references said


def test_a_caption_true_through_another_reference_is_a_positive_and_the_old_labels_missed_it():
    ids = Ids()
    index = index_of([(PUSH, PUSH_PRESENT, PUSH_RELATIONS)], ids)
    texts = [PUSH, Facts(obj="red cube", ref="green pad", relation="far from"),
             Facts(obj="red cube", ref="green pad", relation="next to"), Facts(obj="red cube", ref="pink pad",
                                                                                relation="far from")]
    true, unknown = judge(index, ids, texts)
    assert true[0].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert not bool(unknown.any())          # a pad not in view: false, not unknown
    old = T.positives(torch.tensor([ids.fact(PUSH)]), torch.zeros(1, dtype=torch.long),
                      torch.tensor([ids.fact(t) for t in texts]), torch.zeros(len(texts), dtype=torch.long))
    assert old[0].tolist() == [1.0, 0.0, 0.0, 0.0]      # the control: before, the true caption was a negative


def test_captions_about_another_object_in_view_are_unknown_and_absent_objects_false():
    ids = Ids()
    index = index_of([(PUSH, PUSH_PRESENT, PUSH_RELATIONS), (POSE, (), {})], ids)
    texts = [Facts(obj="yellow cylinder", ref="blue pad", relation="far from"),    # another object in view
             Facts(obj="yellow cylinder", ref="green pad", relation="on"),         # ... against another pad
             Facts(obj="yellow cylinder", ref="pink pad", relation="far from"),    # ... against a pad not in view
             Facts(obj="yellow cube", ref="blue pad", relation="far from"),        # not in view
             Facts(obj="red cube", ref="yellow cylinder", relation="next to"),     # an unrecorded reference
             Facts(obj="red cube", ref="white cylinder", relation="next to"),      # a reference not in view
             POSE, Facts(pose="lotus")]
    true, unknown = judge(index, ids, texts)
    assert unknown[0].tolist() == [True, True, False, False, True, False, False, False]
    assert true[0].tolist() == [0.0] * 8
    assert unknown[1].tolist() == [False] * 8      # the humanoid: no table caption is unknown, all are false
    assert true[1].tolist() == [0, 0, 0, 0, 0, 0, 1, 0]


def test_a_stacking_scene_has_no_pads_so_a_pad_caption_about_another_object_is_false():
    stack = Facts(obj="red cube", ref="green cylinder", relation="on")
    ids = Ids()
    index = index_of([(stack, ("red cube", "green cylinder", "yellow cube"), {"yellow cube": "next to"})], ids)
    texts = [Facts(obj="yellow cube", ref="blue pad", relation="next to"),         # no pads when stacking
             Facts(obj="yellow cube", ref="white cylinder", relation="on"),        # no white cylinder
             Facts(obj="yellow cube", ref="green cylinder", relation="next to"),   # unknowable
             Facts(obj="red cube", ref="yellow cube", relation="next to")]         # recorded: true
    true, unknown = judge(index, ids, texts)
    assert unknown[0].tolist() == [False, False, True, False]
    assert true[0].tolist() == [0.0, 0.0, 0.0, 1.0]


def test_object_0_against_an_unrecorded_object_is_false_when_its_lift_or_gripper_clause_is():
    ids = Ids()
    index = index_of([(PUSH, PUSH_PRESENT, PUSH_RELATIONS)], ids)
    about = Facts(obj="red cube", ref="yellow cylinder", relation="next to")
    texts = [about, replace(about, lifted=True), replace(about, gripper="at"), replace(about, gripper="far from")]
    true, unknown = judge(index, ids, texts, where=[T.GRIPPER_CODE["at"]])
    assert unknown[0].tolist() == [True, False, True, False]
    assert true[0].tolist() == [0.0] * 4


def test_shapeless_colours_alone_still_name_object_0_every_way():
    """With --shapeless-colours and no --say-object the trainer still lists the said ways: a colour swap of
    "purple object" can say "red object", which is true of a frame whose object 0 is the red cube."""
    frame = FrameSet(np.zeros((1, 8, 8, 3), np.uint8), [Facts(obj="red cube", ref="green cylinder", relation="on")],
                     np.zeros(1), np.arange(1), ["stack"], [("red cube", "green cylinder")], [{}])
    T.without_shapes(frame, ("purple",))
    ids = Ids()
    index = SceneIndex([T.said_ways(f) for f in frame.facts], frame.present, frame.relations, ids.fact, ids.name)
    texts = [Facts(obj="red object", ref="green cylinder", relation="on"),
             Facts(obj="red cube", ref="green object", relation="on")]
    true, unknown = judge(index, ids, texts)
    assert true[0].tolist() == [1.0, 1.0] and not bool(unknown.any())


def test_member_ignores_the_padding():
    rows = torch.tensor([[3, -1], [-1, -1]])
    assert member(rows, torch.tensor([3, 0, 7])).tolist() == [[True, False, False], [False, False, False]]


@pytest.fixture(scope="module")
def frames():
    return manipulation_frames(9, 4321, every=6, wander_fraction=0.5)


@pytest.mark.parametrize("say_object_p", [0.0, 1.0])
def test_on_rendered_frames_an_image_s_own_negatives_are_false_and_its_caption_true(frames, say_object_p):
    """Every scene kind the trainer renders (push, pick-and-place, stack): the negatives drawn for a frame are
    never true of it nor unknown, and its own caption, said any way, is true of it."""
    if say_object_p:        # on a copy: the module's frames stay as rendered for the other case
        frames = T.without_shapes(frames.subset(np.ones(len(frames), bool)), ())
    ids, rng = Ids(), np.random.default_rng(0)
    ways = [T.said_ways(f) if say_object_p else [f] for f in frames.facts]
    index = SceneIndex(ways, frames.present, [frames.relations_of(i) for i in range(len(frames))], ids.fact,
                       ids.name)
    checked = 0
    for i, facts in enumerate(frames.facts):
        said = T.say_object(facts, say_object_p, rng)
        negatives = T.draw_negatives(said, frames.present[i], frames.relations_of(i), 3, rng)
        texts = [said] + negatives
        labels = torch.tensor([ids.fact(t) for t in texts])
        true = T.positives(index.labels[i:i + 1], torch.zeros(1, dtype=torch.long), labels,
                           torch.zeros(len(texts), dtype=torch.long))[0]
        unknown = index.unknown(torch.tensor([i]), torch.tensor([ids.name(t.obj) for t in texts]),
                                torch.tensor([ids.name(t.ref) for t in texts]),
                                torch.tensor([t.lifted for t in texts]), torch.ones(1, len(texts), dtype=torch.bool))[0]
        assert true.tolist() == [1.0] + [0.0] * len(negatives), (said, negatives)
        assert not bool(unknown.any()), (said, negatives)
        checked += 1
    assert checked > 50 and {"push", "pick_place", "stack"} <= set(frames.tasks)


def test_in_training_unknown_pairs_leave_the_loss_and_true_ones_are_positives(trainer_texts, monkeypatch):
    """A real train() call with --scene-truth: the labels are the frames' true facts (wider than one fact), some
    pairs are unknown and reach the loss as such, each image is still matched by its caption, and the sidecar
    says so."""
    seen = {"unknown": 0, "batches": 0, "wide": False, "masked": 0}
    real_unknown, real_positives, real_loss = SceneIndex.unknown, T.positives, T.contrastive_loss

    def counting(self, idx, *texts):
        out = real_unknown(self, idx, *texts)
        seen["unknown"] += int(out.sum())
        return out

    def loss(logits, same, unknown=None):
        seen["masked"] += int(unknown.sum())
        return real_loss(logits, same, unknown)

    def checking(image_labels, image_where, text_labels, text_where):
        same = real_positives(image_labels, image_where, text_labels, text_where)
        n = len(image_labels)
        assert bool((same[torch.arange(n), torch.arange(n)] == 1).all())
        seen["wide"] |= image_labels.shape[1] > 1       # some frame has more than its own fact
        seen["batches"] += 1
        return same

    monkeypatch.setattr(SceneIndex, "unknown", counting)
    monkeypatch.setattr(T, "positives", checking)
    monkeypatch.setattr(T, "contrastive_loss", loss)
    meta, _ = trainer_texts(episodes=6, hard_negatives=3, scene_truth=True)
    assert meta["config"]["scene_truth"] is True
    assert seen["batches"] and seen["unknown"] > 0 and seen["wide"] and seen["masked"] == seen["unknown"]


def test_without_the_option_the_sidecar_does_not_name_it(trainer_texts):
    meta, _ = trainer_texts(episodes=2)
    assert "scene_truth" not in meta["config"]


def test_a_pair_left_out_does_not_move_the_loss_and_the_loss_stays_finite():
    torch.manual_seed(0)
    logits = torch.randn(3, 6) * 10
    same = torch.zeros(3, 6)
    same[torch.arange(3), torch.arange(3)] = 1.0
    unknown = torch.zeros(3, 6, dtype=torch.bool)
    unknown[0, 1] = unknown[2, 4] = True
    base = T.contrastive_loss(logits, same, unknown)
    moved = logits.clone()
    moved[0, 1] += 50.0
    moved[2, 4] -= 50.0
    assert torch.isfinite(base) and torch.allclose(T.contrastive_loss(moved, same, unknown), base)
    # the control: without the mask the same change moves the loss
    assert not torch.allclose(T.contrastive_loss(moved, same), T.contrastive_loss(logits, same))
    # a positive is never left out, even if marked unknown
    assert torch.allclose(T.contrastive_loss(logits, same, unknown | torch.eye(3, 6, dtype=torch.bool)), base)


def test_the_batch_truth_bench_finds_labels_the_old_trainer_got_wrong(tmp_path, capsys):
    """``bench.batch_truth --quick``: its last line is the headline JSON, and on real training frames some
    captions the old labels counted false are true (or unknowable) of an image."""
    import json

    from bench import batch_truth

    headline = batch_truth.main(["--quick", "--out", str(tmp_path / "b.json")])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == headline
    assert headline["old_true_per_image"] > 0 and headline["others_per_image"] == 223
    assert headline["added_true_per_image"] + headline["added_true_per_image_negatives"] > 0
    assert headline["unknown_per_image"] > 0 and headline["unknown_per_image_negatives"] > 0
    assert json.loads((tmp_path / "b.json").read_text())["details"]["frames"] > 500


@pytest.mark.parametrize("argv", [["--batches", "0"], ["--episodes", "0"], ["--batch-size", "1"]])
def test_the_batch_truth_bench_refuses_sizes_it_cannot_count(argv, capsys):
    from bench import batch_truth

    with pytest.raises(SystemExit) as exit_info:
        batch_truth.main(argv)
    assert exit_info.value.code == 2 and argv[0] in capsys.readouterr().err
