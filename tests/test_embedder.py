"""ClipEmbedder (agents/vlm/embedder.py): the real offline loader, batched preprocessing, caching, errors.

Only the tiny studio model is used; the tests write their own checkpoint (no pretrained weights exist here).
"""

import time

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

import worlds
from agents.vlm.embedder import STUDIO_CHECKPOINT, ClipEmbedder, default_embedder
from agents.vlm.model_configs import STUDIO_CLIP, register

PROMPTS = ["a red cube on the green pad", "a red cube on a table", "a robot arm"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A random-weight studio-clip-tiny saved as a plain state_dict, plus the in-memory model it came from."""
    register()
    torch.manual_seed(1234)
    model = open_clip.create_model(STUDIO_CLIP)
    model.eval()
    path = tmp_path_factory.mktemp("clip") / "ckpt.pt"
    torch.save(model.state_dict(), path)
    return path, model


@pytest.fixture(scope="module")
def embedder(checkpoint):
    return ClipEmbedder(STUDIO_CLIP, pretrained=str(checkpoint[0]), device="cpu")


@pytest.fixture(scope="module")
def frames():
    """Rendered frames of the manipulation world at several sizes (what the embedder really sees)."""
    env = worlds.make("studio/Push-v0", render_mode=None)
    env.reset(seed=3)
    base = env.unwrapped
    shots = {"64x64": np.stack([base.render_camera("workspace", "reward") for _ in range(2)]),
             "96x128": base.render_camera("workspace", "reward", width=128, height=96)[None],
             "120x90": base.render_camera("front", "reward", width=90, height=120)[None],
             "240x240": base.render_camera("top", "reward", width=240, height=240)[None]}
    env.close()
    return shots


def test_checkpoint_round_trips_through_the_real_loader(checkpoint, embedder, frames):
    _, model = checkpoint
    loaded = embedder.model.state_dict()
    for key, value in model.state_dict().items():
        assert torch.equal(loaded[key], value), key
    # Same embeddings as the in-memory model fed through open_clip's own PIL transform.
    imgs = frames["64x64"]
    with torch.inference_mode():
        x = torch.stack([embedder.preprocess(Image.fromarray(f)) for f in imgs])
        ref_img = torch.nn.functional.normalize(model.encode_image(x), dim=-1).numpy()
        tokens = open_clip.get_tokenizer(STUDIO_CLIP)(PROMPTS)
        ref_txt = torch.nn.functional.normalize(model.encode_text(tokens), dim=-1).numpy()
    np.testing.assert_allclose(embedder.embed_images(imgs), ref_img, atol=1e-5)
    np.testing.assert_allclose(embedder.embed_texts(PROMPTS), ref_txt, atol=1e-5)


def test_properties(embedder, checkpoint):
    assert embedder.embed_dim == 128
    assert embedder.image_size == (96, 96)
    assert embedder.logit_scale == pytest.approx(float(checkpoint[1].logit_scale.detach().exp()))
    assert "studio-clip-tiny" in repr(embedder)


def test_batched_preprocessing_matches_open_clip_pil_transform(embedder, frames):
    worst = {}
    for size, imgs in frames.items():
        ours = embedder.preprocess_batch(imgs)
        theirs = torch.stack([embedder.preprocess(Image.fromarray(f)) for f in imgs])
        assert ours.shape == theirs.shape == (len(imgs), 3, 96, 96)
        worst[size] = float((ours - theirs).abs().max())
    # Also a worst case for resampling: pure noise, up- and down-scaled.
    noise = np.random.default_rng(0).integers(0, 256, size=(2, 63, 200, 3), dtype=np.uint8)
    ours = embedder.preprocess_batch(noise)
    theirs = torch.stack([embedder.preprocess(Image.fromarray(f)) for f in noise])
    worst["noise 63x200"] = float((ours - theirs).abs().max())
    print(f"\nmax |batched - PIL| after normalisation (1 grey level ~ 0.015): {worst}")
    assert max(worst.values()) < 0.05


def test_embeddings_are_normalised_float32_and_chunking_changes_nothing(checkpoint, embedder, frames):
    imgs = np.concatenate([frames["64x64"]] * 4)  # 8 frames
    small = ClipEmbedder(STUDIO_CLIP, pretrained=str(checkpoint[0]), batch_size=3, device="cpu")   # as `embedder`
    a, b = embedder.embed_images(imgs), small.embed_images(imgs)
    assert a.dtype == np.float32 and a.shape == (8, 128)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert embedder.embed_images(imgs[0]).shape == (1, 128)  # a single (H, W, 3) frame
    with pytest.raises(ValueError, match="uint8"):
        embedder.embed_images(imgs.astype(np.float32))


def test_text_embeddings_are_cached_per_prompt(embedder):
    first = embedder.embed_texts(PROMPTS)
    cached = dict(embedder._text_cache)
    again = embedder.embed_texts(list(reversed(PROMPTS)) + ["a new prompt"])
    np.testing.assert_array_equal(again[:3], first[::-1])
    assert all(embedder._text_cache[p] is cached[p] for p in PROMPTS)  # not re-encoded
    assert len(embedder._text_cache) == len(cached) + 1
    np.testing.assert_allclose(np.linalg.norm(again, axis=1), 1.0, atol=1e-5)


def test_half_precision_checkpoint_loads(tmp_path, checkpoint, frames):
    """agents.vlm.train_domain_clip ships its checkpoint as a float16 state_dict."""
    _, model = checkpoint
    path = tmp_path / "half.pt"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, path)
    half = ClipEmbedder(STUDIO_CLIP, pretrained=path, device="cpu")     # float32 compute: only the file is half
    assert half.model.visual.conv1.weight.dtype == torch.float32
    full = ClipEmbedder(STUDIO_CLIP, pretrained=str(checkpoint[0]), device="cpu")
    np.testing.assert_allclose(half.embed_images(frames["64x64"]), full.embed_images(frames["64x64"]), atol=5e-3)


def test_default_embedder_is_the_studio_clip():
    if STUDIO_CHECKPOINT.is_file():
        assert default_embedder().pretrained == str(STUDIO_CHECKPOINT)
    else:
        with pytest.warns(UserWarning, match="train_domain_clip"):
            assert default_embedder().name == STUDIO_CLIP


def test_unbatchable_resize_modes_fall_back_to_the_pil_transform(checkpoint, frames):
    e = ClipEmbedder(STUDIO_CLIP, pretrained=str(checkpoint[0]), device="cpu")   # the PIL transform's device
    e._resize_mode = "longest"  # as some open_clip models configure; not batched here
    imgs = frames["96x128"]
    expected = torch.stack([e.preprocess(Image.fromarray(f)) for f in imgs])
    assert torch.equal(e.preprocess_batch(imgs), expected)


def test_random_weights_when_pretrained_is_none():
    torch.manual_seed(0)
    a = ClipEmbedder(STUDIO_CLIP, pretrained=None).embed_texts(["x"])
    torch.manual_seed(0)
    b = ClipEmbedder(STUDIO_CLIP).embed_texts(["x"])
    np.testing.assert_array_equal(a, b)


def test_corrupt_checkpoint_names_the_file_and_the_model(tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"\x00garbage, not a torch file\xff" * 10)
    with pytest.raises(RuntimeError, match=r"could not load checkpoint .*broken\.pt.* 'studio-clip-tiny'"):
        ClipEmbedder(STUDIO_CLIP, pretrained=str(bad))


def test_mismatched_checkpoint_names_the_file_and_the_model(tmp_path, checkpoint):
    state = torch.load(checkpoint[0])
    state.pop("text_projection")
    state["visual.proj"] = torch.zeros(3, 3)
    path = tmp_path / "other_arch.pt"
    torch.save(state, path)
    with pytest.raises(RuntimeError, match=r"other_arch\.pt.*'studio-clip-tiny'.*state_dict of this architecture"):
        ClipEmbedder(STUDIO_CLIP, pretrained=str(path))


def test_missing_pretrained_tag_fails_fast_and_says_where_to_put_the_file(tmp_path):
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError) as err:
        ClipEmbedder("ViT-B-32", pretrained="laion2b_s34b_b79k", cache_dir=str(tmp_path))
    elapsed = time.perf_counter() - start
    message = str(err.value)
    assert elapsed < 10, elapsed
    assert "pretrained='/path/to/open_clip_pytorch_model.bin'" in message
    assert "laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in message
    assert str(tmp_path / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K") in message


def test_unknown_names_tags_and_paths(tmp_path):
    with pytest.raises(ValueError, match=r"unknown open_clip model 'ViT-B-99'; valid names include \[.*ViT-B"):
        ClipEmbedder("ViT-B-99")
    with pytest.raises(ValueError, match=r"neither a known tag .* \(tags: \[.*laion2b_s34b_b79k"):
        ClipEmbedder("ViT-B-32", pretrained="no_such_tag")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ClipEmbedder(STUDIO_CLIP, pretrained=str(tmp_path / "missing.pt"))
    with pytest.raises(FileNotFoundError, match="is a folder"):
        ClipEmbedder(STUDIO_CLIP, pretrained=str(tmp_path))
