"""bench.shape_levers' image helpers: the averaging and the object-centred crops it compares."""

import numpy as np

from bench.shape_levers import downsample, object_crops


def test_downsampling_averages_each_block():
    image = np.zeros((1, 4, 4, 3), np.uint8)
    image[0, :2, :2] = [200, 100, 0]
    image[0, 0, 2] = 40                      # one pixel of four lit in the next block
    out = downsample(image, 2)
    assert out.shape == (1, 2, 2, 3)
    np.testing.assert_array_equal(out[0, 0, 0], [200, 100, 0])
    np.testing.assert_array_equal(out[0, 0, 1], [10, 10, 10])
    assert not out[0, 1].any()


def test_a_crop_is_centred_on_the_object_kept_inside_the_frame_and_blown_up():
    images = np.zeros((2, 192, 192, 3), np.uint8)
    images[0, 100, 60] = 255                 # the object of frame 0, at column 60, row 100
    images[1, 2, 190] = 255                  # frame 1's sits in a corner
    objects = [((60.5, 100.5, "red cube"),), ((190.5, 2.5, "red cube"),)]
    crops = object_crops(images, objects, 1.0, 96, 1)
    assert crops.shape == (2, 96, 96, 3)
    rows, cols = np.nonzero(crops[0, ..., 0])
    assert (rows[0], cols[0]) == (48, 48)    # the centre of the window
    rows, cols = np.nonzero(crops[1, ..., 0])
    assert (rows[0], cols[0]) == (2, 94)     # the window stops at the frame's edge: the object is off-centre
    half = object_crops(downsample(images, 2), objects, 0.5, 48, 2)
    assert half.shape == (2, 96, 96, 3)
    rows, cols = np.nonzero(half[0, ..., 0])
    assert set(rows) == {48, 49} and set(cols) == {48, 49}    # one 96 px pixel, two by two after the blow-up
