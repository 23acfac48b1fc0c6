"""A silent media file aired by the real station CLI (``radio-station play``: real PortAudio
into the ALSA file plugin, levels metered from the samples sent) becomes a ``dead-air``
alert once its event reaches the district; a tone does not."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from alerts_kit import KOI, alerts_district
from cli_testkit import event_lines, make_tone, run, write_config

from district_collector.alerts.engine import evaluate
from district_collector.intake.ingest import Ingestor
from district_collector.store.opening import open_store


def test_silent_media_aired_by_the_station_raises_dead_air(tmp_path: Path, capture_file: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    kit = alerts_district(tmp_path / "district", {"dead_air": {"silent_s": 2, "rms_dbfs": -60}})
    (tmp_path / "station").mkdir()
    station = write_config(tmp_path / "station")
    data = tmp_path / "station" / "data"
    data.mkdir(mode=0o700)
    shutil.copyfile(kit.stations[KOI].key_path, data / "station.key")
    os.chmod(data / "station.key", 0o600)
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(16000 * 3, dtype=np.float32), 16000, subtype="PCM_16")
    tone = make_tone(tmp_path / "tone.wav", seconds=3.0)
    for media in (silence, tone):
        assert run(station, "play", str(media), "--title", "Chuyển đổi số", "--program", "chuyen-doi-so") == 0
    lines = event_lines(station, capsys)
    assert len(lines) == 2
    now = datetime.now(UTC)
    with open_store(kit.config) as store:
        Ingestor(kit.config, store).ingest([(None, line, "import") for line in lines], now)
        opened = evaluate(store, kit.config, now + timedelta(seconds=1)).opened
    airing_alerts = [a for a in opened if a.station is not None]  # (this week may also be at risk)
    assert [(a.kind, a.station, a.occurrence) for a in airing_alerts] == [("dead-air", KOI, "1")]  # not the tone
    assert opened[0].detail["silent_s"] >= 2.9 and opened[0].detail["rms_dbfs"] <= -60
