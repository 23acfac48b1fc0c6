"""What officials and operators read: the ``stations`` table cell by cell (state and
since, last seq, gaps, chain breaks, conflicts, pending, schedule, last airing) and the
``import`` command's printed counts; plus a failing check costing only its own message."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from mqtt_broker import DistrictKit, make_district
from store_backends import StoreBackend

import district_collector.intake.ingest as ingest_module
from district_collector.admin.stations_view import COLUMNS
from district_collector.cli import main as district_main
from district_collector.intake.ingest import Ingestor
from district_collector.store.opening import open_store
from district_collector.store.records import StatusRecord
from radio_protocol.messages.status import Status, build_status
from radio_protocol.names import STATUS_TYP
from radio_protocol.timefmt import parse_rfc3339

KOI = "dak-koi-01"
RUONG = "dak-ruong-01"
EVENTS = f"cr/v1/kon-ray/station/{KOI}/event"
STATUS = f"cr/v1/kon-ray/station/{KOI}/status"


@pytest.fixture
def kit(tmp_path: Path, store_backend: StoreBackend) -> DistrictKit:
    kit = make_district(tmp_path)
    kit.config = store_backend.configure_file(kit.district_config)
    return kit


def _table(out: str) -> dict[str, dict[str, str]]:
    """Parse the aligned table by the header's column starts: {station: {column: cell}}."""
    lines = out.rstrip("\n").splitlines()
    header = lines[0]
    starts = [header.index(c) for c in COLUMNS]
    assert starts == sorted(starts)
    rows: dict[str, dict[str, str]] = {}
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [None], strict=True)]  # type: ignore[list-item]
        rows[cells[0]] = dict(zip(COLUMNS, cells, strict=True))
    return rows


def _status(kit: DistrictKit, state: str, pending: int, version: int | None) -> bytes:
    return kit.stations[KOI].signer.sign(build_status(Status(
        KOI, state, parse_rfc3339("2024-03-05T07:00:00.000+07:00"), schedule_version=version,
        outbox_pending=pending, last_seq=12)), STATUS_TYP)


def test_stations_table_every_column(kit: DistrictKit, capsys: pytest.CaptureFixture[str]) -> None:
    chain = kit.chain(KOI, 11)
    forked, _ = kit.event(KOI, 12, "ab" * 32)  # prev does not match the stored seq 11
    other5, _ = kit.event(KOI, 5, None, outcome="interrupted", reason="shutdown")  # same seq, other bytes
    keep = [chain[i - 1] for i in (1, 2, 5, 6, 10, 11)] + [forked, other5]
    with open_store(kit.config) as store:
        ing = Ingestor(kit.config, store)
        first = datetime(2024, 3, 5, 0, 0, tzinfo=UTC)
        ing.ingest([(EVENTS, e, "mqtt") for e in keep] + [(STATUS, _status(kit, "online", 9, 7), "mqtt")], first)
        # the Last Will: offline since when the collector received it
        ing.ingest([(STATUS, _status(kit, "offline", 4, 8), "mqtt")], datetime(2024, 3, 5, 1, 30, tzinfo=UTC))
    assert district_main(["-c", str(kit.district_config), "stations"]) == 0
    rows = _table(capsys.readouterr().out)
    assert rows[KOI] == {
        "station": KOI, "commune": "23335 Xã Đăk Kôi", "state": "offline",
        "since": "2024-03-05T08:30:00.000+07:00", "last_seq": "12", "gaps": "3-4,7-9",
        "chain_breaks": "12", "conflicts": "5", "pending": "4", "schedule": "8",
        "last_airing": "2024-03-05T06:42:00.012+07:00",
    }
    assert rows[RUONG] == {
        "station": RUONG, "commune": "23326 Xã Đăk Ruồng", "state": "never seen", "since": "-",
        "last_seq": "0", "gaps": "-", "chain_breaks": "-", "conflicts": "-", "pending": "-",
        "schedule": "-", "last_airing": "-",
    }


def test_stations_table_old_status_row_that_no_longer_reads(kit: DistrictKit,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A stored status that breaks today's rules shows its state, and no pending or schedule."""
    old = kit.stations[KOI].signer.sign({"v": 1, "type": "status", "station": KOI, "state": "online",
                                         "at": "2024-03-05T07:00:00.000+07:00", "schedule_version": "7",
                                         "outbox_pending": 9}, STATUS_TYP)  # deliberately invalid
    with open_store(kit.config) as store:
        store.add_batch([], statuses=[StatusRecord(KOI, "online", "2024-03-05T07:00:00.000+07:00", old,
                                                   datetime(2024, 3, 5, 0, 0, tzinfo=UTC))])
        row = store.status(KOI)
        assert row is not None and row.status() is None
    assert district_main(["-c", str(kit.district_config), "stations"]) == 0
    cells = _table(capsys.readouterr().out)[KOI]
    assert (cells["state"], cells["pending"], cells["schedule"]) == ("online", "-", "-")


def test_stations_many_gaps_are_summarised(kit: DistrictKit, capsys: pytest.CaptureFixture[str]) -> None:
    chain = kit.chain(KOI, 30)
    with open_store(kit.config) as store:
        Ingestor(kit.config, store).ingest([(EVENTS, e, "mqtt") for e in chain[::3]], datetime.now(UTC))
    assert district_main(["-c", str(kit.district_config), "stations"]) == 0
    row = _table(capsys.readouterr().out)[KOI]
    assert row["gaps"] == "2-3,5-6,8-9,11-12,14-15,(+4 more)"
    assert row["chain_breaks"] == "-" and row["last_seq"] == "28" and row["state"] == "never seen"


def test_import_command_prints_the_four_counts(kit: DistrictKit, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              caplog: pytest.LogCaptureFixture) -> None:
    chain = kit.chain(KOI, 6)
    conflicting, _ = kit.event(KOI, 2, None, outcome="failed", reason="audio-device")
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_bytes(b"\n".join(chain[:4]) + b"\n\n")
    b.write_bytes(b"\n".join([chain[3], chain[4], chain[5], conflicting, b"{not a jws"]) + b"\n")
    # a rejected line fails the import (exit 1) but the good lines are stored all the same
    assert district_main(["-c", str(kit.district_config), "import", str(a), str(b)]) == 1
    out, err = capsys.readouterr()
    assert out.strip() == "accepted=6 duplicate=1 conflict=1 rejected=1"
    assert "1 line was rejected into quarantine" in err and "every other line was stored" in err
    assert f"source=import:{b.name}:5" in caplog.text  # the logged line the message points to
    assert district_main(["-c", str(kit.district_config), "import", str(b), str(a)]) == 1
    assert capsys.readouterr().out.strip() == "accepted=0 duplicate=8 conflict=0 rejected=1"
    # duplicates and conflicts are recorded facts, not failures: exit 0
    c = tmp_path / "c.jsonl"
    c.write_bytes(b"\n".join([chain[0], conflicting]) + b"\n")
    assert district_main(["-c", str(kit.district_config), "import", str(c)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "accepted=0 duplicate=2 conflict=0 rejected=0" and "rejected into" not in err
    with open_store(kit.config) as store:
        assert store.seqs(KOI) == [1, 2, 2, 3, 4, 5, 6]
        assert [(r[1], r[3]) for r in store.quarantine_rows()] == [("bad-json", b"{not a jws")]
    assert district_main(["-c", str(kit.district_config), "import", str(tmp_path / "none.jsonl")]) == 1
    assert "none.jsonl: no such file" in capsys.readouterr().err


def test_ingest_failing_check_costs_only_its_own_message(kit: DistrictKit, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ingest_module.check_event_payload

    def buggy(p: dict[str, object]) -> None:
        if p["seq"] == 3:
            raise KeyError("injected bug")
        real(p)  # type: ignore[arg-type]
    monkeypatch.setattr(ingest_module, "check_event_payload", buggy)
    chain = kit.chain(KOI, 5)
    with open_store(kit.config) as store:
        result = Ingestor(kit.config, store).ingest([(EVENTS, e, "mqtt") for e in chain], datetime.now(UTC))
        assert dict(result.counts) == {"accepted": 4, "rejected": 1}
        assert store.seqs(KOI) == [1, 2, 4, 5]
        ((station, reason, detail, raw),) = store.quarantine_rows()
    assert (reason, raw) == ("internal-error", chain[2]) and "injected bug" in detail
