"""The station page: as-run log from the signed events, upcoming slots from the latest
published schedule, online/offline periods from the status log, the station's keys
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from store_backends import StoreBackend
from views_testkit import KOI, ViewsKit, local, make_views_kit

from district_collector.views.catalogue import publish_upload
from district_collector.views.station import MAX_UPCOMING, station_detail

CATALOGUE = """month: 2026-12
segments:
  - {id: dec-a, title: "Chuyển đổi số là gì?", program: chuyen-doi-so, media: a.wav}
slots:
  - {segment: dec-a, every: [monday, thursday], at: "06:30"}
""".encode()


@pytest.fixture
def vk(tmp_path: Path, store_backend: StoreBackend) -> ViewsKit:
    return make_views_kit(tmp_path, store_backend)


def test_station_detail(vk: ViewsKit) -> None:
    vk.ingest(KOI, [vk.airing(KOI, "2026-11-30 06:30"),
                    vk.airing(KOI, "2026-12-03 06:30", outcome="interrupted", reason="shutdown", played_s=12.5)])
    for state, hour in (("online", 1), ("offline", 2), ("offline", 3), ("online", 4)):
        vk.ingest(KOI, [vk.status(KOI, state, f"2026-12-03 0{hour}:00")], "status",
                  datetime(2026, 12, 2, 18 + hour, 0, tzinfo=UTC))
    with vk.open() as store:
        publish_upload(vk.config, store, "c.yaml", CATALOGUE, actor="t", send=False,
                       now=datetime(2026, 11, 20, tzinfo=UTC))
        now = local("2026-12-20 12:00")
        detail = station_detail(store, vk.config, KOI, date(2026, 12, 1), date(2026, 12, 31), now)
        assert station_detail(store, vk.config, "no-such-01", date(2026, 12, 1), date(2026, 12, 31), now) is None
    assert detail is not None
    assert [(r.seq, r.outcome, r.reason, r.played_s) for r in detail.as_run] == [(2, "interrupted", "shutdown", 12.5)]
    run = detail.as_run[0]
    assert run.slot_at == local("2026-12-03 06:30") and run.late_s == 0.04
    assert (run.rms_dbfs, run.peak_dbfs, run.clock_synced) == (-18.2, -1.0, True)
    assert [(s.at, s.segment_id, s.version) for s in detail.upcoming] == [
        (local(f"2026-12-{d} 06:30"), "dec-a", 1) for d in (21, 24, 28, 31)]
    assert len(detail.upcoming) <= MAX_UPCOMING
    periods = [(p.state, p.start, p.end) for p in detail.status_history]
    hour = [datetime(2026, 12, 2, h, 0, tzinfo=UTC) for h in (19, 20, 22)]
    assert periods == [("online", hour[0], hour[1]), ("offline", hour[1], hour[2]), ("online", hour[2], None)]
    assert detail.row.online is True and detail.row.schedule_published == 1
    assert [(k.kid, k.current) for k in detail.keys] == [(vk.config.stations[0].kids[0], True)]
    assert detail.as_json()["status_history"][2] == {"state": "online", "start": "2026-12-02T22:00:00.000+00:00",
                                                     "end": None}
