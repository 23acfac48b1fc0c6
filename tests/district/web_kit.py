"""A console on a real store for the web tests: a district (``make_district``), events and
statuses ingested by the real :class:`Ingestor`, three users created by the accounts
service, and a Starlette TestClient logged in through the real login form.

``make_console(tmp_path)`` -> :class:`Console`; ``console.client(user)`` a logged-in client
with ``client.csrf`` set (``None``: anonymous). Users: ``admin`` (admin), ``dist``
(district), ``koi`` (commune 23335, station dak-koi-01); password :data:`PASSWORD`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mqtt_broker import DistrictKit, make_district
from starlette.testclient import TestClient

from district_collector.accounts import service as accounts
from district_collector.intake.ingest import Ingestor
from district_collector.store.opening import open_store
from district_collector.web.app import create_app
from radio_protocol.clock import SimulatedClock
from radio_protocol.messages.status import Status, build_status
from radio_protocol.names import STATUS_TYP
from radio_protocol.timefmt import parse_rfc3339

KOI = "dak-koi-01"
RUONG = "dak-ruong-01"
PASSWORD = "correct horse battery"
NOW = datetime(2024, 3, 6, 3, 0, tzinfo=UTC)
USERS = {"admin": ("admin", None), "dist": ("district", None), "koi": ("commune", "23335")}


def topic(station: str, kind: str) -> str:
    return f"cr/v1/kon-ray/station/{station}/{kind}"


def status_jws(kit: DistrictKit, station: str, state: str, at: str = "2024-03-05T07:00:00.000+07:00") -> bytes:
    return kit.stations[station].signer.sign(build_status(Status(
        station, state, parse_rfc3339(at), schedule_version=None, outbox_pending=0, last_seq=3,
        clock_synced=True)), STATUS_TYP)


@dataclass
class Console:
    kit: DistrictKit
    clock: SimulatedClock

    def client(self, user: str | None) -> TestClient:
        app = create_app(self.kit.district_config, clock=self.clock)
        client = TestClient(app, base_url="http://127.0.0.1")
        client.__enter__()
        client.csrf = ""  # type: ignore[attr-defined]
        if user is not None:
            client.csrf = login(client, user, PASSWORD)  # type: ignore[attr-defined]
        return client


def login(client: TestClient, name: str, password: str) -> str:
    """Log in through the form; the session's CSRF token (from the next page)."""
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    answer = client.post("/login", data={"csrf": token.group(1), "name": name, "password": password,
                                         "next": "/fleet"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    fleet = client.get("/fleet")
    assert fleet.status_code == 200, fleet.text
    csrf = re.search(r'data-csrf="([^"]+)"', fleet.text)
    assert csrf
    return csrf.group(1)


def add_users(kit: DistrictKit) -> None:
    """The users of :data:`USERS`, created by the accounts service."""
    with open_store(kit.config) as store:
        for name, (role, commune) in USERS.items():
            accounts.create_user(store, kit.config, name, role, commune, PASSWORD, "cli:test")


def make_console(root: Path, kit: DistrictKit | None = None, now: datetime = NOW) -> Console:
    """A console on ``kit`` (default: a new district with three of dak-koi-01's airings of
    2024-03-05 and its online status ingested) with the users of :data:`USERS`."""
    if kit is None:
        kit = make_district(root)
        with open_store(kit.config) as store:
            ingestor = Ingestor(kit.config, store)
            received = datetime(2024, 3, 5, 1, 0, tzinfo=UTC)
            ingestor.ingest([(topic(KOI, "event"), e, "mqtt") for e in kit.chain(KOI, 3)]
                            + [(topic(KOI, "status"), status_jws(kit, KOI, "online"), "mqtt")], received)
    add_users(kit)
    return Console(kit, SimulatedClock(now))
