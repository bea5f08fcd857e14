"""The CLIP model setting: one string picks the model of a run's CLIP terms (studio CLIP by default)."""

import json

import numpy as np
import open_clip
import pytest
import torch

from agents.vlm.clip_setting import CLIP_MODEL_ENV, freeze_clip_model, parse_clip_model, resolve_clip_model
from agents.vlm.embedder import STUDIO_CHECKPOINT, embedder_for
from agents.vlm.model_configs import register
from studio.session import Session
from studio.spec import SpecError, parse_run_config


@pytest.fixture(autouse=True)
def no_env_setting(monkeypatch):
    monkeypatch.delenv(CLIP_MODEL_ENV, raising=False)


def test_the_forms_parse():
    assert parse_clip_model("studio") == parse_clip_model("") == ("studio", None)
    assert parse_clip_model("studio:/tmp/x.pt") == ("studio", "/tmp/x.pt")
    assert parse_clip_model("ViT-B-32:laion2b_s34b_b79k") == ("ViT-B-32", "laion2b_s34b_b79k")
    assert parse_clip_model(" studio-clip-small:/a/b.pt ") == ("studio-clip-small", "/a/b.pt")


@pytest.mark.parametrize("setting, says", [
    ("ViT-B-32", "names no weights: write 'NAME:TAG'"),       # bare name: random weights, refused
    ("ViT-Q-99:x", "unknown open_clip model 'ViT-Q-99'"),
    ("studio:", "needs a checkpoint path after the colon"),
])
def test_bad_settings_name_the_value_and_the_fix(setting, says):
    with pytest.raises(ValueError, match=says) as err:
        parse_clip_model(setting)
    assert repr(setting) in str(err.value)


def test_the_environment_sets_the_default_and_a_bad_one_says_where_it_came_from(monkeypatch):
    assert resolve_clip_model(None) == "studio"
    monkeypatch.setenv(CLIP_MODEL_ENV, "ViT-B-32:laion2b_s34b_b79k")
    assert resolve_clip_model(None) == "ViT-B-32:laion2b_s34b_b79k"
    assert resolve_clip_model("studio") == "studio"               # an explicit setting wins
    monkeypatch.setenv(CLIP_MODEL_ENV, "ViT-B-32")
    with pytest.raises(ValueError, match=r"\$STUDIO_CLIP_MODEL"):
        resolve_clip_model(None)


def test_a_run_config_refuses_a_bad_setting_by_field():
    data = {"world_id": "studio/Reach-v0", "reward": {"terms": [{"kind": "world", "key": "reach"}]}}
    assert parse_run_config(data).clip_model is None
    assert parse_run_config({**data, "clip_model": "studio"}).clip_model == "studio"
    with pytest.raises(SpecError) as err:
        parse_run_config({**data, "clip_model": "ViT-B-32"})
    assert "clip_model" in err.value.fields


def test_a_bad_environment_setting_stops_a_run_before_it_starts(monkeypatch, tmp_path):
    monkeypatch.setenv(CLIP_MODEL_ENV, "nonsense")
    data = {"world_id": "studio/Reach-v0", "reward": {"terms": [{"kind": "world", "key": "reach"}]}}
    with pytest.raises(SpecError, match=r"'nonsense'.*\$STUDIO_CLIP_MODEL"):
        Session.start(data, tmp_path)
    assert not any(tmp_path.iterdir())                             # no run folder, no worker


def test_settings_load_through_the_real_loader(tmp_path):
    """'NAME:/path' loads an open_clip architecture from a file; 'studio:/path' reads the architecture from the
    checkpoint's sidecar; 'studio' is the shipped model."""
    register()
    torch.manual_seed(7)
    model = open_clip.create_model("studio-clip-small")
    path = tmp_path / "mine.pt"
    torch.save(model.state_dict(), path)
    frames = np.random.default_rng(0).integers(0, 255, (3, 96, 96, 3), dtype=np.uint8)
    by_name = embedder_for(f"studio-clip-small:{path}", "cpu")
    (tmp_path / "mine.json").write_text(json.dumps({"model": "studio-clip-small"}))
    by_sidecar = embedder_for(f"studio:{path}", "cpu")
    assert by_name.model_name == by_sidecar.model_name == "studio-clip-small"
    assert np.allclose(by_name.embed_images(frames), by_sidecar.embed_images(frames), atol=1e-6)
    if STUDIO_CHECKPOINT.is_file():
        shipped = embedder_for("studio", "cpu")
        assert shipped.pretrained == str(STUDIO_CHECKPOINT)
        assert not np.allclose(shipped.embed_images(frames)[:, :8], by_name.embed_images(frames)[:, :8], atol=1e-3)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        embedder_for(f"studio:{tmp_path / 'missing.pt'}", "cpu")


def test_a_run_without_a_setting_used_the_studio_clip_whatever_the_environment_says(monkeypatch):
    """Runs made before the setting existed recorded none: they trained with the studio CLIP."""
    monkeypatch.setenv(CLIP_MODEL_ENV, "ViT-B-32:laion2b_s34b_b79k")
    data = {"world_id": "studio/Reach-v0", "reward": {"terms": [{"kind": "world", "key": "reach"}]}}
    assert parse_run_config(data).clip_setting == "studio"
    assert parse_run_config({**data, "clip_model": "studio:/x.pt"}).clip_setting == "studio:/x.pt"


def test_a_new_run_records_an_absolute_checked_path_and_the_environment_default(monkeypatch, tmp_path):
    ckpt = tmp_path / "mine.pt"
    ckpt.write_bytes(b"not loaded here")
    monkeypatch.chdir(tmp_path)
    assert freeze_clip_model("studio:mine.pt") == f"studio:{ckpt}"             # the worker runs elsewhere
    assert freeze_clip_model("studio-clip-small:./mine.pt") == f"studio-clip-small:{ckpt}"
    assert freeze_clip_model("ViT-B-32:laion2b_s34b_b79k") == "ViT-B-32:laion2b_s34b_b79k"   # a tag stays
    with pytest.raises(ValueError, match="missing.pt is not a file"):
        freeze_clip_model("studio:missing.pt")
    monkeypatch.setenv(CLIP_MODEL_ENV, "studio:mine.pt")
    assert freeze_clip_model(None) == f"studio:{ckpt}"
    assert freeze_clip_model("studio") == "studio"


def test_hub_names_are_whole_model_names():
    assert parse_clip_model("hf-hub:timm/ViT-B-16-SigLIP") == ("hf-hub:timm/ViT-B-16-SigLIP", None)


def test_blank_is_not_set():
    data = {"world_id": "studio/Reach-v0", "reward": {"terms": [{"kind": "world", "key": "reach"}]}}
    assert parse_run_config({**data, "clip_model": "  "}).clip_model is None
