"""The studio CLIP trainer's rounds: prefetched rendering gives the same frames, a time budget anneals early, a
partial checkpoint exists between rounds and is gone after a finished run."""

from __future__ import annotations

import numpy as np
import pytest

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
    assert (tmp_path / "c.pt").is_file() and not (tmp_path / "c.partial.pt").exists()


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


def test_minutes_must_be_a_budget(capsys):
    with pytest.raises(SystemExit):
        T.main(["--minutes", "nan"])
    assert "--minutes nan" in capsys.readouterr().err
