"""Real parts for the alert tests: an aiosmtpd SMTP server and an HTTP webhook receiver on
loopback, a district config with an ``alerts:`` section, signed statuses and schedules.

:class:`SmtpServer` keeps every message it accepted; ``refuse = True`` makes it answer
``451`` to DATA (a relay that is down for a while). :class:`WebhookReceiver` checks the
HMAC of every POST against the secret and answers ``500`` while ``fail`` is set.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import http.server
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from mqtt_broker import DistrictKit, make_district
from store_backends import StoreBackend

from district_collector.admin.local_broker import free_port
from district_collector.config import load_district_config
from district_collector.intake.ingest import Ingestor
from district_collector.store.base import Store
from radio_protocol.jose import canonical_json, sha256_hex
from radio_protocol.messages.status import Status, build_status
from radio_protocol.names import SCHEDULE_TYP, STATUS_TYP

KOI = "dak-koi-01"
RUONG = "dak-ruong-01"
SECRET = "webhook-secret-for-tests"


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.server.refuse:
            self.server.refused += 1
            return "451 4.3.0 relay busy, try again later"
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        msg = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.server.messages.append(msg)
        return "250 OK"


@dataclass
class SmtpServer:
    port: int = 0
    refuse: bool = False
    refused: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.port = self.port or free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    def bodies(self) -> list[str]:
        return [m.get_content() for m in self.messages]  # type: ignore[attr-defined]


@dataclass
class WebhookReceiver:
    secret: bytes = SECRET.encode()
    fail: bool = False
    failures: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                want = "sha256=" + hmac.new(receiver.secret, body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(want, self.headers.get("X-Commune-Radio-Signature", "")):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                elif receiver.fail:
                    receiver.failures += 1
                    self.send_response(500)
                else:
                    receiver.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def alerts_district(root: Path, alerts: dict[str, Any], smtp: SmtpServer | None = None,
                    webhook: WebhookReceiver | None = None, backend: StoreBackend | None = None) -> DistrictKit:
    """:func:`make_district` with an ``alerts:`` section (channels pointing at ``smtp`` and
    ``webhook`` when given; the webhook secret in a 0600 file); its store on ``backend``
    (default SQLite)."""
    kit = make_district(root)
    data = yaml.safe_load(kit.district_config.read_text(encoding="utf-8"))
    section = dict(alerts)
    if smtp is not None:
        section["email"] = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "starttls": False,
                            "from": "canh-bao@kon-ray.example", "to": ["vhtt@kon-ray.example"]}
    if webhook is not None:
        secret = root / "district" / "webhook.secret"
        secret.write_text(SECRET + "\n", encoding="utf-8")
        secret.chmod(0o600)
        section["webhook"] = {"url": webhook.url, "secret_file": str(secret)}
    data["alerts"] = section
    kit.district_config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    kit.config = load_district_config(kit.district_config)
    if backend is not None:
        kit.config = backend.configure_file(kit.district_config)
    return kit


def status_jws(kit: DistrictKit, station: str, state: str, at: datetime, **members: Any) -> bytes:
    """A status signed by the station's own key."""
    return kit.stations[station].signer.sign(build_status(Status(station, state, at, **members)), STATUS_TYP)


def ingest(kit: DistrictKit, store: Store, at: datetime, *messages: tuple[str, bytes]) -> None:
    """Verify and store ``(kind, jws)`` pairs as live delivery does, received at ``at``;
    ``kind`` is ``event``/``status`` of the station named in the JWS payload."""
    ing = Ingestor(kit.config, store)
    batch = []
    for kind, jws in messages:
        station = json.loads(_payload(jws))["station"]
        batch.append((f"cr/v1/kon-ray/station/{station}/{kind}", jws, "mqtt"))
    ing.ingest(batch, at)


def _payload(jws: bytes) -> bytes:
    from district_collector.scoring.facts import payload_bytes

    return payload_bytes(jws)


def publish_schedule(kit: DistrictKit, store: Store, payload: dict[str, Any], at: datetime) -> None:
    """Store a schedule signed by the district as ``schedule publish`` does."""
    body = canonical_json(payload)
    store.add_schedule(payload["station"], payload["version"], kit.district_signer.sign(body, SCHEDULE_TYP),
                       sha256_hex(body), at)
