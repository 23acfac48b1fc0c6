"""Single-instance lock: one ``run``/``play`` per data_dir, with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from firmware_daemon.service.instance_lock import LOCK_FILE_NAME, InstanceLocked, acquire, release

REPO = Path(__file__).resolve().parents[2]
BUSY = "another radio-station is running with this data_dir (pid {pid}): stop it first " \
       "(systemctl stop radio-station)"


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(
        'station: {id: dak-koi-01, district: kon-ray, commune: "23335"}\n'
        "data_dir: data\n"
        "amplifier: {pin: 17, warmup_s: 0.05, tail_s: 0.05}\n"
        "gpio: {pin_factory: mock}\n"
        "audio: {device: testout, margin_s: 2}\n"
        "require_synced_clock: false\n",
        encoding="utf-8")
    return path


def tone(path: Path) -> Path:
    t = np.arange(3200) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000, subtype="PCM_16")
    return path


def station(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "firmware_daemon.cli", "-c", str(config), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


def wait_for_lock_pid(lock: Path, pid: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the first run exited"
        if lock.exists() and lock.read_text().strip() == str(pid):
            return
        time.sleep(0.05)
    raise AssertionError("the first run never took the lock")


def test_lock_second_run_and_play_refused_until_first_is_killed(
        tmp_path: Path, capture_file: Path, procs: list[subprocess.Popen[bytes]]) -> None:
    config = write_config(tmp_path)
    assert station(config, "keygen").returncode == 0
    log = (tmp_path / "first.log").open("wb")
    first = subprocess.Popen([sys.executable, "-m", "firmware_daemon.cli", "-c", str(config), "run"],
                             cwd=REPO, stdout=log, stderr=log)
    procs.append(first)
    lock = tmp_path / "data" / LOCK_FILE_NAME
    wait_for_lock_pid(lock, first.pid, first)

    for args in (["run"], ["play", str(tone(tmp_path / "a.wav"))]):
        done = station(config, *args)
        assert done.returncode == 1, args
        assert BUSY.format(pid=first.pid) in done.stderr, done.stderr
    assert not capture_file.exists()  # the refused play never opened the sound card
    # read-only commands and amp-off still work while the service runs
    assert station(config, "events").returncode == 0
    amp_off = station(config, "amp-off")
    assert amp_off.returncode == 0 and amp_off.stdout.startswith("amplifier off"), amp_off.stderr
    assert first.poll() is None  # the service was not disturbed

    first.send_signal(signal.SIGKILL)  # no cleanup at all: the kernel drops the lock
    first.wait(10)
    assert lock.exists()
    played = station(config, "play", str(tmp_path / "a.wav"), "--program", "chuyen-doi-so")
    assert played.returncode == 0, played.stderr
    assert "aired: completed seq=1" in played.stdout
    assert capture_file.stat().st_size > 0


def test_lock_held_by_another_process_names_its_pid(tmp_path: Path,
                                                    procs: list[subprocess.Popen[bytes]]) -> None:
    data_dir = tmp_path / "fresh" / "data"  # created (0700) by the lock
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; "
         "from firmware_daemon.service.instance_lock import acquire; "
         f"acquire(Path({str(data_dir)!r})); print('held', flush=True); time.sleep(60)"],
        cwd=REPO, stdout=subprocess.PIPE)
    procs.append(holder)
    assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
    assert (data_dir.stat().st_mode & 0o777) == 0o700
    with pytest.raises(InstanceLocked) as info:
        acquire(data_dir)
    assert str(info.value) == BUSY.format(pid=holder.pid)
    holder.terminate()
    holder.wait(10)
    fd = acquire(data_dir)  # free again once the holder is gone
    try:
        assert (data_dir / LOCK_FILE_NAME).read_text() == f"{os.getpid()}\n"
    finally:
        release(fd)


def test_lock_file_left_read_only_by_another_user_still_locks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock file a root 'play' left behind (not writable by the service user) still works."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / LOCK_FILE_NAME).write_text("4242\n")
    real_open = os.open

    def open_as_other_user(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if str(path).endswith(LOCK_FILE_NAME) and flags & os.O_RDWR:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", open_as_other_user)
    fd = acquire(data_dir)
    try:
        with pytest.raises(InstanceLocked, match=r"\(pid 4242\)"):  # the stale note, still locked
            acquire(data_dir)
    finally:
        release(fd)
    release(acquire(data_dir))
