"""Growing the studio CLIP's vision tower keeps what it computes, and refuses what it cannot do."""

from __future__ import annotations

import open_clip
import pytest
import torch

from agents.vlm.model_configs import register
from agents.vlm.model_growth import grow_vision_blocks, vision_layers


def _trained_like(name: str, seed: int = 0):
    """A model with random (non-zero) weights everywhere, so a grown copy can only match by construction."""
    register()
    torch.manual_seed(seed)
    model = open_clip.create_model(name).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return model


def test_grown_model_embeds_images_exactly_as_the_original():
    tiny = _trained_like("studio-clip-tiny")
    small = open_clip.create_model("studio-clip-small").eval()
    grown = grow_vision_blocks(tiny.state_dict(), 6)
    assert vision_layers(tiny.state_dict()) == 3 and vision_layers(grown) == 6
    small.load_state_dict(grown)        # strict: every key of the 6-layer model is there, and no other
    x = torch.randn(5, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(small.encode_image(x), tiny.encode_image(x), atol=1e-5, rtol=1e-5)
        tokens = open_clip.get_tokenizer("studio-clip-tiny")(["the red cube is on the blue pad"])
        torch.testing.assert_close(small.encode_text(tokens), tiny.encode_text(tokens))


def test_new_blocks_start_silent_and_old_blocks_keep_their_order():
    tiny = _trained_like("studio-clip-tiny", seed=1).state_dict()
    grown = grow_vision_blocks(tiny, 6)
    key = "visual.transformer.resblocks.{}.attn.in_proj_weight"
    # old blocks 0, 1, 2 land in slots 0, 2, 4; slots 1, 3, 5 are silent copies of the block before them
    for old, slot in ((0, 0), (1, 2), (2, 4)):
        assert torch.equal(grown[key.format(slot)], tiny[key.format(old)])
    for slot in (1, 3, 5):
        for part in ("attn.out_proj.weight", "attn.out_proj.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"):
            assert not grown[f"visual.transformer.resblocks.{slot}.{part}"].any()
        assert torch.equal(grown[key.format(slot)], grown[key.format(slot - 1)])
    assert grown[key.format(0)] is not tiny[key.format(0)]     # copies: training one never edits the other


def test_growth_refuses_to_shrink_or_a_model_without_a_vit():
    tiny = _trained_like("studio-clip-tiny").state_dict()
    with pytest.raises(ValueError, match="cannot grow 3 vision blocks into 2"):
        grow_vision_blocks(tiny, 2)
    with pytest.raises(ValueError, match="no open_clip vision transformer"):
        grow_vision_blocks({"text_projection": torch.zeros(2, 2)}, 6)


def test_the_trainer_grows_a_tiny_checkpoint_into_small_and_the_sidecar_names_it(tmp_path, monkeypatch):
    """``train(init=<tiny>, model_name="studio-clip-small")`` starts from the tiny model's function, and what it
    writes loads back as studio-clip-small through the sidecar, as the studio's default embedder loads it."""
    from agents.vlm import train_domain_clip as T
    from agents.vlm.embedder import ClipEmbedder
    from agents.vlm.model_configs import checkpoint_model

    init = tmp_path / "tiny.pt"
    torch.save(_trained_like("studio-clip-tiny").state_dict(), init)
    assert checkpoint_model(init) == "studio-clip-tiny"        # no sidecar: the old default
    monkeypatch.setattr(T, "evaluate", lambda *a, **k: {})      # the metrics are bench.domain_clip's job
    logs = []
    meta = T.train(episodes=2, epochs=1, eval_episodes=1, poses_per_class=2, lr=0.0, out=tmp_path / "small.pt",
                   init=init, model_name="studio-clip-small", log=logs.append)
    assert meta["model"] == "studio-clip-small" and any("from 3 to 6 blocks" in line for line in logs)
    assert checkpoint_model(tmp_path / "small.pt") == "studio-clip-small"
    grown = ClipEmbedder(checkpoint_model(tmp_path / "small.pt"), pretrained=str(tmp_path / "small.pt"), device="cpu")
    tiny = ClipEmbedder("studio-clip-tiny", pretrained=str(init), device="cpu")
    frames = torch.randint(0, 255, (4, 96, 96, 3), dtype=torch.uint8).numpy()
    # lr 0: the weights only went through float16 on the way to disk
    assert abs(grown.embed_images(frames) - tiny.embed_images(frames)).max() < 2e-2


def test_a_sidecar_naming_an_unknown_model_is_refused_by_name(tmp_path):
    from agents.vlm.model_configs import checkpoint_model

    (tmp_path / "c.pt").write_bytes(b"")
    (tmp_path / "c.json").write_text('{"model": "studio-clip-huge"}')
    with pytest.raises(ValueError, match=r"c\.json names model 'studio-clip-huge'.*studio-clip-small"):
        checkpoint_model(tmp_path / "c.pt")
    (tmp_path / "c.json").write_text("not json")
    with pytest.raises(ValueError, match=r"c\.json is not a training sidecar"):
        checkpoint_model(tmp_path / "c.pt")


def test_the_trainer_refuses_an_unknown_model_before_rendering(capsys):
    from agents.vlm.train_domain_clip import main

    with pytest.raises(SystemExit):
        main(["--model", "ViT-Huge", "--quick"])
    assert "--model 'ViT-Huge' is not a studio model" in capsys.readouterr().err
