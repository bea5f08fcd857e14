"""Captions that say where the gripper is (agents.vlm.captions' gripper clause, the trainer's ``--gripper``,
domain_eval.gripper_retrieval): said only when drawn, true of the frame, scored only on real evidence."""

from __future__ import annotations

from worlds import gl  # noqa: F401

from dataclasses import replace

import numpy as np
import pytest
import torch

from agents.vlm.captions import GRIPPER_RELATIONS, HELDOUT_TEMPLATES, TRAIN_TEMPLATES, Facts, caption, distractors, \
    gripper_relation, negative_kind, unsaid_gripper
from agents.vlm.domain_data import FrameSet, manipulation_frames
from agents.vlm.domain_eval import caption_retrieval, gripper_probe, gripper_retrieval, whole_goal_prompts
from agents.vlm.train_domain_clip import GRIPPER_CODE, draw_negatives, positives, say_gripper
from worlds.manipulation import COLORS, SHAPES

FAR = Facts(obj="red cube", ref="blue pad", relation="far from")


def test_the_clause_is_said_after_the_description_only_when_set():
    plain = caption(FAR, TRAIN_TEMPLATES[0])
    assert plain == "the red cube is far from the blue pad"
    assert caption(replace(FAR, gripper="at"), TRAIN_TEMPLATES[0]) == f"{plain} and the gripper is at the red cube"
    assert caption(replace(FAR, lifted=True, relation="on", gripper="near"), TRAIN_TEMPLATES[2]) == \
        "red cube lifted above blue pad and the gripper is near the red cube"
    assert unsaid_gripper(replace(FAR, gripper="far from")) == FAR


@pytest.mark.parametrize("distance,word", [(0.0, "at"), (0.059, "at"), (0.061, "near"), (0.179, "near"),
                                           (0.181, "far from"), (1.0, "far from")])
def test_a_distance_maps_to_one_gripper_word(distance, word):
    assert gripper_relation(distance) == word


def test_gripper_negatives_exist_only_when_the_clause_is_said_and_change_only_it():
    assert not any(negative_kind(FAR, n) == "gripper" for n in distractors(FAR, list(COLORS), list(SHAPES)))
    said = replace(FAR, gripper="near")
    negatives = distractors(said, list(COLORS), list(SHAPES))
    grip = [n for n in negatives if negative_kind(said, n) == "gripper"]
    assert sorted(n.gripper for n in grip) == ["at", "far from"]
    assert all(unsaid_gripper(n) == FAR for n in grip)
    assert all(n.gripper == "near" for n in negatives if n not in grip)     # the others keep the clause


def test_scripted_pushes_record_the_gripper_far_at_the_start_and_at_the_cube_while_pushing():
    frames = manipulation_frames(2, 0, every=1, tasks=("push",), random_fraction=0.0, noise=0.0,
                                 wander_fraction=0.0)
    first = np.r_[True, frames.episode[1:] != frames.episode[:-1]]
    assert {frames.facts[i].gripper for i in np.flatnonzero(first)} == {"far from"}
    moving = np.flatnonzero(np.diff(frames.progress) > 0.01) + 1     # the cube moves: the gripper pushes it
    assert len(moving) > 5
    assert np.mean([frames.facts[i].gripper == "at" for i in moving]) > 0.8


def test_a_caption_is_a_positive_for_every_image_it_is_true_of():
    # images: two with the same facts (label 0), gripper at (1) and far from (3); one other scene (label 1)
    image_labels, image_where = torch.tensor([0, 0, 1]), torch.tensor([1, 3, 1])
    # texts: facts 0 unsaid, facts 0 "at", facts 0 "near", facts 1 "at"
    text_labels, text_where = torch.tensor([0, 0, 0, 1]), torch.tensor([0, 1, 2, 1])
    same = positives(image_labels, image_where, text_labels, text_where)
    assert same.tolist() == [[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]]


def test_the_clause_is_said_for_the_drawn_share_and_never_for_a_pose():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert say_gripper(FAR, GRIPPER_CODE["at"], 0.0, rng) == FAR
    assert rng.bit_generator.state == state        # share 0 draws nothing: older runs keep their stream
    said = [say_gripper(FAR, GRIPPER_CODE["near"], 0.3, rng) for _ in range(4000)]
    assert 0.27 < np.mean([f.gripper == "near" for f in said]) < 0.33
    assert {f.gripper for f in said} == {"", "near"}
    pose = Facts(pose="kneeling")
    assert say_gripper(pose, GRIPPER_CODE[""], 1.0, rng) == pose
    assert say_gripper(pose, GRIPPER_CODE["at"], 1.0, rng) == pose      # a humanoid frame has no gripper to say


def test_a_said_clause_always_meets_its_own_negative_only_when_asked():
    said = replace(FAR, gripper="near")
    rng = np.random.default_rng(0)
    forced = [draw_negatives(said, ("red cube",), {}, 3, rng, gripper_negative=True) for _ in range(200)]
    assert all(sum(negative_kind(said, n) == "gripper" for n in negs) == 1 for negs in forced)
    assert all(len({negative_kind(said, n) for n in negs}) == 3 for negs in forced)     # three kinds, as before
    drawn = [draw_negatives(said, ("red cube",), {}, 3, rng) for _ in range(200)]
    share = np.mean([any(negative_kind(said, n) == "gripper" for n in negs) for negs in drawn])
    assert 0.3 < share < 0.7            # one kind of six, three drawn: about half the time
    unsaid = [draw_negatives(FAR, ("red cube",), {}, 3, rng, gripper_negative=True) for _ in range(50)]
    assert not any(n.gripper for negs in unsaid for n in negs)      # no clause said, none in its negatives


def _frames(facts: list[Facts]) -> FrameSet:
    n = len(facts)
    images = np.zeros((n, 2, 2, 3), np.uint8)
    images[:, 0, 0, 0] = np.arange(n)
    return FrameSet(images, facts, np.zeros(n, np.float32), np.arange(n), ["push"] * n, [("red cube",)] * n)


def _embedder(facts: list[Facts], templates, reads_gripper: bool):
    """An oracle for the scene; it reads the gripper clause only when ``reads_gripper``."""
    key = (lambda f: f) if reads_gripper else unsaid_gripper

    def stated(f: Facts) -> list[Facts]:     # every record a caption of this test may state
        return [f, unsaid_gripper(f), *distractors(f, list(COLORS), list(SHAPES)),
                *distractors(unsaid_gripper(f), list(COLORS), list(SHAPES)),
                *[replace(f, gripper=g) for g in GRIPPER_RELATIONS]]

    every = sorted({key(x) for f in facts for x in stated(f)}, key=repr)
    index = {f: i for i, f in enumerate(every)}
    text = {caption(x, t): index[key(x)] for f in facts for t in templates for x in stated(f)}
    eye = np.eye(len(every))
    return (lambda images: eye[[index[key(facts[int(k)])] for k in images[:, 0, 0, 0]]],
            lambda texts: eye[[text[t] for t in texts]])


def test_gripper_retrieval_is_perfect_for_a_reader_and_zero_for_a_model_blind_to_the_gripper():
    facts = [replace(FAR, relation=r, gripper=g) for r in ("far from", "next to", "on") for g in GRIPPER_RELATIONS]
    frames = _frames(facts)
    reader = gripper_retrieval(*_embedder(facts, HELDOUT_TEMPLATES, True), frames, HELDOUT_TEMPLATES)
    assert reader["top1"] == 1.0 and reader["n"] == 9 and set(reader["by_gripper"]) == set(GRIPPER_RELATIONS)
    blind = gripper_retrieval(*_embedder(facts, HELDOUT_TEMPLATES, False), frames, HELDOUT_TEMPLATES)
    assert blind["top1"] == 0.0        # every clause scores alike: a tie is not a win


def test_caption_retrieval_never_says_the_gripper_so_it_is_comparable_with_older_models():
    facts = [replace(FAR, relation=r, gripper=g) for r in ("far from", "next to", "on") for g in GRIPPER_RELATIONS]
    said = caption_retrieval(*_embedder(facts, HELDOUT_TEMPLATES, False), _frames(facts), HELDOUT_TEMPLATES)
    unsaid = [unsaid_gripper(f) for f in facts]
    plain = caption_retrieval(*_embedder(unsaid, HELDOUT_TEMPLATES, False), _frames(unsaid), HELDOUT_TEMPLATES)
    split = said.pop("wins_by_gripper")               # only the recorded relation splits the wins
    assert said == plain and said["top1"] == 1.0      # the same candidates, drawn the same way
    assert "wins_by_gripper" not in plain and set(split) == set(said["by_negative_kind"])
    assert all(set(by) <= set(GRIPPER_RELATIONS) and all(v["pairwise"] == 1.0 for v in by.values())
               for by in split.values())              # the oracle wins every pair
    assert "gripper" not in said["by_negative_kind"]


def test_the_whole_goal_prompt_is_the_one_the_push_bench_scores():
    from bench.common import PUSH_PROMPTS

    assert PUSH_PROMPTS["whole"] == whole_goal_prompts("red cube", "blue pad")
    goal, baseline = PUSH_PROMPTS["whole"]
    assert goal.startswith(PUSH_PROMPTS["task"][0]) and baseline.startswith(PUSH_PROMPTS["task"][1])


def test_the_gripper_probe_reads_the_relation_only_where_the_embedding_holds_it():
    rng = np.random.default_rng(0)
    words = rng.choice(GRIPPER_RELATIONS, size=240, p=[0.2, 0.3, 0.5])
    frames = _frames([replace(FAR, gripper=str(g)) for g in words])      # pixel (0, 0, 0) is the frame's index
    fit, test = frames.subset(np.arange(240) < 160), frames.subset(np.arange(240) >= 160)
    noise = rng.normal(0, 0.1, (240, 5))

    def holds(images):      # the true relation one-hot, beside noise
        k = images[:, 0, 0, 0].astype(int)
        return np.hstack([np.eye(3)[[GRIPPER_RELATIONS.index(words[j]) for j in k]], noise[k]])

    seeing = gripper_probe(holds, fit, test)
    assert seeing["heldout_acc"] == 1.0 and seeing["n_train"] == 160 and seeing["n_heldout"] == 80
    blind = gripper_probe(lambda images: noise[images[:, 0, 0, 0].astype(int)], fit, test)
    assert blind["heldout_acc"] < 0.7 and blind["majority"] == round(float(np.mean(words[160:] == "far from")), 4)
