"""``python -m bench.profile WHAT``: where the time goes, with cProfile (stdlib, no py-spy).

- ``playback``: ``PortAudioOutput('testout').play`` of the benchmark's 60 s WAV and MP3 (ALSA
  file device to /dev/null), in this process.
- ``report``: ``radio-district report --format json`` over the benchmark's cached store
  (run ``python -m bench.run --only report`` first), in this process.
- ``ingest``: the collector's :class:`~district_collector.intake.ingest.Ingestor` over 5,000 signed
  events into a fresh store, in this process (no broker: verify + check + commit only).

Prints the top functions by cumulative and by own time. ``--workdir`` as for bench.run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import REPO


def _print(prof: cProfile.Profile, limit: int) -> None:
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats(key).print_stats(limit)
        text = out.getvalue()
        print(text[text.find("   ncalls"):] if "   ncalls" in text else text)


def _show(fn: Callable[[], object], limit: int) -> None:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    _print(prof, limit)


def profile_playback(workdir: Path, limit: int) -> None:
    os.environ["ALSA_CONFIG_PATH"] = f"/usr/share/alsa/alsa.conf:{REPO / 'tests' / 'asound-test.conf'}"
    os.environ["AUDIO_CAPTURE_FILE"] = "/dev/null"
    from bench.playback import make_media
    from hal.audio import PortAudioOutput
    from hal.audio import playback as playback_module

    media = make_media(workdir / "media", 60, print)
    out = PortAudioOutput("testout")
    # the samples are decoded, metered and written in the playback worker thread:
    # profile that thread's run (cProfile sees one thread only)
    original = playback_module.Playback.run
    for kind in ("wav", "mp3"):
        prof = cProfile.Profile()

        def run(self: Any, prof: cProfile.Profile = prof) -> None:
            prof.runcall(original, self)

        playback_module.Playback.run = run  # type: ignore[method-assign]
        try:
            out.play(media[kind], margin_s=30.0)
        finally:
            playback_module.Playback.run = original  # type: ignore[method-assign]
        print(f"### the playback thread of play() of a 60 s 48 kHz stereo {kind.upper()}")
        _print(prof, limit)


def profile_report(workdir: Path, limit: int) -> None:
    from bench.report import PERIOD
    from district_collector.cli import main as district_main

    stores = sorted(workdir.glob("report-*/store.done"))
    if not stores:
        sys.exit("no cached report store: run python -m bench.run --only report first")
    for done in stores:
        config = done.parent / "district.yaml"
        print(f"### report --format json over {done.parent.name} ({done.read_text()} events)")
        sink = io.StringIO()

        def report(config: Path = config, sink: io.StringIO = sink) -> None:
            saved = sys.stdout
            sys.stdout = sink
            try:
                district_main(["-c", str(config), "report", "--format", "json", "--from", PERIOD[0],
                               "--to", PERIOD[1]])
            finally:
                sys.stdout = saved

        _show(report, limit)


def profile_ingest(workdir: Path, limit: int) -> None:
    from bench.district import make_district
    from bench.ingest import _started_at
    from district_collector.config import load_district_config
    from district_collector.intake.ingest import Ingestor
    from district_collector.store.sqlite import SqliteStore

    district = make_district(Path(tempfile.mkdtemp(dir=workdir)), 10)
    config = load_district_config(district.config_path)
    messages = []
    for sid, st in district.stations.items():
        for jws in st.chain(500, _started_at):
            messages.append((f"cr/v1/kon-ray/station/{sid}/event", jws, "mqtt"))
    store = SqliteStore(config.database)
    ingestor = Ingestor(config, store)

    def ingest() -> None:
        for i in range(0, len(messages), 500):  # the service's max_batch
            ingestor.ingest(messages[i:i + 500], datetime.now(UTC))

    print(f"### Ingestor.ingest of {len(messages)} events in batches of 500")
    _show(ingest, limit)
    store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("playback", "report", "ingest"))
    parser.add_argument("--limit", type=int, default=25)
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "commune-radio-bench"))
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    {"playback": profile_playback, "report": profile_report,
     "ingest": profile_ingest}[args.what](workdir, args.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
