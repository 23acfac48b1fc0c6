"""Each program installs only what it needs: ``pip install 'commune-radio[station]'`` on a Pi
pulls no PDF, spreadsheet or web library; ``[district]`` on the server pulls no GPIO or audio
output library. Each extra goes into a fresh venv (no system site-packages) from a wheel built
from a copy of this checkout; there the entry points' ``--help`` and ``check`` run against a
real config, and every module of the program imports.

Needs PyPI (through pip's own cache, so a second run is quick) as CI has.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from mqtt_broker import make_tls_files
from test_link_support import minimal_station_yaml

from radio_protocol.jose import load_or_create_private_key

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DISTRICT = REPO / "config" / "district.example.yaml"
WEB_STACK = ("fastapi", "starlette", "uvicorn", "jinja2", "flask", "werkzeug", "django",
             "aiohttp", "httpx", "gunicorn", "python-multipart")


@dataclass(frozen=True)
class Program:
    """One program's extra: what it must bring, what it must not, what it runs."""

    extra: str
    entry_point: str
    description: str  # the --help text names the program so
    packages: tuple[str, ...]  # every module of these must import
    required: tuple[str, ...]
    forbidden: tuple[str, ...]


STATION = Program(
    extra="station", entry_point="radio-station", description="Commune Radio station daemon",
    packages=("radio_protocol", "hal", "firmware_daemon"),
    required=("gpiozero", "colorzero", "sounddevice", "soundfile", "numpy", "soxr", "paho-mqtt",
              "pyyaml", "cryptography", "python-dateutil"),
    forbidden=("reportlab", "openpyxl", "et-xmlfile", "pillow", *WEB_STACK),
)
DISTRICT = Program(
    extra="district", entry_point="radio-district", description="Commune Radio district collector",
    packages=("radio_protocol", "district_collector"),
    required=("reportlab", "openpyxl", "soundfile", "paho-mqtt", "pyyaml", "cryptography",
              "python-dateutil", "argon2-cffi"),
    forbidden=("gpiozero", "colorzero", "sounddevice", "lgpio", "rpi-gpio", "pigpio", "soxr"),
)
PROGRAMS = (STATION, DISTRICT)


def _canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return name.lower().replace("_", "-").replace(".", "-")


def _clean_env() -> dict[str, str]:
    """The environment without anything that would let the venv see this checkout's code or
    the test venv's packages."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(argv: list[str | Path], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=_clean_env(), capture_output=True,
                          text=True, timeout=timeout)


def _checked(argv: list[str | Path], cwd: Path, timeout: float = 300) -> str:
    result = _run(argv, cwd, timeout)
    assert result.returncode == 0, f"{' '.join(map(str, argv))}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _copy_checkout(dest: Path) -> Path:
    """The checkout's files (tracked and new, not ignored) copied to ``dest``: building a wheel
    writes build/ and *.egg-info into its source tree, which must not be this one."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True, timeout=60).stdout
    for name in filter(None, listed.decode("utf-8").split("\0")):
        source = REPO / name
        if source.is_file():  # a file deleted in the work tree is still listed
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def _make_venv(path: Path) -> Path:
    """A fresh venv at ``path`` (with pip, without the system's site-packages); its bin/."""
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(path)
    return path / "bin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """``extra -> venv bin/`` for each program, both installed from one wheel of this checkout."""
    root = tmp_path_factory.mktemp("extras")
    source = _copy_checkout(root / "src")
    bins = {p.extra: _make_venv(root / f"venv-{p.extra}") for p in PROGRAMS}
    _checked([bins[STATION.extra] / "python", "-m", "pip", "wheel", "-q", "--no-deps",
              "-w", root / "dist", source], root)
    [wheel] = (root / "dist").glob("commune_radio-*.whl")

    def install(program: Program) -> str:
        return _checked([bins[program.extra] / "python", "-m", "pip", "install", "-q",
                         f"{wheel}[{program.extra}]"], root, timeout=600)

    with ThreadPoolExecutor(len(PROGRAMS)) as pool:  # downloads overlap
        list(pool.map(install, PROGRAMS))
    yield bins


def _distributions(bin_dir: Path, cwd: Path) -> set[str]:
    out = _checked([bin_dir / "python", "-c",
                    "import importlib.metadata as m, json; "
                    "print(json.dumps([d.metadata['Name'] for d in m.distributions()]))"], cwd)
    return {_canonical(name) for name in json.loads(out)}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.extra)
def test_install_extra_brings_only_its_program_libraries(installed: dict[str, Path], program: Program,
                                                         tmp_path: Path) -> None:
    cfg = (installed[program.extra].parent / "pyvenv.cfg").read_text(encoding="utf-8")
    assert "include-system-site-packages = false" in cfg  # apt's packages cannot hide a gap
    found = _distributions(installed[program.extra], tmp_path)
    assert "commune-radio" in found
    assert set(program.required) <= found, sorted(set(program.required) - found)
    assert not set(program.forbidden) & found, sorted(set(program.forbidden) & found)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.extra)
def test_install_extra_imports_every_module_of_its_program(installed: dict[str, Path], program: Program,
                                                           tmp_path: Path) -> None:
    """Every module of the program imports from the installed wheel (not this checkout), so
    no module of it needs a library of the other program's extra."""
    script = (
        "import importlib, pkgutil, sys\n"
        f"for name in {list(program.packages)!r}:\n"
        "    package = importlib.import_module(name)\n"
        "    assert package.__file__.startswith(sys.prefix), package.__file__\n"
        "    for info in pkgutil.walk_packages(package.__path__, name + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "        print(info.name)\n"
    )
    out = _checked([installed[program.extra] / "python", "-c", script], tmp_path)
    assert len(out.split()) >= 10


@pytest.mark.timeout(900)
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.extra)
def test_install_extra_entry_point_help(installed: dict[str, Path], program: Program, tmp_path: Path) -> None:
    result = _run([installed[program.extra] / program.entry_point, "--help"], tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {program.entry_point}")
    assert program.description in result.stdout and "check" in result.stdout


def _station_files(root: Path) -> Path:
    password = root / "station.password"
    password.write_text("s3cret\n", encoding="utf-8")
    ca, _, _ = make_tls_files(root / "tls")
    return minimal_station_yaml(root, amplifier={"pin": 17},
                                mqtt={"host": "mqtt.kon-ray.example", "port": 8883, "username": "dak-koi-01",
                                      "password_file": str(password), "tls": {"ca": str(ca)}})


def _district_files(root: Path) -> Path:
    data = yaml.safe_load(EXAMPLE_DISTRICT.read_text(encoding="utf-8"))
    data["database"] = str(root / "state" / "collector.sqlite3")
    data["signing_key"] = str(root / "state" / "district.key")
    load_or_create_private_key(root / "state" / "district.key")
    (root / "collector.password").write_text("s3cret\n", encoding="utf-8")
    ca, _, _ = make_tls_files(root / "tls")
    data["mqtt"]["password_file"] = str(root / "collector.password")
    data["mqtt"]["tls"]["ca"] = str(ca)
    path = root / "district.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.timeout(900)
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.extra)
def test_install_extra_check_accepts_a_real_config_and_names_a_broken_one(
        installed: dict[str, Path], program: Program, tmp_path: Path) -> None:
    config = (_station_files if program is STATION else _district_files)(tmp_path)
    command = [installed[program.extra] / program.entry_point, "-c", config, "check"]
    good = _run(command, tmp_path, timeout=60)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.startswith(f"OK: {config} (")
    password = tmp_path / ("station.password" if program is STATION else "collector.password")
    password.unlink()
    bad = _run(command, tmp_path, timeout=60)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"mqtt.password_file: cannot read {password}" in bad.stdout

