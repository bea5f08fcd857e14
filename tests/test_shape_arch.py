"""bench.shape_arch: its grafted towers start where the shipped tower is, a bad choice is refused, and --every thins
the fit frames alone."""

import numpy as np
import pytest
import torch

from bench import shape_arch


def test_the_stem_candidate_starts_as_the_shipped_tower_and_its_branch_can_move_it():
    towers = shape_arch.candidates(["vit_shipped", "vit_stem"])
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        shipped, stem = towers["vit_shipped"].eval()(x), towers["vit_stem"].eval()(x)
        assert torch.equal(stem, shipped)
        towers["vit_stem"].conv1.branch[-1].weight.normal_()     # once trained, the branch adds to the tokens
        assert not torch.allclose(towers["vit_stem"](x), shipped)


def test_a_random_tower_starts_from_the_same_weights_whichever_others_are_built():
    alone = shape_arch.candidates(["cnn"])["cnn"]
    beside = shape_arch.candidates(["vit_stem", "vit_scratch", "cnn"])["cnn"]
    for a, b in zip(alone.parameters(), beside.parameters()):
        assert torch.equal(a, b)


def test_8px_patches_keep_the_class_token_a_flat_patchs_response_and_say_their_size():
    shipped = shape_arch.candidates(["vit_shipped"])["vit_shipped"]
    tower = shape_arch.candidates(["vit_patch8"])["vit_patch8"]
    assert tower.conv1.kernel_size == tower.conv1.stride == (8, 8)
    assert tower.patch_size == (8, 8) and tower.grid_size == (12, 12)
    assert tower.positional_embedding.shape[0] == 12 * 12 + 1
    assert torch.equal(tower.positional_embedding[0], shipped.positional_embedding[0])
    flat = torch.full((1, 3, 96, 96), 0.3)
    before, after = shipped.conv1(flat)[0].flatten(1), tower.conv1(flat)[0].flatten(1)
    # every token of a flat image: the resized kernel answers as the old one did, to within 5% of its scale
    assert (after - before[:, :1]).abs().max() < 0.05 * before.abs().max()
    with torch.no_grad():
        assert tower.eval()(torch.randn(2, 3, 96, 96)).shape == (2, 128)


@pytest.mark.parametrize("only,said", [("vit_tiny", "vit_tiny"), (",", "no candidate named")])
def test_an_unknown_or_empty_candidate_list_is_refused_naming_the_choices(only, said, capsys):
    with pytest.raises(SystemExit) as exit_info:
        shape_arch.main(["--quick", "--only", only])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert said in err and "vit_shipped" in err


@pytest.mark.parametrize("scenes", ["5", "5001"])
def test_fit_scenes_out_of_range_is_refused(scenes, capsys):
    with pytest.raises(SystemExit):
        shape_arch.main(["--fit-scenes", scenes])
    assert f"--fit-scenes {scenes}" in capsys.readouterr().err


@pytest.mark.parametrize("every", ["0", "201"])
def test_every_out_of_range_is_refused(every, capsys):
    with pytest.raises(SystemExit):
        shape_arch.main(["--every", every])
    assert f"--every {every}" in capsys.readouterr().err


def test_fit_every_thins_the_fit_frames_and_leaves_the_heldout_frames_alone():
    from agents.vlm.domain_eval import shape_sets

    fit6, held6 = shape_sets(2, 1)
    fit50, held50 = shape_sets(2, 1, fit_every=50)
    assert len(fit50) < len(fit6) / 3
    assert set(fit50.episode) == set(fit6.episode)          # the same scenes, fewer frames of each
    assert np.array_equal(held50.images, held6.images)
