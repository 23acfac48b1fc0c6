"""Login throttling per user name and per address, kept in the store (both backends; time
injected)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from accounts_kit import NOW, PASSWORD, district_config
from store_backends import StoreBackend

from district_collector.accounts import service
from district_collector.accounts.model import LoginRefused
from district_collector.accounts.throttle import Policy, streak
from district_collector.config import DistrictConfig
from district_collector.store.base import Store
from district_collector.store.opening import open_store

S = timedelta(seconds=1)


@pytest.fixture
def config(tmp_path: Path, store_backend: StoreBackend) -> DistrictConfig:
    return store_backend.configure(district_config(tmp_path))


@pytest.fixture
def store(config: DistrictConfig) -> Iterator[Store]:
    with open_store(config) as opened:
        service.create_user(opened, config, "lan", "district", None, PASSWORD, "cli:t", now=NOW)
        service.create_user(opened, config, "hoa", "commune", "23335", PASSWORD, "cli:t", now=NOW)
        yield opened


def _fail(store: Store, name: str, address: str | None, at: datetime) -> float | None:
    """A wrong-password login; its ``retry_after_s`` (None: refused as a wrong password)."""
    with pytest.raises(LoginRefused) as caught:
        service.authenticate(store, name, "wrong password", address, at)
    return caught.value.retry_after_s


def _login(store: Store, name: str, address: str | None, at: datetime) -> float | None:
    """A right-password login: None when it succeeds, else its ``retry_after_s``."""
    try:
        service.authenticate(store, name, PASSWORD, address, at)
    except LoginRefused as refused:
        assert refused.retry_after_s is not None
        return refused.retry_after_s
    return None


def test_throttle_policy_delay_grows_and_caps() -> None:
    policy = Policy(max_failures=5)
    assert [policy.delay(n).total_seconds() for n in range(4, 11)] == [0, 60, 120, 240, 480, 900, 900]
    t = [NOW + timedelta(minutes=m) for m in (0, 1, 20, 21, 35)]
    assert streak(t, timedelta(minutes=15)) == 3 and streak(t[:2], timedelta(minutes=15)) == 2
    assert streak([], timedelta(minutes=15)) == 0


def test_throttle_user_locks_after_five_failures_with_a_growing_delay(store: Store) -> None:
    for i in range(5):
        assert _fail(store, "lan", f"10.0.0.{i}", NOW + i * S) is None
    last = NOW + 4 * S
    # locked for 1 minute after the 5th failure: even the right password is refused unchecked
    assert _login(store, "lan", "10.9.9.9", last + 30 * S) == pytest.approx(30)
    assert _fail(store, "lan", "10.9.9.9", last + 59 * S) == pytest.approx(1)
    # after the lock, one more wrong guess locks for 2 minutes, then 4
    assert _fail(store, "lan", "10.9.9.9", last + 60 * S) is None
    t6 = last + 60 * S
    assert _login(store, "lan", "10.9.9.9", t6 + 119 * S) == pytest.approx(1)
    assert _fail(store, "lan", "10.9.9.9", t6 + 120 * S) is None
    t7 = t6 + 120 * S
    assert _login(store, "lan", "10.9.9.9", t7 + 200 * S) == pytest.approx(40)
    # the other user is not locked
    assert _login(store, "hoa", "10.9.9.9", t7 + 200 * S) is None
    # the lock over, the right password works and clears the user's streak
    assert _login(store, "lan", "10.9.9.9", t7 + 240 * S) is None
    assert _fail(store, "lan", "10.9.9.9", t7 + 241 * S) is None
    assert store.login_failure_times("user", "lan", NOW) == ["2026-12-03T08:07:05.000+00:00"]


def test_throttle_quiet_window_ends_the_streak(store: Store) -> None:
    for i in range(4):
        _fail(store, "lan", None, NOW + i * S)
    later = NOW + timedelta(minutes=16)  # 15 quiet minutes: the four are forgotten
    for i in range(4):
        assert _fail(store, "lan", None, later + i * S) is None
    assert _login(store, "lan", None, later + 5 * S) is None


def test_throttle_address_locks_across_user_names(store: Store) -> None:
    address = "203.0.113.9"
    for i in range(20):  # 20 names, 1 guess each: no user is locked, the address is
        assert _fail(store, f"guess{i}", address, NOW + i * S) is None
    at = NOW + 20 * S
    assert _login(store, "lan", address, at) == pytest.approx(59)
    assert _login(store, "lan", "198.51.100.1", at) is None  # the user from elsewhere is fine
    # a successful login does not clear the address
    assert _login(store, "hoa", address, at + 60 * S) is None
    assert _fail(store, "guess-x", address, at + 61 * S) is None
    assert _login(store, "lan", address, at + 62 * S) == pytest.approx(119)


def test_throttle_is_shared_by_processes_and_restarts(config: DistrictConfig, store: Store) -> None:
    """Two connections to the one store (as two web processes, or before and after a
    restart) count the same failures."""
    with open_store(config) as other:
        for i in range(5):
            assert _fail(other if i % 2 else store, "lan", None, NOW + i * S) is None
    with open_store(config) as restarted:
        assert _login(restarted, "lan", None, NOW + 20 * S) == pytest.approx(44)


def test_throttle_forgets_failures_after_a_day(store: Store) -> None:
    for i in range(5):
        _fail(store, "lan", "10.0.0.1", NOW + i * S)
    _fail(store, "hoa", "10.0.0.2", NOW + timedelta(hours=25))
    assert store.login_failure_times("user", "lan", NOW - timedelta(days=1)) == []
    assert store.login_failure_times("address", "10.0.0.1", NOW - timedelta(days=1)) == []
    assert len(store.login_failure_times("user", "hoa", NOW)) == 1


def test_throttle_keys_from_a_request_are_cut_short(store: Store) -> None:
    name, address = "x" * 5000, "a" * 5000
    for i in range(5):
        assert _fail(store, name, address, NOW + i * S) is None
    assert _fail(store, name, address, NOW + 5 * S) == pytest.approx(59)
    assert len(store.login_failure_times("user", "x" * 128, NOW)) == 5
    assert len(store.login_failure_times("address", "a" * 128, NOW)) == 5
