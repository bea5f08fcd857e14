"""The studio CLIP trainer's rounds: prefetched rendering gives the same frames, a time budget anneals early, a
partial checkpoint exists between rounds and is gone after a finished run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from agents.vlm import train_domain_clip as T

ROUND = dict(episodes=2, seed=11, every=6, poses_per_class=1, wander=0.5, policies=[], policy_episodes=0,
             occlude=0.0)


def test_prefetched_rounds_in_a_pool_are_the_frames_rendered_in_process():
    inline = T.RoundRenderer(1, **ROUND)
    pooled = T.RoundRenderer(2, **ROUND)
    try:
        pooled.prefetch(1)                      # round 1 rendering in the background ...
        first = pooled.frames(0)                # ... while round 0 is asked for
        second = pooled.frames(1)
    finally:
        pooled.close()
    for got, want in ((first, inline.frames(0)), (second, inline.frames(1))):
        assert len(got) == len(want) > 0
        assert np.array_equal(got.images, want.images)
        assert got.facts == want.facts
    assert not np.array_equal(first.images[:4], second.images[:4])     # rounds are fresh scenes


def test_render_training_set_is_one_round_of_the_renderer():
    once = T.render_training_set(ROUND["episodes"], ROUND["seed"], ROUND["every"], ROUND["poses_per_class"],
                                 round_index=1, wander=ROUND["wander"])
    assert np.array_equal(once.images, T.RoundRenderer(1, **ROUND).frames(1).images)


@pytest.fixture
def quiet_train(monkeypatch):
    monkeypatch.setattr(T, "evaluate", lambda *a, **k: {})      # the metrics are bench.domain_clip's job
    return dict(episodes=2, epochs=1, eval_episodes=1, poses_per_class=1, lr=1e-4, log=lambda *_: None)


def test_a_minute_budget_stops_at_the_rounds_that_fit_and_says_so(tmp_path, quiet_train):
    meta = T.train(rounds=4, minutes=1e-4, out=tmp_path / "c.pt", **quiet_train)
    assert meta["config"]["rounds"] == 1                # nothing fits after the first round
    assert meta["config"]["rounds_at_most"] == 4 and meta["config"]["minutes"] == 1e-4
    assert meta["config"]["final_lr_factor"] > 0.5     # stopped where its schedule was, and says so
    assert (tmp_path / "c.pt").is_file() and not (tmp_path / "c.partial.pt").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_budget_that_fits_two_of_four_rounds_anneals_by_the_second(tmp_path, quiet_train, monkeypatch, workers):
    """A clock on which every round takes 10 s: a 30 s budget fits two rounds (one round's time is kept for the
    measurement), the cosine is recomputed to end with the second, and a prefetched third is dropped."""
    clock = [0.0]
    real = T.RoundRenderer.frames

    def slow(self, round_index):
        clock[0] += 10.0
        return real(self, round_index)

    monkeypatch.setattr(T.time, "time", lambda: clock[0])
    monkeypatch.setattr(T.RoundRenderer, "frames", slow)
    meta = T.train(rounds=4, minutes=0.5, workers=workers, out=tmp_path / "c.pt", **quiet_train)
    assert meta["config"]["rounds"] == 2 and meta["config"]["rounds_at_most"] == 4
    assert meta["config"]["final_lr_factor"] < 1e-6           # annealed to zero by the last round run
    assert not (tmp_path / "c.partial.pt").exists() and not (tmp_path / "c.partial.json").exists()


def test_without_a_budget_every_round_runs_and_a_partial_checkpoint_stands_between_rounds(tmp_path, quiet_train,
                                                                                          monkeypatch):
    seen = []
    real = T.caption_retrieval

    def check(*a, **k):         # called once per epoch: is the last round's model on disk?
        seen.append((tmp_path / "c.partial.pt").is_file())
        return real(*a, **k)

    monkeypatch.setattr(T, "caption_retrieval", check)
    meta = T.train(rounds=2, out=tmp_path / "c.pt", **quiet_train)
    assert meta["config"]["rounds"] == 2 and "minutes" not in meta["config"]
    assert seen == [False, True]
    assert not (tmp_path / "c.partial.pt").exists()
    assert not (tmp_path / "c.partial.json").exists()


def test_a_partial_checkpoint_names_its_architecture(tmp_path, quiet_train, monkeypatch):
    """Stopped during its second round, a run leaves its first behind, loadable as the architecture it is."""
    def stop(*a, **k):
        if (tmp_path / "c.partial.pt").is_file():
            raise KeyboardInterrupt
        return {"top1": 0.0, "by_negative_kind": {}}

    monkeypatch.setattr(T, "caption_retrieval", stop)
    with pytest.raises(KeyboardInterrupt):
        T.train(rounds=2, out=tmp_path / "c.pt", **quiet_train)
    assert json.loads((tmp_path / "c.partial.json").read_text()) == {"model": "studio-clip-tiny", "rounds": 1}


def test_minutes_must_be_a_budget(capsys):
    with pytest.raises(SystemExit):
        T.main(["--minutes", "nan"])
    assert "--minutes nan" in capsys.readouterr().err


def test_object_pixels_land_on_each_object_in_the_render():
    """The projected centre of every object is a pixel of that object's colour, nearer it than any other
    object's colour: the pinhole model is the one MuJoCo renders with."""
    from agents.vlm.domain_data import CAMERA, object_pixels
    import worlds
    from worlds.manipulation import COLORS

    env = worlds.make("studio/Push-v0", n_objects=3, camera=CAMERA, render_profile="reward", width=96, height=96)
    hits = 0
    for seed in range(6):
        env.reset(seed=seed)
        image = env.render().astype(float) / 255
        for column, row, name in object_pixels(env):
            pixel = image[int(row), int(column)]
            distances = {c: np.linalg.norm(pixel - np.array(rgb)) for c, rgb in COLORS.items()}
            hits += min(distances, key=distances.get) == name.split()[0]
    env.close()
    assert hits >= 17          # of 18 objects (one may sit behind another or the arm)


def test_augment_reports_where_each_pixel_went():
    import torch

    rng = np.random.default_rng(0)
    images = np.zeros((16, 96, 96, 3), np.uint8)
    spots = rng.integers(10, 86, (16, 2))
    for k, (c, r) in enumerate(spots):
        images[k, r, c] = 255
    moves = []
    out = T.augment(T.to_tensor(images), torch.Generator().manual_seed(3), flip=True, moves=moves)
    plain = T.augment(T.to_tensor(images), torch.Generator().manual_seed(3), flip=True)
    assert torch.equal(out, plain)                      # the same draws with or without asking
    brightest = out.sum(1).flatten(1).argmax(1)
    for k, (c, r) in enumerate(spots):
        col, row = moves[k](c + 0.5, r + 0.5)
        assert (int(row), int(col)) == divmod(int(brightest[k]), 96)
    mirrored = [moves[k](10.5, 0)[0] > 48 for k in range(16)]
    assert any(mirrored) and not all(mirrored)          # half are mirrored


def test_token_shape_loss_asks_each_objects_own_patch():
    import torch

    tokens = torch.zeros(2, 64, 2)
    tokens[0, 1 * 8 + 2] = torch.tensor([9.0, 0.0])     # a cube in patch (row 1, column 2) of image 0
    tokens[1, 5 * 8 + 7] = torch.tensor([0.0, 9.0])     # a cylinder in patch (5, 7) of image 1
    head = torch.nn.Linear(2, 2)
    with torch.no_grad():
        head.weight.copy_(torch.eye(2))
        head.bias.zero_()
    same = lambda c, r: (c, r)
    objects = [[(2 * 12 + 5.0, 1 * 12 + 3.0, "red cube")], [(7 * 12 + 1.0, 5 * 12 + 11.0, "blue cylinder")]]
    right = T.token_shape_loss(head, tokens, objects, [same, same], grid=8, size=96)
    assert right.item() < 1e-3
    wrong = [[(5.0, 5.0, "red cube")], [(7 * 12 + 1.0, 5 * 12 + 11.0, "blue cube")]]
    assert T.token_shape_loss(head, tokens, wrong, [same, same], grid=8, size=96).item() > 4
    gone = lambda c, r: (c + 200, r)                    # moved out of view: not asked
    assert T.token_shape_loss(head, tokens, wrong, [gone, gone], grid=8, size=96).item() == 0.0


def test_the_token_probe_reads_the_patch_under_the_object():
    """Every frame holds one bright and one dim patch, and the object is the bright one's cube or the dim one's
    cylinder: only the token under the object tells them apart (the frames' content is alike), so a probe on
    it reads the shape, and one on a wrong patch (rows for columns, say: a blank patch) guesses."""
    import open_clip

    from agents.vlm.captions import Facts
    from agents.vlm.domain_data import FrameSet
    from agents.vlm.domain_eval import token_shape_probe
    from agents.vlm.model_configs import register

    register()
    model = open_clip.create_model("studio-clip-tiny").eval()
    rng = np.random.default_rng(0)

    def frames(n):
        images = np.zeros((n, 96, 96, 3), np.uint8)
        facts, objects = [], []
        for k in range(n):
            shape = ("cube", "cylinder")[k % 2]
            while True:         # two patches whose transposes are neither of them
                cells = [tuple(rng.integers(0, 8, 2)) for _ in range(2)]
                if len({*cells, *[(r, c) for c, r in cells]}) == 4:
                    break
            for (c, r), value in zip(cells, (250, 90)):
                images[k, r * 12:(r + 1) * 12, c * 12:(c + 1) * 12] = value
            column, row = cells[0] if shape == "cube" else cells[1]
            facts.append(Facts(obj=f"red {shape}", ref="blue pad", relation="far from"))
            objects.append(((column * 12 + 6.0, row * 12 + 6.0, f"red {shape}"),))
        return FrameSet(images, facts, np.zeros(n, np.float32), np.arange(n), ["push"] * n, [()] * n,
                        objects=objects)

    probe = token_shape_probe(model, (frames(60), frames(40)))
    assert probe["heldout_acc"] >= 0.95, probe


def test_objects_fixes_the_count_and_leaves_out_stacking_for_one():
    one = T.render_chunk(3, 5, 6, objects=1)
    assert {len(p) for p in one.present} == {1} and "stack" not in set(one.tasks)
    assert {len(o) for o in one.objects} == {1}
    three = T.render_chunk(3, 5, 6, objects=3)
    assert {len(p) for p in three.present} == {3} and "stack" in set(three.tasks)


def test_the_token_cache_empties_itself_before_a_batch_not_under_it():
    """Full, it is emptied before the batch is looked up: a batch whose captions were cached still gets them
    (emptied after the lookup, a run died 1.2M captions in with a KeyError), and each caption is tokenised once."""
    seen: list[list[str]] = []

    def tokenizer(texts):
        seen.append(list(texts))
        return torch.tensor([[len(t), sum(map(ord, t))] for t in texts])

    cache = T.TokenCache(tokenizer, limit=3)
    first = cache(["a", "bb", "a"])
    cache(["ccc", "dddd"])                              # 4 cached: more than the limit
    again = cache(["a", "eeeee"])
    assert again[0].tolist() == first[0].tolist() == [1, 97]
    assert seen == [["a", "bb"], ["ccc", "dddd"], ["a", "eeeee"]]
    assert len(cache.rows) == 2
