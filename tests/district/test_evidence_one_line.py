"""One changed event is told in ONE line (station, seq, what failed), not as its echoes
(a seq "missing", a chain break, a dozen report.json differences); still NOT VERIFIED, exit 1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_evidence_support import PERIOD, build_district, read_lines, rewrite_manifest_hashes

from district_collector.cli import main
from district_collector.scoring.facts import payload_bytes


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    district = build_district(tmp_path_factory.mktemp("district"))
    out = tmp_path_factory.mktemp("bundles") / "bundle"
    assert main(["-c", str(district.config_path), "evidence", "--from", PERIOD[0], "--to", PERIOD[1],
                 "--out", str(out)]) == 0
    return out


def _flip(line: bytes, where: str) -> bytes:
    if where in ("first", "last"):
        index = 0 if where == "first" else len(line) - 1
    else:
        mark = f'"{where}":"'.encode()
        start = line.index(mark) + len(mark)
        index = (start + line.index(b'"', start)) // 2
    new = b"B" if line[index:index + 1] == b"A" else b"A"
    return line[:index] + new + line[index + 1:]


@pytest.mark.parametrize("rewrite_manifest", [False, True])
@pytest.mark.parametrize("line_index", [0, 10, 40, -1])
@pytest.mark.parametrize("where", ["payload", "signature", "protected", "first", "last"])
def test_verify_one_changed_event_is_one_line(original: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              where: str, line_index: int, rewrite_manifest: bool) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(original, bundle)
    lines = read_lines(bundle / "events.jsonl")
    event = json.loads(payload_bytes(lines[line_index]))
    number = line_index % len(lines) + 1
    lines[line_index] = _flip(lines[line_index], where)
    (bundle / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    if rewrite_manifest:
        rewrite_manifest_hashes(bundle)
    assert main(["verify", str(bundle)]) == 1
    out = capsys.readouterr().out
    failures = out.split("NOT VERIFIED / KHÔNG XÁC MINH ĐƯỢC:\n")[1].splitlines()
    about_events = [f for f in failures if "events.jsonl line" in f or "report.json" in f or "missing" in f]
    assert len(about_events) == 1, failures
    (line,) = about_events
    assert line.startswith(f"  - events.jsonl line {number}")
    assert f"station {event['station']}" in line and f"seq {event['seq']}" in line
    assert ("signature check failed" in line) or ("not a readable JWS" in line)
    assert "checked with this event as report.json lists it" in line
    file_problem = ("manifest.json: differs from the manifest the district signed" if rewrite_manifest
                    else "events.jsonl: SHA-256 or size differs")
    assert any(file_problem in f for f in failures)
    assert len(failures) == 2, failures  # the file-level line and the event's line, nothing else
