"""``radio-district broker-config OUTDIR``: a Mosquitto 2.x configuration for the district.

Writes into OUTDIR:
- ``mosquitto.conf``: a TLS listener on ``mqtt.port`` (cert/key from options, default
  ``OUTDIR/tls/server.crt`` and ``server.key``), optionally a plain listener bound to
  loopback (tests, local tools), no anonymous access, raised queue limits (Mosquitto's
  defaults lose QoS 1 messages under load, see docs/TESTING.md) and persistence in
  ``persistence_dir`` (created if missing): state belongs under ``/var/lib``, not in the
  configuration directory, so the command line defaults it to
  :data:`DEFAULT_PERSISTENCE_DIR`; the library's ``None`` keeps ``OUTDIR/data`` for brokers
  that live in one scratch directory (tests, benchmarks, the demo);
- ``passwd``: one credential per registered station (username = station id) and one for
  the collector (``mqtt.username``), hashed by ``mosquitto_passwd``;
- ``credentials/<user>.password``: each clear password, mode 0600, to hand to the station
  (or the collector's ``mqtt.password_file``). Existing passwords are kept: a password is
  taken from the station's ``mqtt_password_file`` / the collector's ``mqtt.password_file``
  when that file exists, else from an earlier ``credentials/<user>.password``, else generated;
- ``acl``: exactly docs/protocol.md: the collector reads ``event``/``status`` of every station of
  the district and writes their ``ack``/``schedule``; a station writes only its own
  ``event``/``status`` and reads only its own ``schedule``/``ack``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from district_collector.config import DistrictConfig
from radio_protocol.credentials import password_in_text
from radio_protocol.durable import atomic_write, ensure_private_dir
from radio_protocol.errors import CommuneRadioError
from radio_protocol.topics import district_filter, topic

DEFAULT_PERSISTENCE_DIR = Path("/var/lib/mosquitto/commune-radio")


class BrokerConfigError(CommuneRadioError):
    """The broker configuration cannot be generated."""


@dataclass(frozen=True)
class BrokerFiles:
    conf: Path
    passwd: Path
    acl: Path
    data_dir: Path
    credentials: dict[str, Path]


@dataclass(frozen=True)
class BrokerOptions:
    """Listener and process options. ``tls_port`` None: ``mqtt.port`` (8883 without mqtt)."""

    tls_port: int | None = None
    tls: bool = True
    certfile: Path | None = None
    keyfile: Path | None = None
    cafile: Path | None = None
    bind: str | None = None
    plain_port: int | None = None
    plain_bind: str = "127.0.0.1"
    run_as_user: str | None = None
    autosave_s: int = 5
    log_dest: str = "stderr"
    persistence_dir: Path | None = None  # None: OUTDIR/data

    def persistence_in(self, outdir: Path) -> Path:
        """Where Mosquitto keeps its database for a config written into ``outdir``."""
        return self.persistence_dir if self.persistence_dir is not None else outdir / "data"


def acl_text(config: DistrictConfig) -> str:
    """The ACL of docs/protocol.md, one ``user`` block per credential (no patterns, no anonymous)."""
    district = config.district.id
    collector = config.mqtt.username if config.mqtt else "collector"
    lines = [f"# Commune Radio ACL for district {district} (docs/protocol.md). Generated; do not edit.", "",
             f"user {collector}",
             f"topic read {district_filter(district, 'event')}",
             f"topic read {district_filter(district, 'status')}",
             f"topic write {district_filter(district, 'ack')}",
             f"topic write {district_filter(district, 'schedule')}", ""]
    for entry in config.stations:
        lines += [f"user {entry.id}",
                  f"topic write {topic(district, entry.id, 'event')}",
                  f"topic write {topic(district, entry.id, 'status')}",
                  f"topic read {topic(district, entry.id, 'schedule')}",
                  f"topic read {topic(district, entry.id, 'ack')}", ""]
    return "\n".join(lines)


MAX_PACKET_BYTES = 1024 * 1024
"""Largest MQTT packet the broker takes: a stranger's credential cannot flood the collector."""


def conf_text(outdir: Path, config: DistrictConfig, opts: BrokerOptions) -> str:
    port = opts.tls_port or (config.mqtt.port if config.mqtt else 8883)
    lines = [f"# Mosquitto config for Commune Radio district {config.district.id}. Generated.",
             "per_listener_settings false", "allow_anonymous false",
             f"password_file {outdir / 'passwd'}", f"acl_file {outdir / 'acl'}",
             "persistence true", f"persistence_location {opts.persistence_in(outdir)}/",
             f"autosave_interval {opts.autosave_s}",
             "# raised limits: the defaults (1000 queued, 20 in flight) drop QoS 1 messages",
             "max_queued_messages 100000", "max_inflight_messages 0", "max_queued_bytes 0",
             "# no station needs more: events are <= 64 KiB, schedules <= 256 KiB (docs/protocol.md)",
             f"max_packet_size {MAX_PACKET_BYTES}",
             "persistent_client_expiration 60d", f"log_dest {opts.log_dest}",
             "log_type error", "log_type warning", "log_type notice", "log_type information",
             "connection_messages true"]
    if opts.run_as_user:
        lines.append(f"user {opts.run_as_user}")
    if opts.tls:
        cert = opts.certfile or outdir / "tls" / "server.crt"
        key = opts.keyfile or outdir / "tls" / "server.key"
        lines += ["", f"listener {port}{' ' + opts.bind if opts.bind else ''}",
                  f"certfile {cert}", f"keyfile {key}", "tls_version tlsv1.2"]
        if opts.cafile:
            lines.append(f"cafile {opts.cafile}")
    if opts.plain_port:
        lines += ["", f"listener {opts.plain_port} {opts.plain_bind}"]
    if not opts.tls and not opts.plain_port:
        raise BrokerConfigError("no listener: enable TLS or give a plain port")
    return "\n".join(lines) + "\n"


def _password_for(source: Path | None, previous: Path) -> str:
    for path in (source, previous):
        if path is not None and path.is_file():
            password = password_in_text(path.read_text(encoding="utf-8"))
            if password:
                return password
    return secrets.token_urlsafe(24)


def require_mosquitto_passwd(tool: str = "mosquitto_passwd") -> None:
    """BrokerConfigError unless ``tool`` is on PATH (checked before anything is written)."""
    if shutil.which(tool) is None:
        raise BrokerConfigError(f"{tool} not found (install the Debian package mosquitto)")


def run_mosquitto_passwd(tool: str, args: list[str]) -> None:
    """Run ``tool`` (``mosquitto_passwd``) with ``args``; BrokerConfigError with its stderr."""
    try:
        subprocess.run([tool, *args], check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise BrokerConfigError(f"{tool} not found (install the Debian package mosquitto)") from exc
    except subprocess.CalledProcessError as exc:
        raise BrokerConfigError(f"{tool} failed: {exc.stderr.strip()}") from exc


def hash_passwd_file(tool: str, path: Path, users: list[tuple[str, str]]) -> None:
    """Write ``user:password`` lines to a new 0600 file and hash them in place with
    ``mosquitto_passwd -U``: a password never appears on a command line (``-b`` would
    show it in ``ps``). BrokerConfigError if a plain password is left in the file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(f"{user}:{password}\n" for user, password in users)
        run_mosquitto_passwd(tool, ["-U", str(path)])
        lines = path.read_text(encoding="utf-8").splitlines()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    hashed = dict(line.split(":", 1) for line in lines if ":" in line)
    if sorted(hashed) != sorted(u for u, _ in users) or any(hashed[u] == p for u, p in users):
        path.unlink(missing_ok=True)
        raise BrokerConfigError(f"{tool} -U did not hash every password")


def hashed_passwd_line(tool: str, directory: Path, user: str, password: str) -> str:
    """``user:<hash>`` for one credential, hashed in a private temp file in ``directory``."""
    fd, name = tempfile.mkstemp(prefix=".passwd-new-", dir=directory)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()
    try:
        hash_passwd_file(tool, tmp, [(user, password)])
        return tmp.read_text(encoding="utf-8").strip()
    finally:
        tmp.unlink(missing_ok=True)


def generate_broker_config(config: DistrictConfig, outdir: Path, opts: BrokerOptions | None = None,
                           mosquitto_passwd: str = "mosquitto_passwd") -> BrokerFiles:
    """Write the broker files into ``outdir`` (created); return their paths."""
    opts = opts or BrokerOptions()
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    require_mosquitto_passwd(mosquitto_passwd)
    cred_dir = outdir / "credentials"
    ensure_private_dir(cred_dir)
    data_dir = opts.persistence_in(outdir).resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BrokerConfigError(f"persistence directory {data_dir}: cannot create it: {exc.strerror} "
                                "(run as root, or give --persistence-dir)") from exc
    opts = replace(opts, persistence_dir=data_dir)
    users: list[tuple[str, Path | None]] = [
        (config.mqtt.username if config.mqtt else "collector",
         config.mqtt.password_file if config.mqtt else None)]
    users += [(s.id, s.mqtt_password_file) for s in config.stations]
    credentials: dict[str, Path] = {}
    plain: list[tuple[str, str]] = []
    for user, source in users:
        cred = cred_dir / f"{user}.password"
        password = _password_for(source, cred)
        atomic_write(cred, (password + "\n").encode("utf-8"), mode=0o600)
        credentials[user] = cred
        plain.append((user, password))
    tmp_passwd = outdir / f".passwd.tmp-{os.getpid()}"
    tmp_passwd.unlink(missing_ok=True)
    hash_passwd_file(mosquitto_passwd, tmp_passwd, plain)
    os.chmod(tmp_passwd, 0o640)
    os.replace(tmp_passwd, outdir / "passwd")
    atomic_write(outdir / "acl", acl_text(config).encode("utf-8"), mode=0o644)
    atomic_write(outdir / "mosquitto.conf", conf_text(outdir, config, opts).encode("utf-8"), mode=0o644)
    return BrokerFiles(conf=outdir / "mosquitto.conf", passwd=outdir / "passwd", acl=outdir / "acl",
                       data_dir=data_dir, credentials=credentials)
