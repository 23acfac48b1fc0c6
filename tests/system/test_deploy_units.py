"""The shipped systemd units and install scripts: verify, security score, what they promise."""

from __future__ import annotations

import configparser
import functools
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from mqtt_broker import BrokerEnv, make_district

from district_collector.cli import COMMAND_MODULES as DISTRICT_MODULES
from firmware_daemon.cli import COMMAND_MODULES as STATION_MODULES
from radio_protocol.cli_base import build_parser

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = REPO / "systemd"
UNITS = sorted(SYSTEMD.glob("*.service"))
SCRIPTS = sorted(SYSTEMD.glob("install-*.sh"))
SHELL_FILES = sorted(SYSTEMD.glob("*.sh"))  # the install scripts and the lib.sh they source
VENV_BIN = "/opt/commune-radio/.venv/bin/"
MAX_EXPOSURE = 2.5
needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze not installed (Debian package systemd)")
needs_strace = pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed (Debian package strace)")
# Syscalls a real airing makes that the station unit denies (EPERM), each harmless there:
HARMLESS_DENIED = {
    "fchown": "SQLite gives a new -wal/-journal the database owner's uid only when run as root",
    "mbind": "OpenBLAS (numpy) NUMA placement hint; falls back",
    "set_mempolicy": "libnuma probes NUMA support at load; falls back",
    "sched_setscheduler": "ALSA's jack plugin (libasound2-plugins) while PortAudio lists devices",
}


def _unit(path: Path) -> dict[str, list[str]]:
    """``"Section.Key" -> [values]`` (keys may repeat, as in systemd)."""
    values: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        values.setdefault(f"{section}.{key}", []).append(value)
    return values


def test_units_are_shipped() -> None:
    assert {u.name for u in UNITS} >= {"radio-station.service", "radio-district.service"}


@needs_analyze
@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_passes_systemd_analyze_verify(unit: Path, tmp_path: Path) -> None:
    """verify wants the ExecStart binaries to exist: check a copy pointing at /bin/true."""
    text = unit.read_text(encoding="utf-8")
    assert VENV_BIN in text
    copy = tmp_path / unit.name
    copy.write_text(re.sub(re.escape(VENV_BIN) + r"radio-(station|district)", "/bin/true", text))
    result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True,
                            timeout=60)
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if unit.name in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


@needs_analyze
@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_security_exposure_at_most_2_5(unit: Path) -> None:
    # --threshold counts in tenths of the displayed score (25 = 2.5), exit 1 above it
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", "--threshold=25", str(unit)],
                            capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_station_unit_promises() -> None:
    u = _unit(SYSTEMD / "radio-station.service")
    s = lambda key: u.get(f"Service.{key}", [])  # noqa: E731
    assert s("Type") == ["notify"] and s("NotifyAccess") == ["main"]
    assert s("WatchdogSec") == ["30"] and s("Restart") == ["always"]
    assert "time-sync.target" in " ".join(u["Unit.After"]) and "time-sync.target" in " ".join(u["Unit.Wants"])
    assert s("User") == ["radio-station"] and s("SupplementaryGroups") == ["gpio audio"]
    assert s("StateDirectory") == ["commune-radio"] and s("StateDirectoryMode") == ["0700"]
    assert s("DevicePolicy") == ["closed"]
    assert set(s("DeviceAllow")) == {"char-gpiochip rw", "char-alsa rw"}
    assert "PrivateDevices" not in " ".join(u)  # it would hide the gpiochip and sound devices
    assert s("ExecStart")[0].endswith("radio-station -c /etc/commune-radio/station.yaml run")
    for key in ("ExecStartPre", "ExecStopPost"):
        assert s(key)[0].endswith("radio-station -c /etc/commune-radio/station.yaml amp-off"), key
    assert s("MemoryDenyWriteExecute") == ["yes"] and s("UMask") == ["0077"]
    # kernel_clock_synced() reads adjtimex: ProtectClock= and @system-service would deny it
    assert set(s("SystemCallFilter")[-1].split()) == {"adjtimex", "clock_adjtime", "clock_adjtime64"}
    assert "ProtectClock" not in " ".join(u)
    assert u["Install.WantedBy"] == ["multi-user.target"]


def test_district_unit_promises() -> None:
    u = _unit(SYSTEMD / "radio-district.service")
    s = lambda key: u.get(f"Service.{key}", [])  # noqa: E731
    assert s("User") == ["radio-district"] and s("Restart") == ["always"]
    assert s("StateDirectory") == ["commune-radio-district"] and s("StateDirectoryMode") == ["0700"]
    assert s("ExecStart")[0].endswith("radio-district -c /etc/commune-radio/district.yaml run")
    assert s("PrivateDevices") == ["yes"] and "mosquitto.service" in " ".join(u["Unit.After"])


@pytest.mark.parametrize(("unit", "modules", "prog"), [
    ("radio-station.service", STATION_MODULES, "radio-station"),
    ("radio-district.service", DISTRICT_MODULES, "radio-district"),
    ("radio-district@.service", DISTRICT_MODULES, "radio-district"),
])
def test_unit_commands_exist_in_the_cli(unit: str, modules: list[str], prog: str) -> None:
    parser = build_parser(prog, "", modules)
    for key, values in _unit(SYSTEMD / unit).items():
        if key.startswith("Service.Exec"):
            for value in values:
                argv = value.lstrip("-@+!").split()
                assert argv[0] == VENV_BIN + prog
                args = parser.parse_args(argv[1:])
                assert args.config.startswith("/etc/commune-radio/")


def test_units_parse_as_ini() -> None:
    for unit in UNITS:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read_string(unit.read_text(encoding="utf-8"))
        assert parser.sections()[:2] == ["Unit", "Service"], unit.name


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_install_script_syntax(script: Path) -> None:
    text = script.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    usage = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True, timeout=10)
    assert usage.returncode == 0 and usage.stdout.startswith("Usage: sudo ")
    bad = subprocess.run(["bash", str(script), "--no-such-option"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "unknown option: --no-such-option" in bad.stderr


def test_install_lib_syntax() -> None:
    """lib.sh is sourced, not run: it parses and defines what the install scripts call."""
    lib = SYSTEMD / "lib.sh"
    assert subprocess.run(["bash", "-n", str(lib)], capture_output=True).returncode == 0
    for script in SCRIPTS:
        assert '. "$REPO/systemd/lib.sh"' in script.read_text(encoding="utf-8"), script.name


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
@pytest.mark.parametrize("script", SHELL_FILES, ids=lambda p: p.name)
def test_install_script_shellcheck(script: Path) -> None:
    result = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_install_station_bounds_the_wait_for_time_sync() -> None:
    """No RTC: the unit waits for time-sync.target, which must not wait forever offline."""
    text = (SYSTEMD / "install-station.sh").read_text(encoding="utf-8")
    assert "systemctl enable systemd-time-wait-sync.service" in text
    assert re.search(r"systemd-time-wait-sync\.service\.d/commune-radio\.conf <<'EOF'\n(#.*\n)?"
                     r"\[Service\]\nTimeoutStartSec=180\nEOF", text)


@pytest.mark.parametrize(("script", "unit", "user", "extra"), [
    ("install-station.sh", "radio-station.service", "radio-station", "station"),
    ("install-district.sh", "radio-district.service", "radio-district", "district"),
])
def test_install_script_matches_its_unit(script: str, unit: str, user: str, extra: str) -> None:
    """The script creates the unit's user and installs what the unit runs, where it runs it,
    with its own program's extra only (a Pi gets no PDF library, the server no GPIO one)."""
    text = (SYSTEMD / script).read_text(encoding="utf-8")
    assert re.search(rf'^install_code "\$REPO" "\$PREFIX" "\$PYTHON" {extra}\b', text, re.M)
    assert 'pip" install -q --upgrade "$prefix/src[$extra]"' in (SYSTEMD / "lib.sh").read_text(encoding="utf-8")
    assert f"SERVICE_USER={user}" in text and f"UNIT={unit}" in text
    assert "useradd --system --no-create-home" in text
    assert "PREFIX=/opt/commune-radio" in text and "CONF_DIR=/etc/commune-radio" in text
    assert 'install -m 0644 "$REPO/systemd/$UNIT" "/etc/systemd/system/$UNIT"' in text
    assert re.search(r'runuser -u "\$SERVICE_USER" -- "\$BIN" -c "\$[A-Z_]+(/station\.yaml)?"? keygen', text)
    # the docs run the bare command (sudo radio-district ..., sudo -u radio-station radio-station ...)
    assert f'ln -sfn "$BIN" /usr/local/bin/{unit.split(".")[0]}' in text


def test_install_district_gives_the_stations_port_and_owns_the_collectors_password_file(
        tmp_path: Path) -> None:
    """The broker's TLS listener is the stations' port (mqtt.station_port), never the
    collector's own (mqtt.port); mosquitto can read both password files."""
    text = (SYSTEMD / "install-district.sh").read_text(encoding="utf-8")
    reader = re.search(r"<<'PYEOF'\n(.*?)\nPYEOF", text, re.S)
    assert reader is not None
    kit = make_district(tmp_path, port=1884)
    kit.district_config.write_text(kit.district_config.read_text(encoding="utf-8").replace(
        "  port: 1884\n", "  port: 1884\n  station_port: 9883\n"), encoding="utf-8")
    values = {key: subprocess.run([sys.executable, "-", str(kit.district_config), key], input=reader.group(1),
                                  capture_output=True, text=True, check=True).stdout.strip()
              for key in ("station_port", "host")}
    assert values == {"station_port": "9883", "host": "127.0.0.1"}
    assert '[ -n "$PORT" ] || PORT="$(conf_value station_port)"' in text
    assert re.search(r'broker-config "\$BROKER_DIR" --port "\$PORT"', text)
    assert re.search(r'chmod 0640 "\$BROKER_DIR/passwd" "\$BROKER_DIR/collector.passwd"', text)


@functools.cache
def _syscalls(name: str) -> frozenset[str]:
    """A syscall name, or every syscall of a ``@group`` (nested groups expanded) as systemd knows it."""
    if not name.startswith("@"):
        return frozenset([name])
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    found: set[str] = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if item and not item.startswith("#"):
            found |= _syscalls(item)
    return frozenset(found)


def _allowed_syscalls(unit: Path) -> set[str]:
    """The allow-list the unit's SystemCallFilter= lines build (the first one is an allow-list)."""
    allowed: set[str] | None = None
    for value in _unit(unit)["Service.SystemCallFilter"]:
        deny = value.startswith("~")
        names = set().union(*(_syscalls(item) for item in value.lstrip("~").split()))
        if allowed is None:
            assert not deny, "the first SystemCallFilter= must be an allow-list"
            allowed = set()
        allowed = allowed - names if deny else allowed | names
    assert allowed
    return allowed


@needs_analyze
@needs_strace
def test_station_unit_sandbox_lets_a_real_airing_through(tmp_path: Path, capture_file: Path) -> None:
    """Trace a real ``radio-station play`` (PortAudio, mock pins, outbox, signing, clock state)
    and hold every syscall, socket family and memory mapping against the unit's filters."""
    unit = SYSTEMD / "radio-station.service"
    config = tmp_path / "station.yaml"
    config.write_text('station: {id: dak-koi-01, district: kon-ray, commune: "23335"}\n'
                      "data_dir: data\namplifier: {pin: 17, warmup_s: 0.05, tail_s: 0.05}\n"
                      "gpio: {pin_factory: mock}\naudio: {device: testout, margin_s: 2}\n", encoding="utf-8")
    media = tmp_path / "seg.wav"
    sf.write(media, (0.3 * np.sin(np.arange(4800) / 4.0)).astype(np.float32), 16000, subtype="PCM_16")
    cmd = [sys.executable, "-m", "firmware_daemon.cli", "-c", str(config)]
    assert subprocess.run(cmd + ["keygen"], capture_output=True, cwd=REPO, timeout=60).returncode == 0
    trace = tmp_path / "trace.txt"
    done = subprocess.run(["strace", "-f", "-qq", "-o", str(trace), *cmd, "play", str(media)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0 and "aired: completed seq=1" in done.stdout, done.stderr
    assert capture_file.stat().st_size > 0
    used = _assert_trace_fits_unit(trace, unit)
    assert "clock_adjtime" in used or "adjtimex" in used  # clock_synced asks the kernel
    assert not {"adjtimex", "clock_adjtime", "clock_adjtime64"} - _allowed_syscalls(unit)


def _assert_trace_fits_unit(trace: Path, unit: Path) -> set[str]:
    """The syscalls in an strace log; fails on any the unit denies (beyond HARMLESS_DENIED),
    on a socket family it forbids, or on memory MemoryDenyWriteExecute=yes would refuse."""
    calls = [line.split(None, 1)[1] for line in trace.read_text().splitlines() if " " in line]
    used = {m.group(1) for c in calls if (m := re.match(r"([a-z0-9_]+)\(", c))}
    allowed = _allowed_syscalls(unit)
    if _unit(unit).get("Service.ProtectClock") == ["yes"]:
        allowed -= _syscalls("@clock")
    denied = used - allowed
    assert denied <= set(HARMLESS_DENIED), f"{unit.name} would deny {sorted(denied - set(HARMLESS_DENIED))}"
    # MemoryDenyWriteExecute=yes: no writable+executable mapping, no mprotect adding PROT_EXEC
    assert _unit(unit)["Service.MemoryDenyWriteExecute"] == ["yes"]
    wx = [c for c in calls if re.match(r"(mmap|mprotect|pkey_mprotect)\(", c) and "PROT_EXEC" in c
          and ("PROT_WRITE" in c or not c.startswith("mmap"))]
    assert not wx, wx[:3]
    families = set(re.findall(r"^socket\((AF_[A-Z0-9]+)", "\n".join(calls), re.M))
    assert families <= set(_unit(unit)["Service.RestrictAddressFamilies"][0].split()), families
    return used


@needs_analyze
@needs_strace
def test_district_unit_sandbox_lets_the_collector_run(mqtt_env: BrokerEnv, tmp_path: Path) -> None:
    """Trace the real collector connecting to a real broker, storing and acking an event."""
    trace = tmp_path / "trace.txt"
    log = tmp_path / "collector.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["strace", "-f", "-qq", "-o", str(trace), sys.executable, "-m",
                                 "district_collector.cli", "-c", str(mqtt_env.district_config), "run"],
                                cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while b"mqtt connected" not in log.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        station = mqtt_env.client("dak-koi-01")
        (event,) = mqtt_env.chain("dak-koi-01", 1)
        station.publish("cr/v1/kon-ray/station/dak-koi-01/event", event, qos=1).wait_for_publish(5)
        while b"batch committed" not in log.read_bytes():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        station.disconnect()
    finally:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        for pid in (children.read_text().split() if children.exists() else []):
            subprocess.run(["kill", "-TERM", pid], check=False)  # the traced collector, by its id
        proc.wait(timeout=30)
    assert b"collector stopped" in log.read_bytes()
    used = _assert_trace_fits_unit(trace, SYSTEMD / "radio-district.service")
    assert {"connect", "fdatasync"} <= used


def _doc_commands(text: str) -> list[tuple[str, list[str]]]:
    """``(prog, argv)`` for every full radio-station/radio-district command in a Markdown text:
    lines of code blocks (with ``\\`` continuations) and inline code spans."""
    text = re.sub(r"\\\n\s*", " ", text)
    spans = re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S)
    candidates = [line for block in spans for line in block.splitlines()]
    candidates += re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", text, flags=re.M | re.S))
    found: list[tuple[str, list[str]]] = []
    for line in candidates:
        for m in re.finditer(r"(?:^|sudo |sudo -u radio-\w+ |\.venv/bin/)(radio-(?:station|district)) (.*)", line):
            rest = re.split(r"\s(?:#|&&|>|\|)\s?", " " + m.group(2))[0]
            if "..." in rest or "<" in rest:
                continue
            argv = shlex.split(rest)
            if argv and (argv[0] == "-c" or argv[0] == "verify"):
                found.append((m.group(1), argv))
    return found


def test_deploy_doc_commands_match_the_real_cli() -> None:
    """Every radio-station/radio-district command in docs/DEPLOY.md and the README parses with
    the real CLI (an option renamed or a typo fails here), and install-script options exist."""
    parsers = {"radio-station": build_parser("radio-station", "", STATION_MODULES),
               "radio-district": build_parser("radio-district", "", DISTRICT_MODULES)}
    texts = [(REPO / "docs" / "DEPLOY.md").read_text(encoding="utf-8"),
             (REPO / "README.md").read_text(encoding="utf-8").split("## Deploying", 1)[1].split("\n## ", 1)[0]]
    commands = [cmd for text in texts for cmd in _doc_commands(text)]
    subcommands = {argv[2] if argv[0] == "-c" else argv[0] for _, argv in commands}
    assert {"provision", "schedule", "report", "evidence", "verify", "stations", "import", "check",
            "play", "keygen", "events", "amp-off"} <= subcommands, subcommands
    for prog, argv in commands:
        try:
            parsers[prog].parse_args(argv)
        except SystemExit as exc:
            raise AssertionError(f"{prog} {' '.join(argv)}: the CLI refuses it") from exc
    for text in texts:
        for script, args in re.findall(r"\./systemd/(install-\w+\.sh)((?: --?[\w-]+(?: [^\s`-][^\s`]*)?)*)", text):
            labels = set(re.findall(r"^\s+(--[\w-]+)(?:\|[\w-]+)?\)", (SYSTEMD / script).read_text(), re.M))
            for option in re.findall(r"(--[\w-]+)", args):
                assert option in labels, f"{script} has no option {option}"
