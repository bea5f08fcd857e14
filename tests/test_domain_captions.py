"""The studio CLIP's captions, hard negatives and honest measurements (agents.vlm.captions, domain_data,
domain_eval): negatives must be false of the scene, and the retrieval score must reward only real evidence."""

from __future__ import annotations

from worlds import gl  # noqa: F401

import numpy as np
import pytest

from agents.vlm.captions import ARM_PHRASES, ARM_SUFFIXES, FILLER_PREFIXES, FILLER_SUFFIXES, HELDOUT_TEMPLATES, \
    HELDOUT_WORDS, POSE_HELDOUT_TEMPLATES, POSE_PHRASES, POSE_TRAIN_TEMPLATES, RELATIONS, ROBOT_PHRASES, \
    ROBOT_SUFFIXES, TRAIN_TEMPLATES, Facts, caption, colour_elsewhere, decorate, distractors, draw_decoration, \
    filler_words, negative_kind, unsaid_gripper
from agents.vlm.domain_data import HELDOUT_OBJECT, NEXT_TO, FrameSet, manipulation_frames
from agents.vlm import domain_eval
from agents.vlm.domain_eval import caption_retrieval, reward_by_distance, spearman
from agents.vlm.train_domain_clip import draw_negatives
from worlds.manipulation import COLORS, PAD_RADIUS, SHAPES

FACTS = Facts(obj="red cube", ref="blue pad", relation="far from")


def _fields(f: Facts) -> tuple:
    return (f.obj.split()[0], f.obj.split()[1], f.ref, f.relation, f.lifted)


def test_every_negative_changes_exactly_one_fact_and_is_named_by_its_kind():
    negatives = distractors(FACTS, list(COLORS), list(SHAPES))
    assert len(negatives) == len(set(negatives)) > 10
    kinds = set()
    for n in negatives:
        changed = sum(a != b for a, b in zip(_fields(FACTS), _fields(n)))
        assert changed == 1, n
        kinds.add(negative_kind(FACTS, n))
    assert kinds == {"relation", "lifted", "obj_colour", "shape", "ref_colour"}


def test_a_negative_that_is_true_of_the_scene_is_left_out():
    # The red cube is far from the blue pad AND far from the yellow pad: "far from the yellow pad" is true.
    negatives = distractors(FACTS, list(COLORS), list(SHAPES), present=("red cube", "green cube"),
                            relations={"yellow pad": "far from", "orange pad": "on"})
    refs = {n.ref for n in negatives if n.relation == FACTS.relation and n.obj == FACTS.obj}
    assert "yellow pad" not in refs            # as true as the caption itself
    assert "orange pad" in refs                # the cube is on the orange pad, not far from it: false
    assert "purple pad" in refs                # no such pad: false
    assert all(n.obj != "green cube" for n in negatives)    # may be true of the other object


def test_frames_record_the_relation_to_every_other_reference():
    frames = manipulation_frames(2, 0, every=25, tasks=("push",), random_fraction=0.0)
    assert len(frames) > 4 and len(frames.relations) == len(frames)
    for i in range(len(frames)):
        n_objects = len(frames.present[i])
        rel = frames.relations_of(i)
        assert len(rel) == n_objects - 1 and set(rel.values()) <= set(RELATIONS)
        assert frames.facts[i].ref not in rel
    assert frames.subset(np.arange(len(frames)) < 2).relations == frames.relations[:2]
    # the object-to-pad distance each frame records is the one its relation was read from
    for f, d in zip(frames.facts, frames.ref_distance):
        assert f.relation == ("on" if d < PAD_RADIUS else "next to" if d < NEXT_TO else "far from")
    assert np.array_equal(frames.subset(np.arange(len(frames)) < 2).ref_distance, frames.ref_distance[:2])


def _fake_frames(facts: list[Facts]) -> FrameSet:
    n = len(facts)
    images = np.zeros((n, 2, 2, 3), np.uint8)
    images[:, 0, 0, 0] = np.arange(n)           # the "pixels" say which frame this is
    return FrameSet(images, facts, np.zeros(n, np.float32), np.arange(n), ["push"] * n, [("red cube",)] * n)


def _facts_embedder(facts: list[Facts], templates):
    """An oracle: an image embeds as its facts, a caption as the facts it states."""
    every = sorted({x for f in facts for x in [f, *distractors(f, list(COLORS), list(SHAPES))]}, key=repr)
    index = {f: i for i, f in enumerate(every)}
    text_to_fact = {caption(f, t): index[f] for f in every for t in templates}
    eye = np.eye(len(every))
    return (lambda images: eye[[index[facts[int(k)]] for k in images[:, 0, 0, 0]]],
            lambda texts: eye[[text_to_fact[t] for t in texts]])


def test_retrieval_is_perfect_for_an_oracle_and_at_zero_for_a_model_that_sees_nothing():
    facts = [Facts(obj=f"{c} {s}", ref="blue pad", relation=r, lifted=lift)
             for c in ("red", "green") for s in SHAPES for r in RELATIONS for lift in (False, True)]
    frames = _fake_frames(facts)
    images, texts = _facts_embedder(facts, HELDOUT_TEMPLATES)
    result = caption_retrieval(images, texts, frames, HELDOUT_TEMPLATES, k=4)
    assert result["top1"] == 1.0 and set(result["by_negative_kind"].values()) == {1.0}
    # k negatives a frame (k + 1 captions), counted by kind.
    assert set(result["negatives_by_kind"]) == set(result["by_negative_kind"])
    assert sum(result["negatives_by_kind"].values()) == len(facts) * result["k"] == len(facts) * 4
    # Every caption scored the same: ties are failures, not wins for the caption listed first.
    blind = caption_retrieval(lambda im: np.ones((len(im), 3)), lambda tx: np.ones((len(tx), 3)), frames,
                              TRAIN_TEMPLATES, k=4)
    assert blind["top1"] == 0.0


def test_top1_is_split_by_template():
    """A model that reads only captions in the first training template: 1 on the frames that drew it, 0 on
    the rest, and the per-template figures average (weighted by frames) to the top-1."""
    facts = [Facts(obj=f"{c} {s}", ref="blue pad", relation=r) for c in ("red", "green", "blue") for s in SHAPES
             for r in RELATIONS] * 3
    frames = _fake_frames(facts)
    images, texts = _facts_embedder(facts, TRAIN_TEMPLATES)
    known = {caption(f, TRAIN_TEMPLATES[0]) for f in
             {x for f in facts for x in [f, *distractors(f, list(COLORS), list(SHAPES))]}}
    blind_elsewhere = lambda tx: texts(tx) * np.array([[t in known] for t in tx])
    result = caption_retrieval(images, blind_elsewhere, frames, TRAIN_TEMPLATES, k=4)
    by = result["by_template"]
    assert by[TRAIN_TEMPLATES[0]]["top1"] == 1.0 and set(by) <= set(TRAIN_TEMPLATES) and len(by) > 1
    assert all(v["top1"] == 0.0 for t, v in by.items() if t != TRAIN_TEMPLATES[0])
    assert sum(v["n"] for v in by.values()) == len(facts)
    weighted = sum(v["top1"] * v["n"] for v in by.values()) / len(facts)
    assert 0 < result["top1"] < 1 and abs(weighted - result["top1"]) < 1e-3


def test_relation_wins_are_split_by_distance_to_the_nearest_threshold():
    """A model that reads relations only when the object is at least 2 cm from a threshold: its relation
    wins are 0 in the bands nearer than that and 1 beyond; frames without a pad distance are left out."""
    distances = [0.065, 0.145, 0.075, 0.20, 0.03, 0.30, float("nan")]  # margins (cm): 0.5, 0.5, 1.5, 5, 3, 15, -
    relation = lambda d: "on" if d < PAD_RADIUS else "next to" if d < NEXT_TO else "far from"
    facts = [Facts(obj="red cube", ref="blue pad", relation=relation(d) if d == d else "far from") for d in distances]
    frames = _fake_frames(facts)
    frames.ref_distance = np.array(distances, np.float32)
    oracle_images, texts = _facts_embedder(facts, TRAIN_TEMPLATES)
    near = np.array([min(abs(d - t) for t in (PAD_RADIUS, NEXT_TO)) < 0.02 if d == d else False for d in distances])

    def images(ims):
        out = oracle_images(ims)
        out[near[ims[:, 0, 0, 0]]] = 0.0      # near a threshold the model sees nothing: every caption ties
        return out

    result = caption_retrieval(images, texts, frames, TRAIN_TEMPLATES, k=100)     # every negative of each frame
    bands = result["relation_by_margin"]
    assert bands["0-1 cm"]["pairwise"] == bands["1-2 cm"]["pairwise"] == 0.0
    assert bands["2-4 cm"]["pairwise"] == bands["4-8 cm"]["pairwise"] == bands[">=8 cm"]["pairwise"] == 1.0
    assert bands["0-1 cm"]["n"] == 4 and sum(b["n"] for b in bands.values()) == 12   # 2 relation negatives a frame
    frames.ref_distance = None
    assert "relation_by_margin" not in caption_retrieval(images, texts, frames, TRAIN_TEMPLATES, k=100)


def test_wins_are_split_by_where_the_gripper_is():
    """A model blind whenever the gripper is at the object: its wins of every kind are 0 there and 1 where the
    gripper is far; frames with no recorded gripper relation are left out of the split."""
    grips = ["at", "far from", "at", "far from", ""]
    facts = [Facts(obj=f"red {s}", ref="blue pad", relation="far from", gripper=g)
             for g, s in zip(grips, ["cube", "cylinder", "cylinder", "cube", "cube"])]
    frames = _fake_frames(facts)
    frames.present = [(f.obj,) for f in facts]          # each scene holds its own object only
    said = [unsaid_gripper(f) for f in facts]
    oracle_images, texts = _facts_embedder(said, TRAIN_TEMPLATES)
    blind = np.array([g == "at" for g in grips])

    def images(ims):
        out = oracle_images(ims)
        out[blind[ims[:, 0, 0, 0]]] = 0.0
        return out

    result = caption_retrieval(images, texts, frames, TRAIN_TEMPLATES, k=100)
    split = result["wins_by_gripper"]
    assert split["shape"] == {"at": {"pairwise": 0.0, "n": 2}, "far from": {"pairwise": 1.0, "n": 2}}
    assert set(split) == set(result["by_negative_kind"]) and "relation" in split
    assert all(by["at"]["pairwise"] == 0.0 and by["far from"]["pairwise"] == 1.0 for by in split.values())
    # Blind frames lose to every negative, so winning one kind of them alone does not save them.
    assert result["top1"] == result["top1_if_won"]["shape"] == 0.6


def test_colour_wins_are_split_by_whether_the_negative_colour_is_worn_by_another_object():
    """A model that reads the colour of the other object in view as the target's: it loses exactly the colour
    negatives that name that other object's colour, and wins those naming a colour nobody wears."""
    facts = [Facts(obj=f"red {s}", ref="blue pad", relation=r) for s in SHAPES for r in RELATIONS]
    frames = _fake_frames(facts)
    frames.present = [(f.obj, "green cube") for f in facts]
    oracle, texts = _facts_embedder(facts, TRAIN_TEMPLATES)
    misbound = [Facts(obj=f.obj.replace("red", "green"), ref=f.ref, relation=f.relation) for f in facts]

    def images(ims):
        rows = ims[:, 0, 0, 0]
        return oracle(ims) + 2 * texts([caption(misbound[int(k)], TRAIN_TEMPLATES[0]) for k in rows])

    split = caption_retrieval(images, texts, frames, TRAIN_TEMPLATES, k=100)["colour_wins_by_binding"]
    # Only the red cylinders have a green negative: "the green cube ..." may be true, with a green cube in view.
    assert split["obj_colour"]["elsewhere"] == {"pairwise": 0.0, "n": len(facts) // 2}
    assert split["obj_colour"]["absent"]["pairwise"] == 1.0 and split["obj_colour"]["absent"]["n"] > len(facts)
    assert split["ref_colour"]["elsewhere"]["pairwise"] == 1.0     # the pad's green negative: no fake "green pad"


def test_binding_draws_colour_negatives_from_the_colours_other_objects_wear():
    """``--binding 1``: every colour negative names a colour another object in view wears, when one does, and
    the other kinds are drawn as before; with no such colour in view, colour negatives are still drawn."""
    present = ("red cube", "green cylinder", "yellow cylinder")      # as frames record them: no pads

    def colour_negatives(binding: float, seen: tuple[str, ...]) -> list:
        rng = np.random.default_rng(0)
        drawn = [n for _ in range(300) for n in draw_negatives(FACTS, seen, {}, 3, rng, binding=binding)]
        return [(negative_kind(FACTS, n), n) for n in drawn if negative_kind(FACTS, n) in ("obj_colour", "ref_colour")]

    bound = colour_negatives(1.0, present)
    assert len(bound) > 200 and all(colour_elsewhere(k, FACTS, n, present) for k, n in bound)
    assert {n.obj for k, n in bound if k == "obj_colour"} == {"green cube", "yellow cube"}
    uniform = colour_negatives(0.0, present)
    assert 0.2 < np.mean([colour_elsewhere(k, FACTS, n, present) for k, n in uniform]) < 0.7
    alone = colour_negatives(1.0, ("red cube",))        # nothing else in view: any false colour, as before
    assert len({n.obj for k, n in alone if k == "obj_colour"}) > 2


def test_binding_zero_draws_what_the_trainer_drew_before_it_existed():
    """Runs made before ``--binding`` keep their random stream: with it at 0, ``draw_negatives`` draws exactly
    what its earlier inline pick (one uniform index per kind) drew from the same generator."""
    present = ("red cube", "green cylinder")
    options = [f for f in distractors(FACTS, list(COLORS), list(SHAPES), present, {}) if HELDOUT_OBJECT not in
               (f.obj, f.ref)]
    by_kind: dict = {}
    for f in options:
        by_kind.setdefault(negative_kind(FACTS, f), []).append(f)
    kinds = list(by_kind)
    new, old = np.random.default_rng(7), np.random.default_rng(7)
    for _ in range(100):
        order = old.permutation(len(kinds))
        before = [by_kind[kinds[j]][old.integers(len(by_kind[kinds[j]]))] for j in order[:3]]
        assert draw_negatives(FACTS, present, {}, 3, new, binding=0.0) == before


def test_top1_if_won_counts_only_the_negatives_of_the_kinds_won():
    """A model that reads every fact but shape, which it reads backwards: it fails each frame (every frame has a
    shape negative among all its negatives), and winning the shape negatives alone would make it perfect."""
    facts = [Facts(obj=f"{c} {s}", ref="blue pad", relation=r) for c in ("red", "green") for s in SHAPES
             for r in RELATIONS]
    frames = _fake_frames(facts)
    frames.present = [(f.obj,) for f in facts]
    swapped = [Facts(obj=f.obj.replace("cube", "_").replace("cylinder", "cube").replace("_", "cylinder"), ref=f.ref,
                     relation=f.relation) for f in facts]
    oracle, texts = _facts_embedder(facts, TRAIN_TEMPLATES)

    def images(ims):      # the true facts at 1, the same scene with the other shape at 2
        rows = ims[:, 0, 0, 0]
        return oracle(ims) + 2 * texts([caption(swapped[int(k)], TRAIN_TEMPLATES[0]) for k in rows])

    result = caption_retrieval(images, texts, frames, TRAIN_TEMPLATES, k=100)
    assert result["by_negative_kind"]["shape"] == 0.0 and result["top1"] == 0.0
    assert result["top1_if_won"] == {"shape": 1.0, "relation": 0.0, "shape+relation": 1.0}


def test_spearman_matches_its_definition_with_ties():
    # By hand: ranks (0, 1.5, 1.5, 3) against (0, 1, 2, 3): 4.5 / sqrt(4.5 * 5).
    by_hand = 4.5 / np.sqrt(22.5)
    assert spearman(np.array([1.0, 2.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(by_hand)
    x = np.random.default_rng(0).normal(size=30)
    assert spearman(x, np.exp(x)) == pytest.approx(1.0) and spearman(x, -x ** 3) == pytest.approx(-1.0)


def _words(text: str) -> set[str]:
    return set(text.replace(",", " ").replace(".", " ").split())


def test_decorations_never_use_a_held_out_word_or_a_word_that_states_a_fact():
    import open_clip

    words = filler_words(open_clip.get_tokenizer("ViT-B-32").encoder)
    assert len(words) > 1000
    heldout = set().union(*(_words(t.format(obj="", rel="", ref="")) for t in HELDOUT_TEMPLATES),
                          *(_words(t.format(pose="")) for t in POSE_HELDOUT_TEMPLATES))
    trained = set().union(*(_words(t.format(obj="", rel="", ref="")) for t in TRAIN_TEMPLATES),
                          *(_words(t.format(pose="")) for t in POSE_TRAIN_TEMPLATES),
                          *(_words(a) for a in ARM_PHRASES + ARM_SUFFIXES))
    assert heldout - trained <= HELDOUT_WORDS       # every word only the held-out templates use is listed
    facts = set(COLORS) | set(SHAPES) | {w for r in RELATIONS for w in r.split()} | {"lifted", "above", "near"}
    facts |= {w for p in POSE_PHRASES.values() for w in _words(p)} - {"the", "in", "doing"}   # no fact in those
    fillers = set(words).union(*(_words(f) for f in FILLER_PREFIXES + FILLER_SUFFIXES))
    assert not fillers & (facts | HELDOUT_WORDS | {"robot"})
    # The arm phrases name the arm and nothing that could change a fact, nor a held-out word.
    arm_words = set().union(*(_words(a) for a in ARM_PHRASES + ARM_SUFFIXES))
    assert "robot" in arm_words and not arm_words & (facts | HELDOUT_WORDS)


def test_a_decoration_wraps_a_caption_and_its_negative_alike():
    import open_clip

    words = filler_words(open_clip.get_tokenizer("ViT-B-32").encoder)
    rng = np.random.default_rng(0)
    assert all(draw_decoration(rng, words, p=0.0) == ("", "") for _ in range(20))
    decorations = [draw_decoration(rng, words, p=1.0) for _ in range(200)]
    assert all(prefix for prefix, _ in decorations) and any(suffix for _, suffix in decorations)
    positive, negative = caption(FACTS, TRAIN_TEMPLATES[0]), caption(distractors(FACTS, ["red", "blue"], ["cube"])[0],
                                                                      TRAIN_TEMPLATES[0])
    for d in decorations:
        a, b = decorate(positive, d), decorate(negative, d)
        assert positive in a and negative in b and a.replace(positive, "") == b.replace(negative, "")
    assert not any("robot" in decorate(positive, d) for d in decorations)      # arm_p = 0: never the arm


def test_an_arm_phrase_names_the_robot_and_is_shared_with_the_negatives():
    import open_clip

    words = filler_words(open_clip.get_tokenizer("ViT-B-32").encoder)
    rng = np.random.default_rng(1)
    positive = caption(FACTS, TRAIN_TEMPLATES[0])
    negative = caption(distractors(FACTS, ["red", "blue"], ["cube"])[0], TRAIN_TEMPLATES[0])
    for p in (0.0, 0.5):
        decorations = [draw_decoration(rng, words, p=p, arm_p=1.0) for _ in range(100)]
        texts = [decorate(positive, d) for d in decorations]
        assert all("robot" in t for t in texts)
        assert any(t.endswith(positive) for t in texts) and any(not t.endswith(positive) for t in texts)  # both places
        assert all(a.replace(positive, "") == decorate(negative, d).replace(negative, "")
                   for a, d in zip(texts, decorations))
    some = [draw_decoration(rng, words, p=0.0, arm_p=0.3) for _ in range(400)]
    share = np.mean([d != ("", "") for d in some])
    assert 0.2 < share < 0.4


def test_the_trainer_names_the_arm_in_table_captions_only(trainer_texts):
    meta, texts = trainer_texts(arm_p=1.0)
    assert meta["config"]["arm_phrases"] == 1.0
    poses = [t for t in texts if any(phrase in t for phrase in POSE_PHRASES.values())]
    table = [t for t in texts if t not in poses]
    assert poses and table
    assert all("robot" in t for t in table)
    assert not any("robot arm" in t for t in poses)                 # the humanoid has no arm phrase ...
    assert any(p in t for t in poses for p in ROBOT_PHRASES + ROBOT_SUFFIXES)   # ... but bare "robot" as often


def test_bare_robot_phrases_decorate_both_scenes_alike():
    """A word said of both scenes as often cannot stand for either: a table caption draws each bare-"robot"
    phrase about as often as a humanoid caption does, and the humanoid never draws a "robot arm" one."""
    import open_clip

    words = filler_words(open_clip.get_tokenizer("ViT-B-32").encoder)
    rng = np.random.default_rng(2)
    bare = set(ROBOT_PHRASES + ROBOT_SUFFIXES)
    share = {}
    for pose in (False, True):
        drawn = [x for _ in range(6000) for x in draw_decoration(rng, words, p=0.0, arm_p=0.3, pose=pose) if x]
        assert pose is False or all(x in bare for x in drawn)
        share[pose] = sum(x in bare for x in drawn) / 6000
    assert abs(share[True] - share[False]) < 0.02 and share[True] > 0.05


@pytest.mark.parametrize("flag,value", [("--decorate", "1.5"), ("--wander", "-0.1"), ("--decorate", "nan"),
                                        ("--arm-phrases", "2"), ("--graded", "-1"), ("--graded", "nan"),
                                        ("--graded", "101"), ("--occlude", "1.5"), ("--occlude", "nan"),
                                        ("--gripper", "1.5"), ("--gripper", "nan"), ("--object-head", "-1"),
                                        ("--object-head", "nan"), ("--object-head", "101")])
def test_the_trainer_refuses_a_share_or_a_weight_out_of_range_before_rendering_anything(flag, value, capsys):
    from agents.vlm.train_domain_clip import main

    with pytest.raises(SystemExit) as exit_info:
        main([flag, value])
    assert exit_info.value.code == 2
    assert f"{flag} {value}" in capsys.readouterr().err


def test_an_actor_plays_the_episodes_and_its_frames_are_captioned_from_the_true_state():
    """``manipulation_frames(actor=...)`` (what ``policy_frames`` uses for a trained agent): the actor gets each
    step's observation and its actions are played. An actor that never moves leaves every push where it was."""
    seen = []

    def still(obs):
        seen.append(np.shape(obs))
        return np.zeros(4)

    data = manipulation_frames(2, seed=5, every=10, tasks=("push",), actor=still, n_objects=1, noise=0.0,
                               random_fraction=0.0)
    assert set(seen) == {(20,)}              # 11 + 9 per object: one object, as the agent was trained
    assert len(seen) >= 2 * 50               # every step of both episodes went through the actor
    assert all(len(p) == 1 for p in data.present) and set(data.tasks) == {"push"}
    assert np.all(data.progress < 1e-3)      # the cube never moved (it settles by microns)
    for e in np.unique(data.episode):        # so each episode keeps one relation throughout
        assert len({data.facts[i].relation for i in np.flatnonzero(data.episode == e)}) == 1


def test_policy_frames_play_the_kept_clip_agent():
    """The kept CLIP agent (bench.clip_push --save) plays through ``policy_frames``: one-object push scenes,
    every step's action from the agent, each frame captioned from the true state."""
    from agents.vlm.domain_data import policy_frames
    from bench.common import RESULTS

    path = RESULTS / "clip_push_clip_policy.zip"
    if not path.is_file():
        pytest.skip(f"{path} not shipped; run python -m bench.clip_push --save")
    data = policy_frames(path, 2, seed=7, every=10, noise=0.0)
    assert len(data) >= 2 * 5 and all(len(p) == 1 for p in data.present) and set(data.tasks) == {"push"}
    again = policy_frames(path, 2, seed=7, every=10, noise=0.0)
    np.testing.assert_array_equal(data.images, again.images)      # deterministic agent, seeded scenes
    scripted = manipulation_frames(2, seed=7, every=10, tasks=("push",), n_objects=1, noise=0.0,
                                   random_fraction=0.0)
    n = min(len(scripted), len(data))
    assert scripted.present[0] == data.present[0]                             # the same scene ...
    assert not np.array_equal(scripted.images[:n], data.images[:n])          # ... played by the agent


@pytest.mark.parametrize("args,message", [(["--policy", "no/such.zip"], "--policy no/such.zip: not a file"),
                                          (["--policy", "CORRUPT"], "not a loadable SB3 SAC zip"),
                                          (["--policy-episodes", "-1"], "--policy-episodes -1 is out of range")])
def test_the_trainer_refuses_a_bad_policy_or_count_before_rendering(args, message, capsys, tmp_path):
    from agents.vlm.train_domain_clip import main

    corrupt = tmp_path / "agent.zip"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(SystemExit) as exit_info:
        main([str(corrupt) if a == "CORRUPT" else a for a in args])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_reward_by_distance_bands_the_task_reward(monkeypatch):
    """A model whose frames embed as x = 1 - distance / 0.5 along the goal direction: the alpha-1 reward is
    x - 1, so each band's mean is minus twice its frames' mean distance (in m), and the spread within a band
    is theirs."""
    distances = np.array([0.01, 0.02, 0.05, 0.12, 0.13, 0.18, 0.45])
    facts = [Facts(obj="red cube", ref="blue pad", relation="far from")] * len(distances)
    frames = _fake_frames(facts)
    frames.ref_distance = distances
    monkeypatch.setattr(domain_eval, "manipulation_frames", lambda *a, **k: frames)
    x = 1 - distances / 0.5

    def images(ims):
        i = ims[:, 0, 0, 0].astype(int)
        return np.stack([x[i], np.sqrt(1 - x[i] ** 2), np.zeros(len(i))], axis=1)

    def texts(tx):
        return np.array([[1.0, 0, 0] if " is on " in t else [-1.0, 0, 0] for t in tx])

    out = reward_by_distance(images, texts)
    assert list(out) == ["0-3 cm", "3-6 cm", "10-15 cm", "15-20 cm", ">=40 cm"]
    assert out["0-3 cm"]["n"] == 2 and out["0-3 cm"]["mean"] == pytest.approx(-2 * 0.015, abs=1e-4)
    assert out["10-15 cm"]["std"] == pytest.approx(np.std([-0.24, -0.26]), abs=1e-4)
    assert out[">=40 cm"]["mean"] == pytest.approx(-0.9, abs=1e-4)


def test_the_shape_probe_reads_shape_only_where_the_embedding_holds_it(monkeypatch):
    """An embedding with a shape coordinate (plus noise) is probed at 1.0 on the held-out frames; one that
    holds only noise scores no better than a guess of the commoner shape, with room for the fit's luck."""
    rng = np.random.default_rng(0)
    shapes = {False: rng.random(200) < 0.5, True: rng.random(100) < 0.6}     # training / held-out: cube or not
    sets = {h: _fake_frames([Facts(obj="red cube" if c else "red cylinder", ref="blue pad", relation="far from")
                             for c in shapes[h]]) for h in (False, True)}
    seen = []
    monkeypatch.setattr(domain_eval, "manipulation_frames",
                        lambda n, seed, heldout=False, **k: seen.append((heldout, k["n_objects"])) or sets[heldout])
    noise = rng.normal(size=(200, 8))

    def oracle(ims):
        is_cube = np.array([f.obj.endswith("cube") for f in sets[len(ims) == 100].facts], float)
        return np.c_[2 * is_cube - 1, noise[:len(ims)]]

    good = domain_eval.shape_probe(oracle, steps=300)
    assert good["heldout_acc"] == 1.0 and good["n_train"] == 200 and good["n_heldout"] == 100
    assert sorted(seen) == [(False, 1), (True, 1)]          # one object per scene, a fit set and a held-out set
    blind = domain_eval.shape_probe(lambda ims: rng.normal(size=(len(ims), 8)), steps=300)
    assert blind["majority"] == round(max(shapes[True].mean(), 1 - shapes[True].mean()), 4)
    assert blind["heldout_acc"] < blind["majority"] + 0.12


def test_the_spearman_interval_is_a_point_for_a_perfect_reward_and_brackets_a_noisy_one():
    """A reward that rises with progress in every frame ranks every resample perfectly; a noisy one gets an
    interval around its own figure (episodes are what is resampled, so the frame count stays a multiple)."""
    progress = np.tile(np.linspace(0, 1, 10), 4).astype(np.float32)
    facts = [Facts(obj="red cube", ref="blue pad", relation="far from")] * len(progress)

    def frames_with(noise):
        frames = _fake_frames(facts)
        frames.progress, frames.episode = progress, np.repeat(np.arange(4), 10)
        x = np.clip(2 * progress - 1 + noise, -1, 1)
        embed = lambda ims: np.stack([x[ims[:, 0, 0, 0].astype(int)], np.sqrt(1 - x[ims[:, 0, 0, 0].astype(int)] ** 2),
                                      np.zeros(len(ims))], axis=1)
        return frames, embed

    def texts(tx):
        return np.array([[1.0, 0, 0] if " is on " in t else [-1.0, 0, 0] for t in tx])

    frames, images = frames_with(0.0)
    perfect = domain_eval.progress_spearman(images, texts, tasks=("push",), frames_by_task={"push": frames})
    assert perfect["pooled_mean_alpha1"] == 1.0 and perfect["pooled_mean_alpha1_ci95"] == [1.0, 1.0]
    frames, images = frames_with(np.random.default_rng(0).normal(0, 0.4, len(progress)))
    noisy = domain_eval.progress_spearman(images, texts, tasks=("push",), frames_by_task={"push": frames})
    lo, hi = noisy["pooled_mean_alpha1_ci95"]
    assert lo < noisy["pooled_mean_alpha1"] < hi < 1.0


def test_the_graded_loss_orders_frames_by_distance_within_the_lifted_flag():
    """Scores that fall with distance cost less than scores that rise with it; pairs closer than the margin,
    and pairs across the lifted flag, are not ranked at all; and the loss pulls a misordered pair apart."""
    import torch

    from agents.vlm.train_domain_clip import graded_rank_loss

    distance = torch.tensor([0.02, 0.10, 0.25, 0.40])
    flat = torch.zeros(4, dtype=torch.bool)
    right = graded_rank_loss(torch.tensor([6.0, 3.0, 0.0, -3.0]), distance, flat)
    wrong = graded_rank_loss(torch.tensor([-3.0, 0.0, 3.0, 6.0]), distance, flat)
    assert right < 0.1 < 2.0 < wrong
    assert graded_rank_loss(torch.tensor([0.0, 5.0]), torch.tensor([0.10, 0.105]), flat[:2]) == 0.0
    assert graded_rank_loss(torch.tensor([-5.0, 5.0]), torch.tensor([0.02, 0.40]), torch.tensor([True, False])) == 0.0
    score = torch.tensor([-1.0, 1.0], requires_grad=True)          # the nearer frame scores lower: misordered
    graded_rank_loss(score, torch.tensor([0.02, 0.40]), flat[:2]).backward()
    assert score.grad[0] < 0 < score.grad[1]                       # descent raises the nearer, lowers the farther


def test_the_object_head_loss_names_every_object_in_view_and_skips_the_humanoid():
    """Targets are the scene's colour-shape objects (pads and poses named by none); a head that names them
    costs less than one that names the same colours with the other shape; the loss reaches the tower."""
    import torch

    from agents.vlm.train_domain_clip import OBJECT_NAMES, object_presence_loss

    head = torch.nn.Linear(4, len(OBJECT_NAMES), bias=False)
    img = torch.eye(4)[:3].clone().requires_grad_(True)
    present = [("red cube", "blue cylinder"), ("red cylinder",), ()]
    with torch.no_grad():
        head.weight.zero_()
        head.weight[OBJECT_NAMES.index("red cube"), 0] = head.weight[OBJECT_NAMES.index("blue cylinder"), 0] = 8
        head.weight[OBJECT_NAMES.index("red cylinder"), 1] = 8
        head.weight[:, :2] -= 4              # every other object: logit -4, so absent
    right = object_presence_loss(head, img[:2], present[:2], [False, False])
    with torch.no_grad():
        swapped = torch.nn.Linear(4, len(OBJECT_NAMES), bias=False)
        swapped.weight.copy_(head.weight)
        for cube, cyl in [(n, n.replace("cube", "cylinder")) for n in OBJECT_NAMES if n.endswith("cube")]:
            a, b = OBJECT_NAMES.index(cube), OBJECT_NAMES.index(cyl)
            swapped.weight[[a, b]] = head.weight[[b, a]]
    wrong = object_presence_loss(swapped, img[:2], present[:2], [False, False])
    assert right < 0.05 < 0.5 < wrong
    # a humanoid frame adds nothing: the loss over (table, pose) equals the loss over the table frame alone
    both = object_presence_loss(head, img[[0, 2]], [present[0], present[2]], [False, True])
    assert torch.isclose(both, object_presence_loss(head, img[:1], present[:1], [False]))
    assert object_presence_loss(head, img[2:], present[2:], [True]) == 0.0
    wrong.backward()
    assert img.grad.abs().sum() > 0


def test_the_relation_ceiling_is_below_one_when_relations_lump_frames_of_different_progress():
    """A score that is the true relation ranks frames across relations perfectly and within one not at all:
    its Spearman with progress is high but short of 1, and falls when the relation stops following progress."""
    progress = np.linspace(0, 1, 12).astype(np.float32)
    rel = ["far from"] * 6 + ["next to"] * 3 + ["on"] * 3
    frames = _fake_frames([Facts(obj="red cube", ref="blue pad", relation=r) for r in rel])
    frames.progress = progress
    ceiling = domain_eval.relation_ceiling({"push": frames})
    assert 0.85 < ceiling["push"] < 1.0
    assert ceiling["pooled_mean"] == ceiling["push"]
    shuffled = _fake_frames([Facts(obj="red cube", ref="blue pad", relation=r) for r in rel[::-1]])
    shuffled.progress = progress
    both = domain_eval.relation_ceiling({"push": frames, "pick_place": shuffled})
    assert both["pick_place"] == -both["push"] and both["pooled_mean"] == 0.0


def test_the_graded_term_ranks_only_pad_frames_in_their_own_wording():
    """graded_term scores the frames whose reference is a pad (not the stack's or the humanoid's NaN rows),
    each with its own template and decoration said as "on" and "far from" (never "lifted"), and the loss is
    small when the nearer frame leans towards "on" and large when the farther one does."""
    import torch

    from agents.vlm.train_domain_clip import graded_term

    facts = [Facts(obj="red cube", ref="blue pad", relation="on", lifted=True), Facts(pose="kneeling"),
             Facts(obj="red cube", ref="green cube", relation="far from"),
             Facts(obj="green cube", ref="blue pad", relation="far from", lifted=True)]
    data = _fake_frames(facts)
    data.ref_distance = np.array([0.02, np.nan, np.nan, 0.30], np.float32)
    said = []

    class Model(torch.nn.Module):
        logit_scale = torch.tensor(0.0)

        def encode_text(self, rows):              # "on" captions point one way, "far from" the other
            return torch.stack([torch.tensor([1.0, 0.0]) if r else torch.tensor([-1.0, 0.0]) for r in rows])

    def tokens(texts):
        said.extend(texts)
        return torch.tensor([" is on " in t for t in texts])

    batch, chosen = [0, 1, 2, 3], ["the {obj} is {rel} the {ref}"] * 4
    decorations = [("look,", ""), ("", ""), ("", ""), ("", "in the picture")]
    near_on = torch.tensor([[1.0, 0], [0, 1], [0, 1], [-1, 0]])      # rows in batch order
    right = graded_term(Model(), tokens, data, batch, chosen, decorations, near_on)
    assert said == ["look, the red cube is on the blue pad", "look, the red cube is far from the blue pad",
                    "the green cube is on the blue pad in the picture",
                    "the green cube is far from the blue pad in the picture"]
    wrong = graded_term(Model(), tokens, data, batch, chosen, decorations, -near_on)
    assert right < 0.05 < 4.0 < wrong       # softplus(-4) against softplus(4)
    data.facts[0] = Facts(obj="red cube", ref="blue pad", relation="on")     # resting: no pair with the lifted one
    assert graded_term(Model(), tokens, data, batch, chosen, decorations, -near_on) == 0.0


def test_occlude_without_wander_is_refused_naming_both_flags(capsys):
    from agents.vlm.train_domain_clip import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--occlude", "0.5"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--occlude 0.5" in err and "--wander" in err


def _sight_line_distance(point: np.ndarray, eye: np.ndarray, thing: np.ndarray) -> float:
    direction = (thing - eye) / np.linalg.norm(thing - eye)
    offset = point - eye
    return float(np.linalg.norm(offset - offset @ direction * direction))


def test_occluding_targets_sit_on_the_cameras_sight_line_to_the_cube_or_the_pad():
    """``ArmWander(occlude=1)`` puts every target between the workspace camera and object 0 or the task's pad
    (both are chosen), within the noise and the workspace's clip; without ``occlude`` few targets do."""
    import worlds
    from agents.vlm.domain_data import CAMERA, OCCLUDE_HEIGHT, TASK_IDS, ArmWander

    env = worlds.make(TASK_IDS["push"], n_objects=1, camera=CAMERA, render_profile="reward", width=96, height=96)
    env.reset(seed=3)
    u = env.unwrapped
    eye = u.data.cam_xpos[u.model.camera(CAMERA).id].copy()
    obj, pad = u.object_position(0), u.goal_position()

    def nearest_line(wander, n=200):
        targets = [wander._new_target() for _ in range(n)]
        return np.array([[_sight_line_distance(t, eye, obj), _sight_line_distance(t, eye, pad)] for t in targets]), \
            np.array(targets)

    hide, targets = nearest_line(ArmWander(env, np.random.default_rng(0), occlude=1.0))
    assert np.mean(hide.min(axis=1) < 0.05) > 0.9
    assert np.mean(hide[:, 0] < hide[:, 1]) == pytest.approx(0.5, abs=0.15)     # the cube and the pad alike
    assert targets[:, 2].min() > OCCLUDE_HEIGHT[0] - 0.06 and targets[:, 2].max() > 0.3
    roam, _ = nearest_line(ArmWander(env, np.random.default_rng(0)))
    assert np.mean(roam.min(axis=1) < 0.05) < 0.5
    env.close()


def test_only_arms_that_wander_from_the_start_hide_the_scene(monkeypatch):
    """``manipulation_frames(occlude=...)`` hands the share to the arms that wander before the task is done
    and 0 to those that wander off after a success, whose hidden scene would be a solved one."""
    from agents.vlm import domain_data

    made = []       # [occlude, simulated time of the arm's first action (None: never asked)]
    real = domain_data.ArmWander

    class Recorder(real):
        def __init__(self, env, rng, occlude=0.0):
            self.entry = [occlude, None]
            made.append(self.entry)
            super().__init__(env, rng, occlude)

        def __call__(self):
            if self.entry[1] is None:
                self.entry[1] = float(self.u.data.time)
            return super().__call__()

    monkeypatch.setattr(domain_data, "ArmWander", Recorder)
    manipulation_frames(16, seed=2, every=20, tasks=("push",), wander_fraction=0.5, occlude=0.7, n_objects=1,
                        random_fraction=0.0)
    assert {o for o, _ in made} == {0.0, 0.7}
    assert all(t == 0.0 for o, t in made if o == 0.7)                 # wanders from the first step
    assert all(t is None or t > 0 for o, t in made if o == 0.0)       # only after a success, if ever
    assert any(t is not None and t > 0 for o, t in made if o == 0.0)


def test_occlusion_gain_is_the_share_of_the_reward_of_success_a_hidden_scene_earns(monkeypatch):
    """A model that embeds each frame as x along the goal direction (alpha-1 reward x - 1): hidden frames
    paid like the episodes' first frames give 0, paid like success give 1, half way 0.5."""
    far = Facts(obj="red cube", ref="blue pad", relation="far from")
    on = Facts(obj="red cube", ref="blue pad", relation="on")
    scripted = _fake_frames([far, far, on, far, far, on])
    scripted.episode = np.array([0, 0, 0, 1, 1, 1])
    x_scripted = np.array([0.0, 0.3, 1.0, 0.0, 0.3, 1.0])
    for paid, gain in ((0.0, 0.0), (1.0, 1.0), (0.5, 0.5)):
        hidden = _fake_frames([far] * 4)
        hidden.images[:, 0, 0, 1] = 1                     # the second "pixel" says which set
        x_hidden = np.full(4, paid)
        monkeypatch.setattr(domain_eval, "manipulation_frames",
                            lambda *a, **k: hidden if k.get("occlude") else scripted)

        def images(ims, xh=x_hidden):
            x = np.where(ims[:, 0, 0, 1] == 1, xh[ims[:, 0, 0, 0] % 4], x_scripted[ims[:, 0, 0, 0] % 6])
            return np.stack([x, np.sqrt(1 - x ** 2), np.zeros(len(x))], axis=1)

        def texts(tx):
            return np.array([[1.0, 0, 0] if " is on " in t else [-1.0, 0, 0] for t in tx])

        out = domain_eval.arm_occlusion(images, texts)
        assert out["occlusion_gain"] == pytest.approx(gain, abs=1e-6) and out["hidden_frames"] == 4
