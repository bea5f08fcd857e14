"""bench.clip_compare: checkpoints scored on the very same fresh frames, differences paired, bad input refused."""

from __future__ import annotations

import json
import shutil

from worlds import gl  # noqa: F401

import numpy as np
import pytest

from agents.vlm.embedder import STUDIO_CHECKPOINT
from bench import clip_compare


def test_checkpoints_are_named_by_stem_unless_named():
    assert clip_compare.named("/a/b/run29.pt") == ("run29", clip_compare.Path("/a/b/run29.pt"))
    assert clip_compare.named("best=/a/b/run29.pt") == ("best", clip_compare.Path("/a/b/run29.pt"))
    assert clip_compare.named("runs/lr=3e-4/run.pt") == ("run", clip_compare.Path("runs/lr=3e-4/run.pt"))


def test_the_paired_interval_is_of_the_difference_and_resamples_whole_episodes():
    a = np.array([True] * 50 + [False] * 50)
    frames = np.arange(100)                     # every frame its own episode
    assert clip_compare.paired_interval(a, a, frames) == [0.0, 0.0]
    assert clip_compare.paired_interval(np.zeros(100, bool), np.ones(100, bool), frames) == [1.0, 1.0]
    low, high = clip_compare.paired_interval(a, np.roll(a, 10), frames)     # 10 frames gained, 10 lost
    assert low < 0 < high
    # The same 10-gained-10-lost in 4 episodes of 25 frames: far fewer independent samples, a wider interval.
    low4, high4 = clip_compare.paired_interval(a, np.roll(a, 10), frames // 25)
    assert high4 - low4 > 1.5 * (high - low)


def test_draws_that_could_share_a_scene_are_refused(capsys):
    assert clip_compare.draws_meet(2, 1, 60)                 # episode i of draw 2 is episode i + 1 of draw 1
    assert clip_compare.draws_meet(1 + 7919, 1, 60)          # one object more, the same reset seed
    assert not clip_compare.draws_meet(1000, 1, 60) and not clip_compare.draws_meet(2000, 1000, 60)
    for draws in (["2"], ["1000", "1030"], ["1"]):      # refused before anything is rendered
        with pytest.raises(SystemExit):
            clip_compare.main([str(STUDIO_CHECKPOINT), "--draws", *draws])
        assert "could share scenes" in capsys.readouterr().err
    assert not clip_compare.draws_meet(1000, 1030, 6)      # --quick draws (6 episodes) this far apart do not meet


def test_a_checkpoint_against_its_copy_agrees_frame_for_frame(tmp_path):
    """The same model under two names, on one quick draw: identical figures and no frame that disagrees, which
    holds only if both are scored on the same frames and the same negatives."""
    copy = tmp_path / "copy.pt"
    shutil.copy(STUDIO_CHECKPOINT, copy)
    shutil.copy(STUDIO_CHECKPOINT.with_suffix(".json"), copy.with_suffix(".json"))
    out = tmp_path / "compare.json"
    headline = clip_compare.main(["--quick", "--draws", "1000", "--out", str(out), f"shipped={STUDIO_CHECKPOINT}",
                                  str(copy)])
    assert headline["copy_minus_reference"] == 0.0
    assert headline["copy_caption_top1"] == headline["shipped_caption_top1"] > 0.2     # above chance (5-way)
    assert headline["copy_spearman"] == headline["shipped_spearman"]
    details = json.loads(out.read_text())["details"]
    assert details["paired"]["copy"]["frames_disagreeing"] == 0 and details["paired"]["copy"]["frames"] > 50
    assert details["per_draw"]["copy"]["1000"]["by_negative_kind"] == details["per_draw"]["shipped"]["1000"][
        "by_negative_kind"]
    assert details["objects"]["copy"] == details["objects"]["shipped"]
    cylinder = details["objects"]["copy"]["purple_cylinder"]
    assert cylinder["target"] == "purple cylinder" and cylinder["n"] > 0 and cylinder["shape_n"] > 0   # not vacuous
    assert headline["copy_purple_cube_shape"] == headline["shipped_purple_cube_shape"]


def test_the_held_out_object_and_its_colours_seen_shape_are_pooled_over_draws():
    assert clip_compare.object_targets() == {"purple_cylinder": "purple cylinder", "purple_cube": "purple cube"}
    pooled = clip_compare.pool_objects([{"top1": 1.0, "n": 10, "shape": 0.5, "shape_n": 4},
                                        {"top1": 0.0, "n": 30, "shape": 1.0, "shape_n": 12}])
    assert pooled == {"top1": 0.25, "n": 40, "shape": 0.875, "shape_n": 16}
    assert clip_compare.pool_objects([]) == {"top1": None, "n": 0, "shape": None, "shape_n": 0}


def test_bad_checkpoints_are_refused_naming_them(tmp_path, capsys):
    with pytest.raises(SystemExit):
        clip_compare.main(["--quick", str(tmp_path / "missing.pt")])
    assert "missing.pt" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        clip_compare.main(["--quick", f"a={STUDIO_CHECKPOINT}", f"a={STUDIO_CHECKPOINT}"])
    assert "NAME=PATH" in capsys.readouterr().err
