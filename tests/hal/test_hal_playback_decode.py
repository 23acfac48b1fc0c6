"""MP3 on an int16 stream: decoded as float32 and converted by ``int16_from_float``
(cheaper than libsndfile's conversion); the samples written must stay exactly those
libsndfile gives when asked for int16, clipped overs included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hal.audio import PortAudioOutput
from hal.audio.playback import int16_from_float


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, 0),
        (0.5, 16384),
        (-1.0, -32768),
        (1.0, 32767),  # clipped: 32768 does not fit
        (1.37, 32767),
        (-1.37, -32768),
        (0.5 / 32768, 0),  # halves round to even, as lrintf does
        (1.5 / 32768, 2),
        (-2.5 / 32768, -2),
    ],
)
def test_int16_from_float_scales_clips_and_rounds_like_libsndfile(
    value: float, expected: int
) -> None:
    out = int16_from_float(np.array([[value]], dtype=np.float32))
    assert out.dtype == np.int16
    assert int(out[0, 0]) == expected


def test_playback_mp3_with_overs_is_sample_exact_on_int16_stream(
    tmp_path: Path, capture_file: Path
) -> None:
    rate = 48000
    t = np.arange(rate * 2) / rate
    square = np.sign(np.sin(2 * np.pi * 300 * t))  # full scale: MP3 rings past 1.0
    media = tmp_path / "square.mp3"
    sf.write(str(media), np.stack([square, -square], axis=1), rate, subtype="MPEG_LAYER_III")
    with sf.SoundFile(str(media)) as f:
        assert np.abs(f.read(dtype="float32")).max() > 1.0  # the clipping is exercised

    result = PortAudioOutput("testout", blocksize=1000).play(media)

    expected = sf.read(str(media), dtype="int16", always_2d=True)[0]
    captured = np.fromfile(capture_file, dtype=np.int16).reshape(-1, 2)
    assert np.array_equal(captured[: expected.shape[0]], expected)
    assert not captured[expected.shape[0] :].any()
    assert result.peak_dbfs == 0.0
