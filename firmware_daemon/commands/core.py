"""Core station commands: ``check``, ``keygen``, ``play``, ``amp-off``, ``events``.

``amp-off`` reads only amplifier.pin, amplifier.active_high and gpio.pin_factory and
never imports the audio layer, so it works when the rest of the config or the audio
library is broken (systemd runs it after the service stops). ``play`` commits the signed event before it reports success.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from firmware_daemon.airing.airer import Airer
from firmware_daemon.airing.outbox import Outbox
from firmware_daemon.airing.outbox_recovery import open_station_outbox, outbox_problems
from firmware_daemon.airing.start_recovery import recover_at_start
from firmware_daemon.config import StationConfig, load_amp_config, load_station_config
from firmware_daemon.hardware import StationHardware
from firmware_daemon.service.instance_lock import instance_lock
from firmware_daemon.service.storage import StorageGuard, free_space_problem
from radio_protocol import PRIORITIES
from radio_protocol.cli_base import Subcommands, print_problems, require_config
from radio_protocol.clock import SystemClock
from radio_protocol.credentials import login_file_problems
from radio_protocol.errors import CommuneRadioError, ConfigError
from radio_protocol.jose import (
    Signer,
    file_sha256,
    jwk_thumbprint,
    load_or_create_private_key,
    load_private_key,
)
from radio_protocol.messages.event import Segment

log = logging.getLogger(__name__)

PROG = "radio-station"
DEFAULT_PROGRAM = "general"  # a manual test airing must not count by accident
SCORED_PROGRAM = "chuyen-doi-so"  # docs/scoring.md: only this programme's airings count
SLUG = r"[a-z0-9][a-z0-9-]{0,63}"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def register(sub: Subcommands) -> None:
    check = sub.add_parser(
        "check", help="validate the config, the key file, the broker login files and the sound card",
        description="Validate everything run would hit at startup without airing or changing anything: "
                    "every config key, the station key (if present), mqtt.password_file, mqtt.tls.ca "
                    "and that audio.device names an output device PortAudio can see. Prints OK, or every "
                    "problem found and exits 1.")
    check.set_defaults(func=cmd_check)

    keygen = sub.add_parser(
        "keygen", help="create the station key if absent; print its public JWK",
        description="Create data_dir/station.key (Ed25519, mode 0600, directory 0700) if it does not "
                    "exist, and print its public JWK with its kid (RFC 7638 thumbprint) for the "
                    "district's registry. An existing key is kept, never replaced.")
    keygen.set_defaults(func=cmd_keygen)

    play = sub.add_parser(
        "play", help="air FILE now and record a signed event",
        description="Air FILE now: open the file and the sound card, amp on, warm-up, play, "
                    "tail, amp off; then commit the signed event. Exit 0 completed, 1 not "
                    "aired, 128+N stopped by signal N (the airing is recorded as interrupted).")
    play.add_argument("file", metavar="FILE", help="audio file (WAV, FLAC, OGG, MP3)")
    play.add_argument("--title", help="segment title (default: the file name)")
    play.add_argument("--program", default=DEFAULT_PROGRAM,
                      help=f"programme slug (default {DEFAULT_PROGRAM}). Only "
                           f"--program {SCORED_PROGRAM} (the digital-transformation programme) "
                           "counts for the district's broadcast-frequency score")
    play.add_argument("--topic", help="topic slug, e.g. policy")
    play.add_argument("--segment-id", help="segment id (default: manual-<file name>)")
    play.add_argument("--priority", default="normal", choices=PRIORITIES,
                      help="airing priority (default normal)")
    play.set_defaults(func=cmd_play)

    amp_off = sub.add_parser(
        "amp-off", help="force the amplifier off",
        description="Drive the amplifier relay pin to off. Reads only amplifier.pin, "
                    "amplifier.active_high and gpio.pin_factory, so it works with the rest of the "
                    "config broken; systemd runs it before the service starts and after it stops.")
    amp_off.set_defaults(func=cmd_amp_off)

    events = sub.add_parser(
        "events", help="print the outbox as JSON Lines (one JWS per line)",
        description="Print the signed events in the outbox, oldest first, as JSON Lines: one flattened "
                    "JWS per line, the exact bytes signed (for 'radio-district import' by USB). Works "
                    "while the service runs.")
    events.add_argument("--since", type=int, default=0, metavar="SEQ",
                        help="only events after SEQ (default 0: all)")
    events.set_defaults(func=cmd_events)


# --- check and keygen ----------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    """Print OK, or every problem found (config, key file), and exit 1."""
    path = require_config(args, PROG)
    problems: list[str] = []
    config: StationConfig | None = None
    try:
        config = load_station_config(path)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if config is not None and config.key_path.exists():
        try:
            load_private_key(config.key_path)
        except CommuneRadioError as exc:
            problems.append(str(exc))
    if config is not None:
        problems.extend(_link_problems(config))
        problems.extend(_audio_device_problems(config))
        problems.extend(_storage_problems(config))
    if problems:
        return print_problems(path, problems)
    assert config is not None
    key_note = "key present" if config.key_path.exists() else "no key yet (run keygen)"
    provisioned = Path(path).parent / "station.key"
    if not config.key_path.exists() and provisioned.exists():
        key_note = (f"no key yet: install the provisioned {provisioned} as {config.key_path} (0600); "
                    "keygen would make a key the district does not know")
    print(f"OK: {path} (station {config.station.district}/{config.station.id}, {key_note})")
    return 0


def _link_problems(config: StationConfig) -> list[str]:
    """What ``run`` would refuse at startup in the ``mqtt`` section: the password file and
    the CA file, all reported (``run``'s ``settings_from_config`` stops at the first)."""
    m = config.mqtt
    if m is None:
        return []
    return login_file_problems(m.password_file, m.tls.ca if m.tls is not None else None,
                               str(config.source))


def _audio_device_problems(config: StationConfig) -> list[str]:
    """Whether ``audio.device`` names an output PortAudio sees now, as ``play`` and ``run``
    would open it: an unknown card is found here, before any airing records it as failed."""
    from hal.audio import PortAudioOutput

    try:
        PortAudioOutput(config.audio.device, latency=config.audio.latency).resolve_device()
    except CommuneRadioError as exc:
        return [f"{config.source}: audio.device: {exc}"]
    return []


def _storage_problems(config: StationConfig) -> list[str]:
    """What would cost evidence in ``data_dir``: a damaged, lost or replaced outbox
    (``PRAGMA quick_check`` and its marker) and a disk without room to record."""
    problems = outbox_problems(config.outbox_path)
    low = free_space_problem(config.data_dir)
    if low is not None:
        problems.append(f"{low}: airings cannot be recorded; free some space")
    return problems


def cmd_keygen(args: argparse.Namespace) -> int:
    """Create ``data_dir/station.key`` (0600, dir 0700) if absent; print the public JWK."""
    config = load_station_config(require_config(args, PROG))
    key, created = load_or_create_private_key(config.key_path)
    signer = Signer(key)
    jwk = dict(signer.public_jwk)
    jwk["kid"] = jwk_thumbprint(signer.public_jwk)
    print(json.dumps(jwk, separators=(",", ":")))
    what = "created" if created else "exists, kept"
    print(f"{PROG}: key {what}: {config.key_path} kid={jwk['kid']}", file=sys.stderr)
    return 0


# --- play ----------------------------------------------------------------------------


@contextmanager
def _stop_on_signals(stop: threading.Event, received: list[int]) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop`` (instead of killing us) while inside the block."""

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        log.warning("signal received signal=%s: stopping the airing", signal.Signals(signum).name)
        stop.set()

    saved = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


def _file_sha256(path: Path) -> str | None:
    """The media file's SHA-256 for the event, None when it cannot be read (the airing
    then fails with media-missing and says so)."""
    try:
        return file_sha256(path)
    except OSError:
        return None


def _manual_segment(args: argparse.Namespace, media: Path) -> Segment:
    for name in ("program", "topic", "segment_id"):
        value = getattr(args, name)
        if value is not None and not re.fullmatch(SLUG, value):
            raise ConfigError([f"--{name.replace('_', '-')}: {value!r} is not a slug "
                               f"(lower-case letters, digits, '-')"])
    stem = re.sub(r"[^a-z0-9]+", "-", media.stem.lower()).strip("-")[:56] or "file"
    return Segment(
        id=args.segment_id or f"manual-{stem}",
        title=args.title or media.name,
        program=args.program,
        topic=args.topic,
        sha256=_file_sha256(media),
        priority=args.priority,
    )


def cmd_play(args: argparse.Namespace) -> int:
    """Air FILE now; 0 when completed, 1 when failed, 128+signal when stopped by a signal."""
    config = load_station_config(require_config(args, PROG))
    media = Path(args.file)
    segment = _manual_segment(args, media)
    signer = Signer(load_private_key(config.key_path))
    with instance_lock(config.data_dir):  # a running service owns the amp and the outbox
        return _play_locked(config, segment, media, signer)


def _play_locked(config: StationConfig, segment: Segment, media: Path, signer: Signer) -> int:
    stop = threading.Event()
    received: list[int] = []
    clock = SystemClock()
    storage = StorageGuard(config.data_dir)
    storage.look()
    outbox, loss = open_station_outbox(config.outbox_path, signer, clock, on_full=storage.on_full)
    with StationHardware.open(config) as hardware, outbox, _stop_on_signals(stop, received):
        recover_at_start(outbox, loss, config, clock)  # what a crash or a lost outbox left
        airer = Airer(hardware.amplifier, hardware.audio, outbox, clock, config)
        payload = airer.air(segment, media, stop=stop, stop_reason="shutdown")
    # the event is committed: now report
    summary = (f"{payload['outcome']} seq={payload['seq']} segment={segment.id} "
               f"played_s={payload['played_s']}")
    if payload["outcome"] == "completed":
        print(f"aired: {summary}")
        if segment.program != SCORED_PROGRAM:
            print(f"note: programme {segment.program!r} does not count for the "
                  f"digital-transformation score (use --program {SCORED_PROGRAM})",
                  file=sys.stderr)
        return 0
    print(f"not aired: {summary} reason={payload['reason']}", file=sys.stderr)
    return 128 + received[0] if received else 1


# --- amp-off and events --------------------------------------------------------------


def cmd_amp_off(args: argparse.Namespace) -> int:
    """Force the amplifier pin off using only amplifier.pin, amplifier.active_high and
    gpio.pin_factory (anything else in the file may be broken)."""
    amp_config = load_amp_config(require_config(args, PROG))
    from hal.amplifier import force_off

    amp = amp_config.amplifier
    force_off(amp.pin, amp.active_high, amp_config.gpio.pin_factory)
    print(f"amplifier off (pin {amp.pin}, active_high={str(amp.active_high).lower()})")
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    """Write each stored JWS, byte for byte, one per line."""
    config = load_station_config(require_config(args, PROG))
    if not config.outbox_path.exists():
        log.info("no outbox yet path=%s", config.outbox_path)
        return 0
    out = sys.stdout.buffer
    with Outbox(config.outbox_path) as outbox:
        for jws in outbox.events(args.since):
            out.write(jws + b"\n")
    out.flush()
    return 0
