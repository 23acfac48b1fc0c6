"""A station for benchmarks: config, keys, a signed schedule with its media, the real daemon.

:class:`BenchStation` lays out what ``radio-station run`` needs in a fresh directory:
``station.yaml`` (mock GPIO, the given audio device, optional MQTT section), the station
key, a schedule signed by a district key (offered to the daemon's own
:class:`~firmware_daemon.schedule.store.ScheduleStore` before the daemon starts, as the
link would) and the media in the daemon's :class:`~firmware_daemon.schedule.media_cache.MediaCache`.
:meth:`BenchStation.start` runs the real CLI in a subprocess; :meth:`events` reads the
outbox (read-only SQLite) to see what it recorded.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import PYTHON, bench_env
from firmware_daemon.schedule.media_cache import MediaCache
from firmware_daemon.schedule.store import ScheduleStore
from radio_protocol.clock import SystemClock
from radio_protocol.jose import KeyRing, Signer, load_or_create_private_key, parse_jws, public_jwk
from radio_protocol.names import SCHEDULE_TYP
from radio_protocol.timefmt import format_rfc3339

DISTRICT = "kon-ray"
STATION = "dak-koi-01"
COMMUNE = "23335"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class BenchStation:
    root: Path
    audio_device: str = "testout"
    warmup_s: float = 0.3
    tail_s: float = 0.1
    mqtt: dict[str, Any] | None = None
    station_id: str = STATION
    commune: str = COMMUNE
    district_signer: Signer = field(default_factory=lambda: Signer(Ed25519PrivateKey.generate()))
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.data_dir = self.root / "data"
        self.config_path = self.root / "station.yaml"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key, _ = load_or_create_private_key(self.data_dir / "station.key")
        self.jwk = public_jwk(key.public_key())
        self.write_config()

    def write_config(self) -> None:
        cfg: dict[str, Any] = {
            "station": {"id": self.station_id, "district": DISTRICT, "commune": self.commune},
            "timezone": "Asia/Ho_Chi_Minh",
            "data_dir": str(self.data_dir),
            "amplifier": {"pin": 17, "warmup_s": self.warmup_s, "tail_s": self.tail_s},
            "gpio": {"pin_factory": "mock"},
            "audio": {"device": self.audio_device, "latency": "high", "margin_s": 10},
            "district_keys": [self._district_public()],
            "require_synced_clock": False,  # these machines report an unsynchronized clock
            "schedule": {"grace_s": 600},
        }
        if self.mqtt is not None:
            cfg["mqtt"] = self.mqtt
        self.config_path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False),
                                    encoding="utf-8")

    def _district_public(self) -> dict[str, str]:
        return dict(self.district_signer.public_jwk)

    def schedule(self, media: dict[str, Path], slots: list[tuple[datetime, str]], version: int = 1,
                 valid_days: int = 31) -> bytes:
        """Sign a schedule of ``slots`` ((at, segment id)) and offer it to the daemon's store;
        put the media into the daemon's cache. Call before :meth:`start`."""
        import soundfile as sf

        cache = MediaCache(self.data_dir / "media")
        segments = []
        for seg_id, path in media.items():
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            dest = cache.path_for(sha)
            if not dest.exists():
                shutil.copyfile(path, dest)
            segments.append({"id": seg_id, "title": "Chuyển đổi số là gì?", "program": "chuyen-doi-so",
                             "topic": "policy", "priority": "normal",
                             "media": {"sha256": sha, "url": f"http://127.0.0.1:1/media/{sha}",
                                       "bytes": len(data), "duration_s": round(sf.info(str(path)).duration, 3)}})
        now_at = SystemClock().now()
        first = min((at for at, _ in slots), default=now_at).astimezone(TZ).date()
        payload = {
            "v": 1, "type": "schedule", "district": DISTRICT, "station": self.station_id,
            "version": version, "issued_at": format_rfc3339(now_at.astimezone(TZ)),
            "valid_from": min(first, now_at.astimezone(TZ).date()).isoformat(),
            "valid_until": (now_at.astimezone(TZ).date() + timedelta(days=valid_days)).isoformat(),
            "timezone": "Asia/Ho_Chi_Minh", "segments": segments,
            "slots": [{"segment": seg, "at": format_rfc3339(at.astimezone(TZ))} for at, seg in slots],
        }
        raw = self.district_signer.sign(payload, SCHEDULE_TYP)
        store = ScheduleStore(self.data_dir / "schedule", district=DISTRICT, station=self.station_id,
                              keys=KeyRing.from_jwks([self._district_public()]))
        try:
            result = store.offer(raw, now_at)
            if not result.accepted:
                raise RuntimeError(f"bench schedule refused: {result}")
        finally:
            store.close()
        return raw

    def command(self, *args: str) -> list[str]:
        return [PYTHON, "-m", "firmware_daemon.cli", "-c", str(self.config_path), *args]

    def start(self, **env: str) -> subprocess.Popen[bytes]:
        log = (self.root / "daemon.log").open("ab")
        self.proc = subprocess.Popen(self.command("run"), env=bench_env(**env), stdout=log, stderr=log)
        return self.proc

    def stop(self) -> int | None:
        from bench.common import stop_process

        if self.proc is None:
            return None
        stop_process(self.proc, 30)
        return self.proc.returncode

    def events(self) -> list[dict[str, Any]]:
        """The payloads in the outbox, in seq order (read-only; the daemon may be running)."""
        path = self.data_dir / "outbox.sqlite"
        if not path.exists():
            return []
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            rows = db.execute("SELECT jws FROM events ORDER BY seq").fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            db.close()
        return [json.loads(parse_jws(bytes(r[0]))[2]) for r in rows]

    def pending(self) -> int:
        path = self.data_dir / "outbox.sqlite"
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return int(db.execute("SELECT count(*) FROM events WHERE acked_at IS NULL").fetchone()[0])
        finally:
            db.close()
