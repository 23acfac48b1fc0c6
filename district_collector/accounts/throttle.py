"""Login throttling per user name and per remote address, kept in the store.

Failed logins are rows of the store (``login_failures``), so a restart forgets nothing and
several web processes share one count. Each key (``("user", NAME)``, ``("address", IP)``)
has a :class:`Policy`. The failures of a key form a *streak* while each comes within
``window`` of the one before; ``max_failures`` failures in a streak lock the key for
``base_delay``, and each further failure doubles the lock (1, 2, 4, 8 minutes...) up to
``max_delay``. A quiet ``window`` with no failure ends the streak. While a key is locked
the login is refused without checking the password and without counting a failure, so
hammering a locked key does not lengthen the lock. A successful login clears the user's
streak (not the address's: one good account must not reset an attacker's address).

With the defaults a user name takes at most 5 wrong guesses per 15 minutes in the long
run; an address (an office behind one NAT) 20.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from district_collector.store.base_accounts import AccountsStore
from radio_protocol.timefmt import parse_rfc3339

USER = "user"
ADDRESS = "address"
# Failures older than this are deleted when a new one is recorded.
FORGET_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Policy:
    """How many failures a key takes (``max_failures`` in a streak of failures each within
    ``window`` of the previous) before it locks for ``base_delay``, doubling per further
    failure up to ``max_delay`` (keep ``max_delay <= window`` so a streak outlives its lock)."""

    max_failures: int
    window: timedelta = timedelta(minutes=15)
    base_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(minutes=15)

    def delay(self, streak: int) -> timedelta:
        """The lock after the streak's last failure (zero below ``max_failures``)."""
        if streak < self.max_failures:
            return timedelta(0)
        doublings = min(streak - self.max_failures, 20)
        return min(self.base_delay * (2 ** doublings), self.max_delay)


POLICIES: dict[str, Policy] = {USER: Policy(max_failures=5), ADDRESS: Policy(max_failures=20)}


def streak(times: list[datetime], window: timedelta) -> int:
    """How many of the ascending failure ``times`` form the latest streak (each within
    ``window`` of the next)."""
    count = 0
    later: datetime | None = None
    for at in reversed(times):
        if later is not None and later - at > window:
            break
        count += 1
        later = at
    return count


# A key's subject is cut to this length: a name or address from a request is not trusted.
SUBJECT_MAX = 128


def _keys(name: str, address: str | None) -> list[tuple[str, str]]:
    keys = [(USER, name[:SUBJECT_MAX])]
    if address:
        keys.append((ADDRESS, address[:SUBJECT_MAX]))
    return keys


def retry_after(store: AccountsStore, name: str, address: str | None, now: datetime,
                policies: dict[str, Policy] = POLICIES) -> float | None:
    """Seconds until ``name`` may try again from ``address`` (the longer lock of the two
    keys), None when neither is locked."""
    wait = timedelta(0)
    for scope, subject in _keys(name, address):
        policy = policies[scope]
        times = [parse_rfc3339(t) for t in store.login_failure_times(scope, subject, now - FORGET_AFTER)]
        if not times:
            continue
        if now - times[-1] > policy.window:
            continue  # the streak has ended
        until = times[-1] + policy.delay(streak(times, policy.window))
        wait = max(wait, until - now)
    return wait.total_seconds() if wait > timedelta(0) else None


def record_failure(store: AccountsStore, name: str, address: str | None, now: datetime) -> None:
    """Count a failed login of ``name`` from ``address`` (and forget failures older than
    :data:`FORGET_AFTER`)."""
    store.add_login_failure(_keys(name, address), now, now - FORGET_AFTER)
