"""The alert engine on real stores (SQLite and PostgreSQL) filled by real ingest, at injected times:
station health (offline, short drops, flapping, forged statuses), airings (failed, dead
air, missed, inferred from the published schedule), identity across restarts, quiet hours,
reminders and acknowledgement, the digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alerts_kit import KOI, RUONG, alerts_district, ingest, publish_schedule, status_jws
from mqtt_broker import DistrictKit
from schedule_testkit import payload as schedule_payload
from store_backends import StoreBackend

from district_collector.alerts.api import acknowledge, alert_history, open_alerts
from district_collector.alerts.engine import AlertEngine, evaluate
from district_collector.store.opening import open_store
from radio_protocol.messages.event import Level
from radio_protocol.timefmt import parse_rfc3339

T0 = datetime(2024, 3, 5, 1, 0, tzinfo=UTC)  # 08:00 in Hanoi, Tuesday of ISO week 2024-W10


def _kit(tmp_path: Path, backend: StoreBackend, **alerts: object) -> DistrictKit:
    section = {"offline_after_s": 300, "remind_after_s": None, "webhook": None}
    section.update(alerts)
    section = {k: v for k, v in section.items() if v is not None}
    return alerts_district(tmp_path, section, backend=backend)


def _kinds(store: object) -> list[tuple[str, str]]:
    return sorted((a.kind, a.subject) for a in open_alerts(store))  # type: ignore[arg-type]


def test_engine_station_offline_opens_after_offline_after_s_and_resolves_on_return(tmp_path: Path,
                                                                                   store_backend: StoreBackend) -> None:
    kit = _kit(tmp_path, store_backend)
    with open_store(kit.config) as store:
        ingest(kit, store, T0, ("status", status_jws(kit, KOI, "online", T0)))
        assert not evaluate(store, kit.config, T0 + timedelta(seconds=30)).opened
        down = T0 + timedelta(minutes=10)
        ingest(kit, store, down, ("status", status_jws(kit, KOI, "offline", down)))
        assert not evaluate(store, kit.config, down + timedelta(seconds=299)).opened
        opened = evaluate(store, kit.config, down + timedelta(seconds=300)).opened
        assert [(a.kind, a.station, a.commune) for a in opened] == [("station-offline", KOI, "23335")]
        assert opened[0].detail["commune_name"] == "Xã Đăk Kôi"
        assert not evaluate(store, kit.config, down + timedelta(seconds=400)).opened  # never twice
        back = down + timedelta(minutes=20)
        ingest(kit, store, back, ("status", status_jws(kit, KOI, "online", back)))
        resolved = evaluate(store, kit.config, back + timedelta(seconds=1)).resolved
        assert [a.id for a in resolved] == [opened[0].id]
        assert resolved[0].resolved_at is not None and open_alerts(store) == []


def test_engine_drop_shorter_than_offline_after_s_pages_nobody(tmp_path: Path, store_backend: StoreBackend) -> None:
    kit = _kit(tmp_path, store_backend, offline_after_s=60)
    with open_store(kit.config) as store:
        ingest(kit, store, T0, ("status", status_jws(kit, KOI, "online", T0)))
        evaluate(store, kit.config, T0)
        ingest(kit, store, T0 + timedelta(seconds=5), ("status", status_jws(kit, KOI, "offline", T0)))
        evaluate(store, kit.config, T0 + timedelta(seconds=30))
        ingest(kit, store, T0 + timedelta(seconds=50), ("status", status_jws(kit, KOI, "online", T0)))
        evaluate(store, kit.config, T0 + timedelta(seconds=90))
        assert alert_history(store, None) == []


def test_engine_ten_flaps_in_an_hour_raise_one_flapping_alert(tmp_path: Path, store_backend: StoreBackend) -> None:
    kit = _kit(tmp_path, store_backend)
    engine = AlertEngine(kit.config)
    with open_store(kit.config) as store:
        at = T0
        ingest(kit, store, at, ("status", status_jws(kit, KOI, "online", at)))
        engine.evaluate(store, at)
        for _ in range(10):
            at += timedelta(seconds=100)
            ingest(kit, store, at, ("status", status_jws(kit, KOI, "offline", at)))
            engine.evaluate(store, at + timedelta(seconds=20))
            at += timedelta(seconds=40)
            ingest(kit, store, at, ("status", status_jws(kit, KOI, "online", at)))
            engine.evaluate(store, at + timedelta(seconds=20))
        history = alert_history(store, None)
        assert [(a.kind, a.station) for a in history] == [("station-flapping", KOI)]
        assert history[0].detail["returns"] == 10
        # an hour of calm (heartbeats only) clears it
        calm = at + timedelta(hours=1, minutes=1)
        ingest(kit, store, calm, ("status", status_jws(kit, KOI, "online", calm)))
        engine.evaluate(store, calm)
        assert open_alerts(store) == []


def test_engine_forged_status_neither_raises_nor_clears_but_is_an_evidence_problem(tmp_path: Path,
                                                                                   store_backend: StoreBackend) -> None:
    kit = _kit(tmp_path, store_backend)
    with open_store(kit.config) as store:
        ingest(kit, store, T0, ("status", status_jws(kit, KOI, "offline", T0)))
        assert _kinds_after(store, kit, T0 + timedelta(seconds=301)) == [("station-offline", KOI)]
        # a status for KOI signed by RUONG's key: quarantined, so KOI stays offline
        forged = kit.stations[RUONG].signer.sign(_status_payload(KOI), "cr-status+json")
        ingest(kit, store, T0 + timedelta(seconds=400), ("status", forged))
        assert _kinds_after(store, kit, T0 + timedelta(seconds=401)) == [("evidence-problem", KOI),
                                                                         ("station-offline", KOI)]
        evidence = next(a for a in open_alerts(store) if a.kind == "evidence-problem")
        assert "forged_at" in evidence.detail


def _status_payload(station: str) -> bytes:
    from radio_protocol.jose import canonical_json
    from radio_protocol.messages.status import Status, build_status

    return canonical_json(build_status(Status(station, "online", T0)))


def _kinds_after(store: object, kit: DistrictKit, at: datetime) -> list[tuple[str, str]]:
    evaluate(store, kit.config, at)  # type: ignore[arg-type]
    return _kinds(store)


def test_engine_airings_failed_dead_air_missed_then_a_good_airing_resolves_them(tmp_path: Path,
                                                                                store_backend: StoreBackend) -> None:
    kit = _kit(tmp_path, store_backend)
    with open_store(kit.config) as store:
        e1, p1 = kit.event(KOI, 1, None, outcome="failed", reason="audio-device", started_at=None, played_s=0.0)
        e2, p2 = kit.event(KOI, 2, p1, level=Level(-70.0, -60.0, 290.0))  # completed, but silence
        e3, p3 = kit.event(KOI, 3, p2, outcome="missed", reason="station-down", started_at=None, played_s=0.0)
        ingest(kit, store, T0, ("event", e1), ("event", e2), ("event", e3))
        result = evaluate(store, kit.config, T0 + timedelta(seconds=5))
        got = {a.kind: a for a in result.opened}
        assert sorted(got) == ["airing-failed", "dead-air", "slot-missed"]
        assert got["airing-failed"].detail["reason"] == "audio-device"
        assert got["dead-air"].detail["silent_s"] == 290.0
        assert got["slot-missed"].occurrence == "2024-03-04T23:33:00.000+00:00"  # 06:33 Hanoi, in UTC
        assert not evaluate(store, kit.config, T0 + timedelta(seconds=10)).opened
        e4, _ = kit.event(KOI, 4, p3)
        ingest(kit, store, T0 + timedelta(seconds=20), ("event", e4))
        resolved = evaluate(store, kit.config, T0 + timedelta(seconds=25)).resolved
        assert sorted(a.kind for a in resolved) == ["airing-failed", "dead-air", "slot-missed"]
        assert {a.detail["resolution"] for a in resolved} == {"aired-since"}


def test_engine_slot_missed_inferred_from_the_schedule_when_no_event_came(tmp_path: Path,
                                                                          store_backend: StoreBackend) -> None:
    kit = _kit(tmp_path, store_backend, slot_grace_s=600)
    with open_store(kit.config) as store:
        publish_schedule(kit, store, schedule_payload(slots=[{"segment": "cds-a", "at": "2024-03-05T17:00:00+07:00"}]),
                         T0)
        ingest(kit, store, T0, ("status", status_jws(kit, KOI, "online", T0, schedule_version=1)))
        slot = parse_rfc3339("2024-03-05T17:00:00+07:00")
        evaluate(store, kit.config, T0)
        for minutes in (0, 5, 9):
            ingest(kit, store, slot + timedelta(minutes=minutes),
                   ("status", status_jws(kit, KOI, "online", slot + timedelta(minutes=minutes), schedule_version=1)))
            assert not evaluate(store, kit.config, slot + timedelta(minutes=minutes)).opened
        opened = evaluate(store, kit.config, slot + timedelta(minutes=10)).opened
        assert [(a.kind, a.detail["source"], a.detail["segment"]) for a in opened] == [
            ("slot-missed", "inferred", "cds-a")]
        # the station's own event for that slot, late: the inferred miss clears
        event, _ = kit.event(KOI, 1, None, slot_at=slot, started_at=slot + timedelta(minutes=12))
        ingest(kit, store, slot + timedelta(minutes=13), ("event", event))
        resolved = evaluate(store, kit.config, slot + timedelta(minutes=14)).resolved
        assert [a.kind for a in resolved] == ["slot-missed"]


def test_engine_restart_sends_nothing_twice(tmp_path: Path, store_backend: StoreBackend) -> None:
    kit = _kit(tmp_path, store_backend, webhook=None)
    with open_store(kit.config) as store:
        ingest(kit, store, T0, ("status", status_jws(kit, KOI, "offline", T0)))
        assert len(evaluate(store, kit.config, T0 + timedelta(seconds=301)).opened) == 1
    with open_store(kit.config) as store:  # a new process: a new engine, the same store
        result = evaluate(store, kit.config, T0 + timedelta(seconds=400))
        assert not result.opened and not result.resolved
        assert len(alert_history(store, None)) == 1


@pytest.mark.parametrize(("local_hour", "held"), [(23, True), (12, False)])
def test_engine_quiet_hours_hold_non_urgent_until_morning(tmp_path: Path,
                                                          store_backend: StoreBackend, local_hour: int, held: bool) -> None:
    kit = _kit(tmp_path, store_backend, quiet_hours={"from": "22:00", "to": "05:30"}, email={
        "smtp_host": "127.0.0.1", "smtp_port": 1, "starttls": False, "from": "a@b.example", "to": ["c@d.example"]})
    at = datetime(2024, 3, 5, local_hour - 7, 0, tzinfo=UTC)
    with open_store(kit.config) as store:
        ingest(kit, store, at, ("status", status_jws(kit, KOI, "online", at, clock_synced=False)),
               ("status", status_jws(kit, RUONG, "offline", at - timedelta(hours=1))))
        evaluate(store, kit.config, at + timedelta(seconds=301))
        notes = {n.payload["kind"]: n for n in store.notification_rows("email")}
        assert notes["station-offline"].not_before <= notes["station-offline"].created_at  # urgent: at once
        clock = notes["clock-unsynced"]
        if held:
            assert clock.not_before == "2024-03-05T22:30:00.000+00:00"  # 05:30 next morning, Hanoi
        else:
            assert clock.not_before == clock.created_at


def test_engine_reminders_until_acknowledged(tmp_path: Path, store_backend: StoreBackend) -> None:
    kit = _kit(tmp_path, store_backend, remind_after_s=3600, email={
        "smtp_host": "127.0.0.1", "smtp_port": 1, "starttls": False, "from": "a@b.example", "to": ["c@d.example"]})
    engine = AlertEngine(kit.config)
    with open_store(kit.config) as store:
        ingest(kit, store, T0, ("status", status_jws(kit, KOI, "offline", T0)))
        alert = engine.evaluate(store, T0 + timedelta(seconds=301)).opened[0]
        for minutes in (10, 30, 59):
            engine.evaluate(store, T0 + timedelta(seconds=301, minutes=minutes))
        assert [n.transition for n in store.notification_rows("email")] == ["open"]
        engine.evaluate(store, T0 + timedelta(seconds=301, minutes=61))
        engine.evaluate(store, T0 + timedelta(seconds=301, minutes=62))
        assert [n.transition for n in store.notification_rows("email")] == ["open", "reminder"]
        acknowledge(store, alert.id, "ops", "driving out", T0 + timedelta(hours=2))
        engine.evaluate(store, T0 + timedelta(hours=5))
        assert [n.transition for n in store.notification_rows("email")] == ["open", "reminder"]
        assert open_alerts(store)[0].ack_note == "driving out"


def test_engine_daily_digest_once_a_day_at_digest_at(tmp_path: Path, store_backend: StoreBackend) -> None:
    kit = _kit(tmp_path, store_backend, digest_at="07:00", email={
        "smtp_host": "127.0.0.1", "smtp_port": 1, "starttls": False, "from": "a@b.example", "to": ["c@d.example"]})
    with open_store(kit.config) as store:
        ingest(kit, store, T0, ("status", status_jws(kit, KOI, "offline", T0)))
        morning = datetime(2024, 3, 6, 0, 0, tzinfo=UTC)  # 07:00 Hanoi
        evaluate(store, kit.config, morning - timedelta(minutes=1))
        assert [n.transition for n in store.notification_rows("email")] == ["open"]
        evaluate(store, kit.config, morning)
        evaluate(store, kit.config, morning + timedelta(hours=3))
        digests = [n for n in store.notification_rows("email") if n.transition == "digest"]
        assert len(digests) == 1 and digests[0].payload["date"] == "2024-03-06"
        assert [a["kind"] for a in digests[0].payload["open"]] == ["station-offline"]


def test_engine_conflict_and_chain_break_are_evidence_problems(tmp_path: Path, store_backend: StoreBackend) -> None:
    kit = _kit(tmp_path, store_backend)
    engine = AlertEngine(kit.config)
    with open_store(kit.config) as store:
        chain = kit.chain(KOI, 3)
        ingest(kit, store, T0, *[("event", e) for e in chain])
        assert [a.kind for a in engine.evaluate(store, T0 + timedelta(seconds=1)).opened] == []
        other2, _ = kit.event(KOI, 2, None, outcome="interrupted", reason="shutdown")  # same seq, other bytes
        forked4, _ = kit.event(KOI, 4, "ab" * 32)  # prev is not seq 3's hash
        ingest(kit, store, T0 + timedelta(seconds=2), ("event", other2), ("event", forked4))
        opened = [a for a in engine.evaluate(store, T0 + timedelta(seconds=3)).opened if a.kind == "evidence-problem"]
        assert len(opened) == 1 and opened[0].detail["conflicts"] == [2] and 4 in opened[0].detail["chain_breaks"]
