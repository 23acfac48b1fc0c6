"""week-at-risk and month-at-risk from the report's scoring: at the configured moment and not
before, for the commune that has not aired, naming the slots still scheduled."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from alerts_kit import KOI, RUONG, alerts_district, ingest, publish_schedule
from mqtt_broker import HANOI, DistrictKit
from schedule_testkit import payload as schedule_payload
from store_backends import StoreBackend

from district_collector.alerts.api import open_alerts
from district_collector.alerts.engine import AlertEngine, evaluate
from district_collector.store.base import Store
from district_collector.store.opening import open_store

RULE = [{"segment": "cds-a", "rrule": "FREQ=WEEKLY;BYDAY=TU,FR", "dtstart": "2024-03-01T17:00:00+07:00"}]


def _setup(tmp_path: Path, backend: StoreBackend) -> tuple[DistrictKit, Store]:
    kit = alerts_district(tmp_path, {"week_at_risk": {"weekday": "thursday", "at": "12:00"},
                                     "month_at_risk": {"days_before_end": 7, "at": "12:00"}}, backend=backend)
    store = open_store(kit.config)
    published = datetime(2024, 2, 25, 9, 0, tzinfo=HANOI)
    for station in (KOI, RUONG):
        publish_schedule(kit, store, schedule_payload(station=station, slots=RULE), published)
    aired, _ = kit.event(KOI, 1, None)  # Tuesday 5 March 06:31, Hanoi: a counted airing for Đăk Kôi
    ingest(kit, store, datetime(2024, 3, 5, 7, 0, tzinfo=HANOI), ("event", aired))
    return kit, store


def test_week_at_risk_at_the_configured_moment_not_before_naming_remaining_slots(tmp_path: Path, store_backend: StoreBackend) -> None:
    kit, store = _setup(tmp_path, store_backend)
    with store:
        moment = datetime(2024, 3, 7, 12, 0, tzinfo=HANOI)
        assert not [a for a in evaluate(store, kit.config, moment - timedelta(minutes=1)).opened
                    if a.kind == "week-at-risk"]
        opened = [a for a in evaluate(store, kit.config, moment).opened if a.kind == "week-at-risk"]
        assert [(a.subject, a.occurrence) for a in opened] == [("23326", "2024-W10")]
        detail = opened[0].detail
        assert detail["commune_name"] == "Xã Đăk Ruồng"
        assert detail["remaining"] == [{"station": RUONG, "at": "2024-03-08T17:00+07:00", "segment": "cds-a",
                                        "title": "Chuyển đổi số là gì?"}]
        # the commune airs on Friday: the alert clears
        friday = datetime(2024, 3, 8, 17, 0, tzinfo=HANOI)
        late, _ = kit.event(RUONG, 1, None, slot_at=friday, started_at=friday)
        ingest(kit, store, friday + timedelta(minutes=6), ("event", late))
        resolved = evaluate(store, kit.config, friday + timedelta(minutes=7)).resolved
        assert [(a.kind, a.subject, a.detail["resolution"]) for a in resolved] == [
            ("week-at-risk", "23326", "cleared")]


def test_week_at_risk_after_the_last_slot_says_none_is_left_and_ends_with_the_week(tmp_path: Path, store_backend: StoreBackend) -> None:
    kit, store = _setup(tmp_path, store_backend)
    with store:
        engine = AlertEngine(kit.config)
        saturday = datetime(2024, 3, 9, 9, 0, tzinfo=HANOI)
        opened = [a for a in engine.evaluate(store, saturday).opened if a.kind == "week-at-risk"]
        assert opened and opened[0].detail["remaining"] == []
        next_monday = datetime(2024, 3, 11, 0, 10, tzinfo=HANOI)
        resolved = engine.evaluate(store, next_monday).resolved
        assert [(a.occurrence, a.detail["resolution"]) for a in resolved] == [("2024-W10", "period-ended")]


def test_month_at_risk_days_before_the_month_ends(tmp_path: Path, store_backend: StoreBackend) -> None:
    kit, store = _setup(tmp_path, store_backend)
    with store:
        moment = datetime(2024, 3, 24, 12, 0, tzinfo=HANOI)
        evaluate(store, kit.config, moment - timedelta(seconds=1))
        assert "month-at-risk" not in {a.kind for a in open_alerts(store)}
        opened = [a for a in evaluate(store, kit.config, moment).opened if a.kind == "month-at-risk"]
        assert [(a.subject, a.occurrence) for a in opened] == [("23326", "2024-03")]  # Đăk Kôi aired in March
        assert [r["at"] for r in opened[0].detail["remaining"]] == ["2024-03-26T17:00+07:00", "2024-03-29T17:00+07:00"]
