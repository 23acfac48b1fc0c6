"""Loudness: real speech (espeak-ng) and tones (sox) at different levels, measured,
published as copies normalised to the target, and checked with the same library.

``schedule publish`` (the real CLI, ``--no-send``) measures each segment (ITU-R BS.1770-4,
pyloudnorm), writes a normalised copy into the media dir, publishes that copy and records
``loudness`` in the schedule's segment; ``media check`` prints the same numbers.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
import yaml
from mqtt_broker import DistrictKit, make_district
from scipy.signal import resample_poly

from district_collector.cli import main as district_main
from district_collector.store.opening import open_store
from radio_protocol.jose import file_sha256, parse_jws

pytestmark = pytest.mark.skipif(shutil.which("sox") is None or shutil.which("espeak-ng") is None,
                                reason="needs sox and espeak-ng (Makefile APT_PACKAGES)")
TARGET = -16.0


def make_sources(root: Path) -> dict[str, Path]:
    """Speech (espeak-ng, Vietnamese) and tones of very different levels (sox)."""
    root.mkdir(parents=True, exist_ok=True)
    files = {name: root / f"{name}.wav" for name in ("speech", "quiet", "loud", "stereo")}
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(files["speech"]),
                    "Thông báo khẩn cấp: bão số ba sắp đổ bộ, đề nghị bà con chằng chống nhà cửa."],
                   check=True, capture_output=True, timeout=60)
    sox = ["sox", "-q", "-n"]
    subprocess.run([*sox, "-r", "48000", "-c", "1", str(files["quiet"]), "synth", "3", "sine", "440",
                    "vol", "0.01"], check=True, timeout=60)
    subprocess.run([*sox, "-r", "44100", "-c", "1", str(files["loud"]), "synth", "3", "square", "300",
                    "vol", "0.9"], check=True, timeout=60)
    subprocess.run([*sox, "-r", "48000", "-c", "2", str(files["stereo"]), "synth", "3", "pinknoise",
                    "vol", "0.5"], check=True, timeout=60)
    return files


def pyloudnorm_lufs(path: Path) -> float:
    data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    return float(pyloudnorm.Meter(rate).integrated_loudness(data))


def true_peak(path: Path) -> float:
    """BS.1770-4 Annex 2, written out again here: 4x oversampled sample peak, dBTP."""
    data, _ = sf.read(str(path), dtype="float64", always_2d=True)
    return 20 * math.log10(float(np.max(np.abs(resample_poly(data, 4, 1, axis=0)))))


def district(tmp_path: Path, target: float | None = TARGET) -> DistrictKit:
    kit = make_district(tmp_path / "district")
    data = yaml.safe_load(kit.district_config.read_text(encoding="utf-8"))
    data["media"] = {"base_url": "http://127.0.0.1:9/media", "dir": str(tmp_path / "media-dir"),
                     "loudness_target_lufs": target}
    kit.district_config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return kit


def catalogue(root: Path, files: dict[str, Path]) -> Path:
    lines = ["month: 2026-10", "stations: [dak-koi-01]", "segments:"]
    for name, path in files.items():
        lines += [f"  - {{id: seg-{name}, title: Tiết mục {name}, program: chuyen-doi-so, topic: policy, "
                  f"priority: normal, media: {path}}}"]
    lines.append("slots:")
    lines += [f'  - {{segment: seg-{name}, dates: [2026-10-05], at: "{6 + i:02d}:00"}}'
              for i, name in enumerate(files)]
    path = root / "catalogue.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def published_segments(kit: DistrictKit) -> dict[str, dict]:
    with open_store(kit.config, read_only=True) as store:
        latest = store.latest_schedule("dak-koi-01")
    assert latest is not None
    return {s["id"]: s for s in json.loads(parse_jws(latest[1])[2])["segments"]}


def test_publish_normalises_every_segment_to_the_target(tmp_path: Path) -> None:
    files = make_sources(tmp_path / "office")
    kit = district(tmp_path)
    before = {name: pyloudnorm_lufs(path) for name, path in files.items()}
    assert max(before.values()) - min(before.values()) > 30  # really different levels
    assert district_main(["-c", str(kit.district_config), "schedule", "publish",
                          str(catalogue(tmp_path / "office", files)), "--no-send"]) == 0
    segments = published_segments(kit)
    for name, source in files.items():
        seg = segments[f"seg-{name}"]
        copy = tmp_path / "media-dir" / seg["media"]["url"].rsplit("/", 1)[1]
        assert copy.suffix == ".flac" and copy.stem == seg["media"]["sha256"] == file_sha256(copy)
        assert seg["media"]["bytes"] == copy.stat().st_size
        assert seg["media"]["duration_s"] == pytest.approx(sf.info(str(source)).duration, abs=0.01)
        assert pyloudnorm_lufs(copy) == pytest.approx(TARGET, abs=0.5), name
        assert true_peak(copy) <= -1.0 + 0.01, name
        loud = seg["loudness"]
        assert loud["target_lufs"] == TARGET
        assert loud["measured_lufs"] == pytest.approx(before[name], abs=0.01)
        assert loud["true_peak_dbtp"] == pytest.approx(true_peak(copy), abs=0.05)
    # the loud square wave and the speech needed the limiter: their sources peak above -1 dBTP
    assert true_peak(files["loud"]) > -1.0 and true_peak(files["speech"]) > -1.0


def test_publish_without_target_keeps_the_source(tmp_path: Path) -> None:
    files = make_sources(tmp_path / "office")
    kit = district(tmp_path, target=None)
    assert district_main(["-c", str(kit.district_config), "schedule", "publish",
                          str(catalogue(tmp_path / "office", {"quiet": files["quiet"]})), "--no-send"]) == 0
    seg = published_segments(kit)["seg-quiet"]
    assert seg["media"]["sha256"] == file_sha256(files["quiet"])
    assert seg["loudness"]["target_lufs"] is None
    assert seg["loudness"]["measured_lufs"] == pytest.approx(pyloudnorm_lufs(files["quiet"]), abs=0.01)


def test_media_check_reports_values_verdicts_and_errors(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    files = make_sources(tmp_path / "office")
    kit = district(tmp_path)
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(48000 * 2), 48000)
    short = tmp_path / "short.wav"
    sf.write(str(short), 0.3 * np.sin(np.arange(4000) / 10), 48000)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really")
    argv = ["-c", str(kit.district_config), "media", "check"]
    assert district_main([*argv, *(str(p) for p in files.values()), "--format", "json"]) == 0
    rows = {Path(r["file"]).stem: r for r in json.loads(capsys.readouterr().out)["files"]}
    for name, path in files.items():
        assert rows[name]["integrated_lufs"] == pytest.approx(pyloudnorm_lufs(path), abs=0.01)
        assert rows[name]["true_peak_dbtp"] == pytest.approx(true_peak(path), abs=0.01)
        info = sf.info(str(path))
        assert (rows[name]["sample_rate"], rows[name]["channels"]) == (info.samplerate, info.channels)
        assert rows[name]["duration_s"] == pytest.approx(info.duration, abs=0.001)
        assert rows[name]["error"] is None
    assert rows["quiet"]["verdict"] == ["too-quiet"]
    assert rows["loud"]["verdict"] == ["too-loud", "clipping-risk"]

    assert district_main([*argv, str(files["quiet"]), str(silent), str(short), str(broken)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("target: -16.0 LUFS")
    (quiet,) = [ln for ln in lines if ln.startswith(str(files["quiet"]))]
    assert f"{pyloudnorm_lufs(files['quiet']):.1f}" in quiet and "too-quiet" in quiet
    assert any(ln.startswith(str(silent)) and "silent" in ln for ln in lines)
    assert any(ln.startswith(str(short)) and "too short" in ln for ln in lines)
    assert any(ln.startswith(str(broken)) and "not a readable audio file" in ln for ln in lines)
