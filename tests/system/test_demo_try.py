"""What ``make demo`` tells a new user to try works as printed, from a clean shell; and its
progress, written to a pipe, is plain milestone lines, none repeated."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _clean_env(home: Path) -> dict[str, str]:
    """A new user's shell: no virtualenv, no PYTHONPATH, no ALSA_CONFIG_PATH."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


@pytest.mark.timeout(180)
def test_demo_try_commands_run_as_printed_and_progress_is_plain(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "demo.run", "--days", "3", "--stations", "1", "--fast", "--no-web",
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=150,
                          env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()

    progress = [ln for ln in lines if "slots recorded by the district" in ln]
    assert progress and len(progress) == len(set(progress)), "\n".join(progress)
    assert not any("[#" in ln or "[." in ln for ln in progress)  # no bar outside a terminal
    assert progress[0].strip().startswith("0 % of the slots recorded by the district (0/")
    assert progress[-1].strip().startswith("100 % of the slots recorded by the district (")

    start = next(i for i, ln in enumerate(lines) if ln.startswith("Try it yourself"))
    commands = [shlex.split(ln) for ln in lines[start + 1:] if ln.startswith("  ")]
    assert [c[3] for c in commands] == ["stations", "report", "schedule", "schedule", "check", "play"]
    outputs = {}
    for argv in commands:
        run = subprocess.run(argv, cwd=tmp_path, env=_clean_env(tmp_path), capture_output=True, text=True,
                             timeout=60, check=False)
        assert run.returncode == 0, f"{shlex.join(argv)}:\n{run.stdout}\n{run.stderr}"
        outputs[" ".join(argv[3:5])] = run.stdout + run.stderr
    assert "dak-rve-01" in outputs["stations"]
    report = next(v for k, v in outputs.items() if k.startswith("report"))
    assert "Thị trấn Đăk Rve" in report and "airings 0" not in report
    assert outputs["check"].startswith("OK: ")
    assert "aired: completed" in next(v for k, v in outputs.items() if k.startswith("play"))
