"""Channels with real servers on loopback: mail through aiosmtpd (Vietnamese by default,
English by config), webhook POSTs checked against their HMAC, an hour of SMTP outage and a
failing webhook in simulated time (each notification once, in order), a restart between
rounds, the ``alerts`` command (list, history, ack, test) and the config's errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alerts_kit import KOI, RUONG, SmtpServer, WebhookReceiver, alerts_district, ingest, status_jws
from store_backends import StoreBackend

from district_collector.alerts.delivery import build_channels, deliver
from district_collector.alerts.engine import evaluate
from district_collector.cli import main as district_main
from district_collector.config import load_district_config
from district_collector.store.opening import open_store
from radio_protocol.errors import ConfigError

T0 = datetime(2024, 3, 5, 1, 0, tzinfo=UTC)  # 08:00 Hanoi


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


def test_mail_and_webhook_for_an_offline_station_and_its_resolution(tmp_path: Path, smtp: SmtpServer,
                                                                     hook: WebhookReceiver,
                                                                     store_backend: StoreBackend) -> None:
    kit = alerts_district(tmp_path, {"offline_after_s": 300}, smtp, hook, store_backend)
    channels = build_channels(kit.config)
    with open_store(kit.config) as store:
        ingest(kit, store, T0, ("status", status_jws(kit, KOI, "offline", T0)))
        evaluate(store, kit.config, T0 + timedelta(seconds=300))
        deliver(store, channels, T0 + timedelta(seconds=301))
        back = T0 + timedelta(minutes=30)
        ingest(kit, store, back, ("status", status_jws(kit, KOI, "online", back)))
        evaluate(store, kit.config, back)
        deliver(store, channels, back)
    assert len(smtp.messages) == 2
    subject, body = smtp.subjects()[0], smtp.bodies()[0]
    assert "Trạm mất kết nối" in subject and "Xã Đăk Kôi" in subject and KOI in subject
    assert "08:00 05/03/2024" in body  # since when, district time
    assert "Việc cần làm: Kiểm tra nguồn điện" in body
    assert "ĐÃ KHẮC PHỤC" in smtp.subjects()[1] and "Đã khắc phục lúc: 08:30 05/03/2024" in smtp.bodies()[1]
    assert hook.bad_signatures == 0
    assert [(h["kind"], h["state"], h["station"], h["commune"]) for h in hook.received] == [
        ("station-offline", "open", KOI, "23335"), ("station-offline", "resolved", KOI, "23335")]
    first = hook.received[0]
    assert set(first) >= {"id", "kind", "state", "station", "commune", "opened_at", "resolved_at", "detail", "url"}
    assert first["opened_at"] == "2024-03-05T01:05:00.000+00:00" and first["resolved_at"] is None
    assert hook.received[1]["resolved_at"] == "2024-03-05T01:30:00.000+00:00"


def test_mail_in_english_by_config(tmp_path: Path, smtp: SmtpServer) -> None:
    kit = alerts_district(tmp_path, {"offline_after_s": 300, "language": "en"}, smtp)
    with open_store(kit.config) as store:
        ingest(kit, store, T0, ("status", status_jws(kit, KOI, "offline", T0)))
        evaluate(store, kit.config, T0 + timedelta(seconds=300))
        deliver(store, build_channels(kit.config), T0 + timedelta(seconds=300))
    assert smtp.subjects()[0].startswith("[Commune Radio Huyện Kon Rẫy] Station offline: Xã Đăk Kôi, station dak-koi-01")
    assert "What to do: Check power" in smtp.bodies()[0]


def test_smtp_down_an_hour_then_every_notification_once_in_order_across_a_restart(
        tmp_path: Path, smtp: SmtpServer, hook: WebhookReceiver, store_backend: StoreBackend) -> None:
    kit = alerts_district(tmp_path, {"offline_after_s": 300}, smtp, hook, store_backend)
    smtp.refuse, hook.fail = True, True
    with open_store(kit.config) as store:
        ingest(kit, store, T0, ("status", status_jws(kit, KOI, "offline", T0)),
               ("status", status_jws(kit, RUONG, "offline", T0 + timedelta(seconds=1))))
        evaluate(store, kit.config, T0 + timedelta(seconds=302))
        back = T0 + timedelta(minutes=20)
        ingest(kit, store, back, ("status", status_jws(kit, KOI, "online", back)))
        evaluate(store, kit.config, back)
        channels = build_channels(kit.config)
        at = T0 + timedelta(seconds=302)
        while at < T0 + timedelta(hours=1, seconds=302):  # an hour of outage, a round every 10 s
            deliver(store, channels, at)
            at += timedelta(seconds=10)
        assert smtp.messages == [] and hook.received == []
        assert 4 <= smtp.refused <= 40  # retried with backoff, not hammered
        assert {n.attempts > 1 for n in store.notification_rows("email", delivered=False)[:1]} == {True}
    smtp.refuse, hook.fail = False, False
    # the collector restarts: a new store connection, new channels, the same queue
    with open_store(kit.config) as store:
        channels = build_channels(kit.config)
        for _ in range(6):
            at += timedelta(minutes=5)
            ingest(kit, store, at, ("status", status_jws(kit, KOI, "online", at)))  # heartbeat
            deliver(store, channels, at)
            evaluate(store, kit.config, at)
        assert store.notification_rows(delivered=False) == []
    expected = [("station-offline", "open", KOI), ("station-offline", "open", RUONG),
                ("station-offline", "resolved", KOI)]
    assert [(h["kind"], h["state"], h["station"]) for h in hook.received] == expected
    assert len(smtp.messages) == 3
    assert [KOI in s for s in smtp.subjects()] == [True, False, True]
    assert "ĐÃ KHẮC PHỤC" in smtp.subjects()[2]
    assert len({m["Message-ID"] for m in smtp.messages}) == 3


def test_alerts_command_lists_history_acks_and_tests_channels(tmp_path: Path, smtp: SmtpServer,
                                                              hook: WebhookReceiver,
                                                              capsys: pytest.CaptureFixture[str],
                                                              store_backend: StoreBackend) -> None:
    kit = alerts_district(tmp_path, {"offline_after_s": 300}, smtp, hook, store_backend)
    cfg = str(kit.district_config)
    with open_store(kit.config) as store:
        ingest(kit, store, T0, ("status", status_jws(kit, KOI, "offline", T0)))
        alert = evaluate(store, kit.config, T0 + timedelta(seconds=300)).opened[0]
    assert district_main(["-c", cfg, "alerts"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:4] == ["ID", "STATE", "KIND", "COMMUNE"]
    assert "station-offline" in out and "Xã Đăk Kôi" in out and "Trạm mất kết nối" in out
    assert district_main(["-c", cfg, "alerts", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(a["id"], a["kind"], a["state"]) for a in listed] == [(alert.id, "station-offline", "open")]
    assert district_main(["-c", cfg, "alerts", "ack", str(alert.id), "--note", "đang xử lý"]) == 0
    assert f"alert {alert.id}" in capsys.readouterr().out
    assert district_main(["-c", cfg, "alerts", "history", "--since", "2024-03-01", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["ack_note"] == "đang xử lý"
    assert district_main(["-c", cfg, "alerts", "ack", "999"]) == 1
    assert "no alert with id 999" in capsys.readouterr().err
    assert district_main(["-c", cfg, "alerts", "test"]) == 0
    assert capsys.readouterr().out.splitlines() == ["email: ok", "webhook: ok"]
    assert "Thử kênh cảnh báo" in smtp.subjects()[-1] and hook.received[-1]["kind"] == "test"
    hook.fail = True
    smtp.stop()
    assert district_main(["-c", cfg, "alerts", "test"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("email: FAILED: smtp 127.0.0.1:") and "unreachable" in lines[0]
    assert lines[1] == "webhook: FAILED: webhook answered HTTP 500"


def test_config_errors_name_the_key_and_line(tmp_path: Path, hook: WebhookReceiver) -> None:
    kit = alerts_district(tmp_path, {"offline_after_s": 300}, None, hook)
    text = kit.district_config.read_text(encoding="utf-8")
    bad = text.replace("  offline_after_s: 300", "  offline_after_s: -1\n  quiet_hours: {from: '25:00', to: '05:30'}"
                       "\n  week_at_risk: {weekday: thurs}\n  remnd_after_s: 60")
    kit.district_config.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_district_config(kit.district_config)
    problems = "\n".join(err.value.problems)
    assert "alerts.offline_after_s: must be >= 1, got -1 (line" in problems
    assert "alerts.quiet_hours.from: '25:00' does not match" in problems
    assert "alerts.week_at_risk.weekday: must be one of monday" in problems
    assert "alerts.remnd_after_s: unknown key; did you mean 'remind_after_s'?" in problems
    kit.district_config.write_text(text, encoding="utf-8")
    secret = Path(load_district_config(kit.district_config).alerts.webhook.secret_file)  # type: ignore[union-attr]
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match=r"alerts.webhook.secret_file: .* readable by others \(mode 644\)"):
        build_channels(load_district_config(kit.district_config))


def test_check_names_an_unreadable_or_open_secret_file(tmp_path: Path, hook: WebhookReceiver,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    kit = alerts_district(tmp_path, {"offline_after_s": 300}, None, hook)
    secret = Path(kit.config.alerts.webhook.secret_file)  # type: ignore[union-attr]
    secret.chmod(0o640)
    assert district_main(["-c", str(kit.district_config), "check"]) == 1
    assert f"alerts.webhook.secret_file: {secret} is readable by others (mode 640); run chmod 600" in \
        capsys.readouterr().out


def test_alerts_command_before_the_collector_ran_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kit = alerts_district(tmp_path, {"offline_after_s": 300})
    for argv in (["alerts"], ["alerts", "history"], ["alerts", "ack", "1"]):
        assert district_main(["-c", str(kit.district_config), *argv]) == 1
        assert "no store at" in capsys.readouterr().err
    assert not kit.config.database.exists()
