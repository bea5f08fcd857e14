"""Frames to MP4 bytes with imageio-ffmpeg (H.264, yuv420p: plays in every browser)."""

from __future__ import annotations

import io
from typing import Sequence

import imageio.v3 as iio
import numpy as np


def encode_mp4(frames: Sequence[np.ndarray], fps: int) -> bytes:
    """Encode uint8 HxWx3 frames (even sizes) to an MP4 held in memory."""
    if len(frames) == 0:
        raise ValueError("no frames to encode; render at least one frame")
    buffer = io.BytesIO()
    iio.imwrite(buffer, np.stack(frames), extension=".mp4", plugin="FFMPEG", fps=fps,
                codec="libx264", pixelformat="yuv420p", macro_block_size=8)
    return buffer.getvalue()
