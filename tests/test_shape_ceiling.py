"""bench.shape_ceiling: its crops are cut where the object is, its network learns what the crops show (and
nothing where they show nothing), and a bad size is refused."""

import numpy as np
import pytest
import torch

from agents.vlm.domain_data import FrameSet
from bench import shape_ceiling


def _frames(images: np.ndarray, centres: list[tuple[float, float]]) -> FrameSet:
    n = len(images)
    return FrameSet(images, [None] * n, np.zeros(n, np.float32), np.arange(n), ["push"] * n, [()] * n,
                    objects=[((c, r, "red cube"),) for c, r in centres])


def test_a_crop_is_centred_on_the_objects_projected_pixel_and_repeats_the_edge_past_the_frame():
    image = np.zeros((96, 96, 3), np.uint8)
    image[48:52, 20:24] = 255                  # a 4 px white object whose centre is (column 22, row 50)
    image[:, 95] = (0, 0, 200)                 # a blue right-hand edge
    edge = image.copy()
    edge[10:14, 92:96] = 255                   # another object, half off the frame's right edge
    crops = shape_ceiling.crops(_frames(np.stack([image, edge]), [(22.0, 50.0), (95.5, 12.0)]), window=16, margin=2)
    assert crops.shape == (2, 3, 20, 20) and crops.dtype == torch.float32
    white = crops[0].min(0).values == 1.0      # pixels white in every channel
    rows, cols = torch.nonzero(white, as_tuple=True)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (8, 11, 8, 11)     # the middle 4 x 4 of 20
    assert crops[1, :, 8, 8].tolist() == [1.0, 1.0, 1.0]                          # the object at the centre
    assert torch.allclose(crops[1, 2, 15, 12:], torch.full((8,), 200 / 255))      # the frame's edge, repeated
    # A centre off the frame (an object carried out of view) is cut at the frame's nearest pixel, not refused.
    off = shape_ceiling.crops(_frames(edge[None], [(130.0, -40.0)]), window=16, margin=2)
    corner = shape_ceiling.crops(_frames(edge[None], [(95.0, 0.0)]), window=16, margin=2)
    assert off.shape == (1, 3, 20, 20) and torch.equal(off, corner)


def test_the_network_reads_what_the_crops_show_and_nothing_when_they_show_nothing():
    gen = np.random.default_rng(0)
    x = torch.from_numpy(gen.uniform(0, 0.5, (600, 3, 20, 20)).astype(np.float32))
    y = torch.from_numpy(gen.integers(0, 2, 600))
    marked = x.clone()
    marked[y == 1, :, 8:12, 8:12] = 1.0        # class 1: a bright square in the middle
    history, hits = shape_ceiling.fit(marked[:400], y[:400], marked[400:], y[400:], window=16, margin=2, epochs=20)
    assert history[-1]["heldout_acc"] > 0.95 and hits.dtype == torch.bool and len(hits) == 200
    blind, _ = shape_ceiling.fit(x[:400], y[:400], x[400:], y[400:], window=16, margin=2, epochs=20)
    assert blind[-1]["heldout_acc"] < 0.65     # noise alone: about a coin's toss on crops it never saw


@pytest.mark.parametrize("sizes", ["100", "96,abc", "", "432"])
def test_a_size_that_is_not_a_multiple_of_48_up_to_384_is_refused(sizes, capsys):
    with pytest.raises(SystemExit) as stop:
        shape_ceiling.main(["--quick", "--sizes", sizes])
    assert stop.value.code == 2 and "--sizes" in capsys.readouterr().err


def test_the_misses_picture_shows_each_missed_frame_beside_its_crop(tmp_path):
    from PIL import Image

    from agents.vlm.captions import Facts

    images = np.zeros((3, 96, 96, 3), np.uint8)
    images[:, 40:48, 40:48] = (255, 0, 0)
    frames = _frames(images, [(44.0, 44.0)] * 3)
    frames.facts = [Facts(obj="red cube", ref="blue pad", relation="far from", gripper="near")] * 3
    path = shape_ceiling.save_misses(frames, torch.tensor([True, False, False]), 16, tmp_path, 96)
    sheet = np.asarray(Image.open(path))
    assert path.name == "shape_misses_96.png" and sheet.shape == (96 + 14, 8 * (2 * 96 + 2), 3)
    # the two misses: each frame, then its crop scaled up (the red square fills the crop's middle half)
    for k in range(2):
        x = k * (2 * 96 + 2)
        assert tuple(sheet[44, x + 44]) == (255, 0, 0) and tuple(sheet[44, x + 96 + 2 + 48]) == (255, 0, 0)
        assert tuple(sheet[5, x + 96 + 2 + 5]) == (0, 0, 0)
    assert (sheet[:96, 2 * (2 * 96 + 2):] == 255).all()         # two misses, two tiles: the rest of the row is blank


def test_a_colour_left_out_of_the_fit_must_be_a_colour_of_the_scenes(capsys):
    with pytest.raises(SystemExit) as stop:
        shape_ceiling.main(["--quick", "--fit-without", "mauve"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "--fit-without 'mauve'" in err and "purple" in err


def test_accuracy_is_split_by_object_name():
    hits = torch.tensor([True, False, True, True])
    names = np.array(["purple cylinder", "purple cylinder", "red cube", "red cube"])
    assert shape_ceiling.accuracy_by_object(hits, names) == {"purple cylinder": {"acc": 0.5, "n": 2},
                                                             "red cube": {"acc": 1.0, "n": 2}}


@pytest.mark.parametrize("share", ["1", "-0.1", "nan"])
def test_a_kept_share_must_be_a_share_below_one(share, capsys):
    with pytest.raises(SystemExit) as stop:
        shape_ceiling.main(["--quick", "--fit-without", "purple", "--keep-share", share])
    assert stop.value.code == 2 and f"--keep-share {share}" in capsys.readouterr().err


def test_a_kept_share_without_a_colour_to_keep_it_of_is_refused(capsys):
    with pytest.raises(SystemExit) as stop:
        shape_ceiling.main(["--quick", "--keep-share", "0.1"])
    assert stop.value.code == 2 and "give --fit-without too" in capsys.readouterr().err
