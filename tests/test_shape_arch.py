"""bench.shape_arch's grafted towers: they start where the shipped tower is, and a bad choice is refused."""

import pytest
import torch

from bench import shape_arch


def test_the_stem_branch_starts_as_the_patch_embedding_it_wraps():
    patch = torch.nn.Conv2d(3, 8, 12, stride=12)
    grafted = shape_arch.StemBranch(patch, 8)
    x = torch.randn(2, 3, 96, 96)
    assert torch.equal(grafted(x), patch(x))
    grafted.branch[-1].weight.data.normal_()          # once trained, the branch adds to the patch tokens
    assert not torch.allclose(grafted(x), patch(x))


def test_smaller_patches_keep_the_grid_the_embedding_and_a_flat_patchs_response():
    tower = shape_arch.candidates()["vit_shipped"]
    flat = torch.full((1, 3, 96, 96), 0.3)
    before = tower.conv1(flat)[0, :, 0, 0]
    smaller = shape_arch.with_patch(tower, 8)
    assert smaller.positional_embedding.shape[0] == 12 * 12 + 1
    after = smaller.conv1(flat)[0, :, 0, 0]
    assert torch.allclose(after, before, rtol=0.1, atol=0.05 * before.abs().max().item())
    with torch.no_grad():
        assert smaller.eval()(torch.randn(2, 3, 96, 96)).shape == (2, 128)


def test_an_unknown_candidate_is_refused_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_info:
        shape_arch.main(["--quick", "--only", "vit_tiny"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "vit_tiny" in err and "vit_shipped" in err
