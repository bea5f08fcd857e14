"""bench.domain_clip's caption draw and fit check: the longer draw keeps the old one as its prefix, the interval
resamples episodes, and the fit check re-renders the round the checkpoint's sidecar names."""

from __future__ import annotations

import json
import zlib

from worlds import gl  # noqa: F401

import numpy as np
import pytest

from agents.vlm import train_domain_clip as T
from agents.vlm.captions import HELDOUT_TEMPLATES
from agents.vlm.domain_data import manipulation_frames
from agents.vlm.domain_eval import caption_retrieval, episode_interval, progress_spearman, scripted_frames
from agents.vlm.embedder import STUDIO_CHECKPOINT
from bench import clip_compare, domain_clip


class HashEmbedder:
    """Fixed embeddings with no model: texts by a hash of the string, images by a fixed random projection, so
    which caption wins depends on the exact texts and frames drawn."""

    def __init__(self):
        self.projection = None

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        x = images.reshape(len(images), -1)[:, ::97].astype(np.float32)
        if self.projection is None:
            self.projection = np.random.default_rng(0).normal(size=(x.shape[1], 16)).astype(np.float32)
        e = (x - x.mean(1, keepdims=True)) @ self.projection
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    @staticmethod
    def embed_texts(texts: list[str]) -> np.ndarray:
        e = np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=16) for t in texts])
        return e / np.linalg.norm(e, axis=1, keepdims=True)


def test_the_interval_brackets_the_mean_and_widens_when_frames_cluster():
    hits = np.array([1.0] * 70 + [0.0] * 30)
    assert episode_interval(np.ones(100), np.arange(100)) == [1.0, 1.0]
    low, high = episode_interval(hits, np.arange(100))
    assert low < 0.7 < high
    low5, high5 = episode_interval(hits, np.arange(100) // 20)       # 5 episodes of 20 frames that agree
    assert high5 - low5 > 2 * (high - low)


def test_a_longer_draw_keeps_the_shorter_one_frame_for_frame_and_negative_for_negative():
    """``caption_top1_heldout_60`` is read off the first 60 episodes of the 240: the frames and the negatives
    drawn for them must be those the 60-episode draw had."""
    emb = HashEmbedder()
    short, long = (manipulation_frames(n, 1, heldout=True, every=12) for n in (2, 4))
    first = long.episode < 2
    assert first.sum() == len(short) and np.array_equal(long.images[first], short.images)
    assert [f for f, keep in zip(long.facts, first) if keep] == short.facts
    a = caption_retrieval(emb.embed_images, emb.embed_texts, short, HELDOUT_TEMPLATES, seed=1, keep_hits=True)
    b = caption_retrieval(emb.embed_images, emb.embed_texts, long, HELDOUT_TEMPLATES, seed=1, keep_hits=True)
    assert list(np.asarray(b["hits"])[first]) == list(a["hits"])


def test_the_spearman_draw_keeps_the_old_rollouts_as_its_first_episodes():
    """``spearman_progress_36`` is read off the first 36 rollouts of the 144: they must be the 36-rollout draw's
    frames, progress and facts, so its Spearman is the old figure."""
    emb = HashEmbedder()
    short, long = (scripted_frames("push", n, 1) for n in (2, 3))
    first = long.subset(long.episode < 2)
    assert np.array_equal(first.images, short.images) and np.array_equal(first.progress, short.progress)
    assert first.facts == short.facts
    a, b = (progress_spearman(emb.embed_images, emb.embed_texts, 2, 1, tasks=("push",), frames_by_task={"push": f})
            for f in (short, first))
    assert a["push"] == b["push"]
    assert not np.array_equal(long.images[long.episode == 2], short.images[short.episode == 1])


def test_the_draws_of_the_benches_share_no_scene(capsys):
    width = max(domain_clip.FIT_EPISODES, clip_compare.DEFAULT_EPISODES)
    # The Spearman's rollouts are seeded as the caption draw's episodes, from its seed: within its scenes' range.
    assert domain_clip.SPEARMAN_EPISODES <= domain_clip.CAPTION_EPISODES
    assert not clip_compare.draws_meet(domain_clip.FIT_DRAW, domain_clip.CAPTION_DRAW, domain_clip.CAPTION_EPISODES)
    for draw in clip_compare.DEFAULT_DRAWS:
        assert not clip_compare.draws_meet(draw, domain_clip.CAPTION_DRAW, domain_clip.CAPTION_EPISODES)
        assert not clip_compare.draws_meet(domain_clip.FIT_DRAW, draw, width)
    with pytest.raises(SystemExit):       # bench.clip_compare refuses a draw inside the fit check's
        clip_compare.main([str(STUDIO_CHECKPOINT), "--draws", str(domain_clip.FIT_DRAW + 10)])
    assert "could share scenes with draw 5000" in capsys.readouterr().err


def test_the_fit_check_renders_the_round_the_trainer_rendered(tmp_path):
    assert T.first_chunk_seed(250000, 2) == 250000 + 2000 * 100_003        # round 2's first chunk, as always
    jobs = T._round_jobs(episodes=10, seed=250000, every=6, poses_per_class=0, round_index=2, wander=0.5,
                         policies=(), policy_episodes=0, occlude=0.8)
    assert jobs[0][0] is T.render_chunk and jobs[0][1][1] == T.first_chunk_seed(250000, 2)
    # The trainer's chunk has 250 episodes; the fit check renders its first few: the same frames (one stream).
    short, long = T.render_chunk(2, 250000, 12, 0.5, 0.8), T.render_chunk(3, 250000, 12, 0.5, 0.8)
    assert np.array_equal(long.images[long.episode < 2], short.images)
    ckpt = tmp_path / "c.pt"
    ckpt.write_bytes(b"")
    assert domain_clip.fit_check(HashEmbedder(), ckpt, 2) is None             # no sidecar: nothing to re-render
    config = {"seed": 250000, "rounds": 3, "every": 12, "wander": 0.5, "occlude": 0.8, "episodes": 3000}
    ckpt.with_suffix(".json").write_text(json.dumps({"config": {k: v for k, v in config.items() if k != "rounds"}}))
    assert domain_clip.fit_check(HashEmbedder(), ckpt, 2) is None             # a sidecar without its rounds
    ckpt.with_suffix(".json").write_text(json.dumps({"config": {**config, "objects": 1}}))
    fit = domain_clip.fit_check(HashEmbedder(), ckpt, 2)
    assert fit["round_seed"] == T.first_chunk_seed(250000, 2)
    assert fit["recipe"] == {"every": 12, "wander": 0.5, "occlude": 0.8, "objects": 1}
    assert fit["episodes"] == 2 and 1 <= fit["fresh_episodes"] <= 2
    for name in ("own_round", "fresh_same_recipe"):
        assert 0 <= fit[name]["top1"] <= 1 and fit[name]["n"] > 0
        assert fit[name]["ci95"][0] <= fit[name]["top1"] <= fit[name]["ci95"][1]
    ckpt.with_suffix(".json").write_text(json.dumps({"config": {**config, "episodes": 1}}))
    assert domain_clip.fit_check(HashEmbedder(), ckpt, 2)["episodes"] == 1   # never more than the round had
