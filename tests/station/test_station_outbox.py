"""The outbox: seq/prev chaining, acks, pruning, meta, threads, and SIGKILL at random moments."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import make_airing_payload

from firmware_daemon.airing.outbox import Outbox, OutboxError
from radio_protocol.clock import SimulatedClock
from radio_protocol.jose import KeyRing, Signer, load_or_create_private_key, verify
from radio_protocol.names import EVENT_TYP

REPO = Path(__file__).resolve().parents[2]
START_AT = datetime(2024, 3, 5, 0, 0, tzinfo=UTC)


def make_payload(seq: int, prev: str | None) -> dict[str, Any]:
    """A built airing event as ``seq`` chained to ``prev`` (the outbox's ``make_payload``)."""
    return make_airing_payload("dak-koi-01", seq, prev)


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    key, _ = load_or_create_private_key(tmp_path / "keys" / "station.key")
    return Signer(key)


def assert_chain(path: Path, signer: Signer) -> int:
    """Every row verifies, seq is 1..N without a gap, prev chains; returns N."""
    ring = KeyRing.from_jwks([signer.public_jwk])
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT seq, jws, payload_sha256 FROM events ORDER BY seq").fetchall()
    conn.close()
    prev = None
    for index, (seq, jws, digest) in enumerate(rows, start=1):
        checked = verify(bytes(jws), ring, EVENT_TYP)
        assert seq == index == checked.payload["seq"]
        assert checked.payload["prev"] == prev
        assert hashlib.sha256(checked.payload_bytes).hexdigest() == digest
        prev = digest
    return len(rows)


def test_outbox_append_numbers_chains_and_signs(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "data" / "outbox.sqlite"
    with Outbox(path, signer) as outbox:
        entries = [outbox.append(make_payload) for _ in range(3)]
        assert [e.seq for e in entries] == [1, 2, 3]
        assert entries[0].payload["prev"] is None
        first_bytes = verify(entries[0].jws, KeyRing.from_jwks([signer.public_jwk]),
                             EVENT_TYP).payload_bytes
        assert entries[1].payload["prev"] == hashlib.sha256(first_bytes).hexdigest()
        assert outbox.last_seq() == 3 and outbox.pending_count() == 3
        assert list(outbox.events(0)) == [e.jws for e in entries]
        assert list(outbox.events(2)) == [entries[2].jws]
    assert assert_chain(path, signer) == 3
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert (path.stat().st_mode & 0o777) == 0o600
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # stored in the file
    conn.close()


def test_outbox_connection_is_wal_with_synchronous_full(tmp_path: Path, signer: Signer) -> None:
    with Outbox(tmp_path / "o.sqlite", signer) as outbox:
        assert outbox.durability() == ("wal", 2)  # PRAGMA synchronous: 2 = FULL
        outbox.append(make_payload)
        assert outbox.durability() == ("wal", 2)


def test_outbox_unwritable_place_is_an_outbox_error(tmp_path: Path, signer: Signer) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OutboxError, match="cannot open outbox"):
        Outbox(blocker / "outbox.sqlite", signer)


def test_outbox_survives_reopen_and_continues_the_chain(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "outbox.sqlite"
    with Outbox(path, signer) as outbox:
        outbox.append(make_payload)
    with Outbox(path, signer) as outbox:
        assert outbox.append(make_payload).seq == 2
    assert assert_chain(path, signer) == 2


def test_outbox_failed_payload_builder_leaves_nothing(tmp_path: Path, signer: Signer) -> None:
    def broken(seq: int, prev: str | None) -> dict[str, Any]:
        raise RuntimeError("boom")

    with Outbox(tmp_path / "o.sqlite", signer) as outbox:
        outbox.append(make_payload)
        with pytest.raises(RuntimeError):
            outbox.append(broken)
        with pytest.raises(OutboxError, match="seq/prev"):
            outbox.append(lambda seq, prev: make_payload(seq + 1, prev))
        assert outbox.append(make_payload).seq == 2


def test_outbox_without_signer_refuses_to_append(tmp_path: Path, signer: Signer) -> None:
    with Outbox(tmp_path / "o.sqlite") as outbox, pytest.raises(OutboxError, match="signing key"):
        outbox.append(make_payload)


def test_outbox_apply_ack_counts_only_new(tmp_path: Path, signer: Signer) -> None:
    with Outbox(tmp_path / "o.sqlite", signer) as outbox:
        for _ in range(6):
            outbox.append(make_payload)
        assert outbox.apply_ack(2, [5]) == 3
        assert [seq for seq, _ in outbox.unacked(10)] == [3, 4, 6]
        assert outbox.unacked(1)[0][0] == 3
        assert [seq for seq, _ in outbox.unacked(1, after=3)] == [4]  # pages by seq
        assert [seq for seq, _ in outbox.unacked(10, after=4)] == [6]
        assert outbox.unacked(10, after=6) == []
        assert outbox.apply_ack(2, [5, 6]) == 1
        assert outbox.pending_count() == 2


def test_outbox_prune_keeps_unacked_and_the_last_event(tmp_path: Path, signer: Signer) -> None:
    clock = SimulatedClock(START_AT)
    path = tmp_path / "o.sqlite"
    with Outbox(path, signer, clock=clock) as outbox:
        for _ in range(4):
            outbox.append(make_payload)
        outbox.apply_ack(1, [2, 4])  # 3 stays unacked
        later = START_AT + timedelta(days=401)
        assert outbox.prune(START_AT + timedelta(days=10), 400) == 0
        assert outbox.prune(later, 400) == 2  # 1 and 2; not 3 (unacked), not 4 (last)
        assert [e for e in outbox.events(0)] and outbox.last_seq() == 4
        assert outbox.append(make_payload).seq == 5
        conn = sqlite3.connect(path)
        seqs = [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")]
        conn.close()
        assert seqs == [3, 4, 5]


def test_outbox_meta_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path) as outbox:
        assert outbox.get_meta("schedule_version") is None
        assert outbox.get_meta("schedule_version", "0") == "0"
        outbox.set_meta("schedule_version", "7")
        outbox.set_meta("schedule_version", "8")
    with Outbox(path) as outbox:
        assert outbox.get_meta("schedule_version") == "8"


def test_outbox_two_threads_never_share_a_seq(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "o.sqlite"
    with Outbox(path, signer) as outbox:
        def writer() -> None:
            for _ in range(25):
                outbox.append(make_payload)

        def acker() -> None:
            for through in range(0, 50, 5):
                outbox.apply_ack(through)
                outbox.pending_count()

        threads = [threading.Thread(target=writer), threading.Thread(target=writer),
                   threading.Thread(target=acker)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert assert_chain(path, signer) == 50


ZYGOTE = """
import os, sys
from pathlib import Path
from firmware_daemon.airing.outbox import Outbox
from radio_protocol.jose import Signer, load_private_key
signer = Signer(load_private_key(Path(sys.argv[2])))
for _ in sys.stdin:  # one writer per line: forked, so no interpreter start-up per kill
    pid = os.fork()
    if pid == 0:
        outbox = Outbox(Path(sys.argv[1]), signer)
        while True:
            entry = outbox.append(lambda seq, prev: {"v": 1, "type": "airing", "seq": seq,
                                                     "prev": prev, "pad": "x" * (seq * 997 % 5000)})
            os.write(1, b"%d\\n" % entry.seq)  # reported only once committed
    # one os.write per line (atomic on a pipe): parent and child share this stdout, and
    # print's buffered writes once interleaved into "pid52"
    os.write(1, b"pid %d\\n" % pid)
    os.waitpid(pid, 0)
    os.write(1, b"reaped\\n")
"""
KILLS = 20


def test_outbox_sigkill_at_random_moments_never_tears_the_chain(tmp_path: Path,
                                                               signer: Signer) -> None:
    """SIGKILL a writer KILLS times at a random moment of its append cycle (after a random
    number of commits, plus a random fraction of the next ones): every event it reported
    committed is there, seq runs 1..N, prev chains, every row verifies, no torn page."""
    path = tmp_path / "data" / "outbox.sqlite"
    key_path = tmp_path / "keys" / "station.key"
    rng = random.Random(20240305)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    zygote = subprocess.Popen([sys.executable, "-c", ZYGOTE, str(path), str(key_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=REPO)
    assert zygote.stdin is not None and zygote.stdout is not None
    stored = [0]
    try:
        for _ in range(KILLS):
            zygote.stdin.write(b"go\n")
            zygote.stdin.flush()
            target = stored[-1] + rng.randint(1, 12)
            pid, reported = 0, 0
            while not pid or reported < target:
                line = zygote.stdout.readline()
                assert line, f"writer died before seq {target}"
                if line.startswith(b"pid "):
                    pid = int(line.split()[1])
                else:
                    reported = int(line)
            time.sleep(rng.uniform(0.0, 0.004))  # somewhere inside the following appends
            os.kill(pid, signal.SIGKILL)
            while zygote.stdout.readline().strip() != b"reaped":
                pass  # seqs printed just before the kill
            count = assert_chain(path, signer)
            assert count >= reported  # nothing reported as committed is lost
            stored.append(count)
            conn = sqlite3.connect(path)
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            conn.close()
    finally:
        zygote.kill()
        zygote.wait()
        zygote.stdin.close()
        zygote.stdout.close()
    assert all(b > a for a, b in zip(stored, stored[1:], strict=False))
    with Outbox(path, signer) as outbox:  # and the next writer continues the chain
        entry = outbox.append(lambda seq, prev: {"v": 1, "seq": seq, "prev": prev})
        assert entry.seq == stored[-1] + 1
    assert assert_chain(path, signer) == stored[-1] + 1
    json.loads(entry.jws)
