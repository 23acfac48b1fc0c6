"""``radio-district broker-config OUTDIR``: a Mosquitto 2.x configuration for the district.

Writes into OUTDIR:
- ``mosquitto.conf`` with ``per_listener_settings true`` and two kinds of listener:

  * the stations' listeners: TLS on ``mqtt.station_port`` (cert/key from options, default
    ``OUTDIR/tls/server.crt`` and ``server.key``) and optionally a plain one bound to
    loopback (tests, bench, demo). They take only the stations' logins (``passwd``) and set
    ``use_username_as_clientid``: a station's client id is always its own id, so no login
    can connect under another station's id or the collector's and take its session over;
  * the collector's listener on ``mqtt.port`` (loopback by default; TLS when the
    collector's ``mqtt.tls`` is set and the broker has a certificate). It takes only the
    collector's login (``collector.passwd``) and keeps the client ids the collector's
    processes give (``<mqtt.client_id>``, ``<mqtt.client_id>-schedule``, a worker's
    ``<mqtt.client_id>-<group>-<worker id>``), each with its own persistent session; any
    number of them may be connected at once.

  Client ids are one namespace over all listeners: a station id equal to the collector's
  username or client id, or starting with either and ``-``, is refused
  (:func:`reserved_station_id_problem`). No anonymous access, raised queue limits
  (Mosquitto's defaults lose QoS 1 messages under load, see docs/TESTING.md) and persistence
  in ``persistence_dir`` (created if missing): state belongs under ``/var/lib``, not in the
  configuration directory, so the command line defaults it to
  :data:`DEFAULT_PERSISTENCE_DIR`; the library's ``None`` keeps ``OUTDIR/data`` for brokers
  that live in one scratch directory (tests, benchmarks, the demo);
- ``passwd``: one credential per registered station (username = station id), and
  ``collector.passwd``: the collector's (``mqtt.username``), hashed by ``mosquitto_passwd``;
- ``credentials/<user>.password``: each clear password, mode 0600, to hand to the station
  (or the collector's ``mqtt.password_file``). Existing passwords are kept: a password is
  taken from the station's ``mqtt_password_file`` / the collector's ``mqtt.password_file``
  when that file exists, else from an earlier ``credentials/<user>.password``, else generated;
- ``acl``: exactly docs/protocol.md: the collector reads ``event``/``status`` of every station of
  the district and writes their ``ack``/``schedule``; a station writes only its own
  ``event``/``status`` and reads only its own ``schedule``/``ack``.
  Shared subscriptions (``run --worker-group``, ``$share/NAME/<filter>``) need no line of
  their own: Mosquitto 2.0 checks each delivery's topic against ``topic read``.
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
    passwd: Path  # the stations' logins (stations' listeners)
    collector_passwd: Path  # the collector's login (the collector's listener)
    acl: Path
    data_dir: Path
    credentials: dict[str, Path]


@dataclass(frozen=True)
class BrokerOptions:
    """Listener and process options. ``tls_port`` (the stations' TLS listener) None:
    ``mqtt.station_port`` (8883 without mqtt); ``collector_port`` None: ``mqtt.port`` (no
    collector listener without mqtt), bound to ``collector_bind``."""

    tls_port: int | None = None
    tls: bool = True
    certfile: Path | None = None
    keyfile: Path | None = None
    cafile: Path | None = None
    bind: str | None = None
    plain_port: int | None = None
    plain_bind: str = "127.0.0.1"
    collector_port: int | None = None
    collector_bind: str = "127.0.0.1"
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


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def collector_login(config: DistrictConfig) -> tuple[str, str]:
    """The collector's broker username and client id (defaults without an mqtt section)."""
    if config.mqtt is not None:
        return config.mqtt.username, config.mqtt.client_id
    return "collector", f"collector-{config.district.id}"


def reserved_station_id_problem(config: DistrictConfig, station_id: str) -> str | None:
    """Why ``station_id`` cannot be a station of this broker, or None when it can.

    A station's client id is its id (``use_username_as_clientid``), and Mosquitto's client
    ids are one namespace over all listeners: a station named like the collector's username
    or client id (or either followed by ``-...``, as ``<client_id>-schedule``) would take a
    collector process's session over."""
    user, client_id = collector_login(config)
    for reserved in (user, client_id):
        if station_id == reserved or station_id.startswith(reserved + "-"):
            return (f"station id {station_id!r} is reserved: the collector's MQTT username is {user!r} "
                    f"and its client ids are {client_id!r} and {client_id}-...; a station's client id "
                    "is its id, so it would take the collector's session over (choose another id)")
    return None


def _station_listener(outdir: Path, head: str, tls_lines: list[str]) -> list[str]:
    return ["", head, *tls_lines, "allow_anonymous false",
            "# a station's client id is its username: no login takes another's id or session",
            "use_username_as_clientid true",
            f"password_file {outdir / 'passwd'}", f"acl_file {outdir / 'acl'}"]


def conf_text(outdir: Path, config: DistrictConfig, opts: BrokerOptions) -> str:
    """The ``mosquitto.conf`` text (see the module doc); BrokerConfigError when the listeners
    cannot be written as asked (none for the stations, two on one port, a plain collector
    listener off loopback)."""
    port = opts.tls_port or (config.mqtt.station_port if config.mqtt else 8883)
    collector_port = opts.collector_port or (config.mqtt.port if config.mqtt else None)
    if not opts.tls and not opts.plain_port:
        raise BrokerConfigError("no listener: enable TLS or give a plain port")
    cert = opts.certfile or outdir / "tls" / "server.crt"
    key = opts.keyfile or outdir / "tls" / "server.key"
    tls_lines = [f"certfile {cert}", f"keyfile {key}", "tls_version tlsv1.2"]
    if opts.cafile:
        tls_lines.append(f"cafile {opts.cafile}")
    station_ports = ([port] if opts.tls else []) + ([opts.plain_port] if opts.plain_port else [])
    if len(set(station_ports)) < len(station_ports):
        raise BrokerConfigError(f"the TLS and the plain listener are both on port {port}")
    if collector_port is not None and collector_port in station_ports:
        raise BrokerConfigError(
            f"mqtt.port {collector_port} is also a stations' listener: the collector needs a listener "
            "of its own (its logins keep their client ids, the stations' do not); set mqtt.port in "
            f"{config.source} to another port (e.g. 8884), or give --port/--plain-port another one")
    collector_tls = opts.tls and config.mqtt is not None and config.mqtt.tls is not None
    if collector_port is not None and not collector_tls and opts.collector_bind not in LOOPBACK:
        raise BrokerConfigError(f"the collector's listener on {opts.collector_bind} would be plain: "
                                "set mqtt.tls (and give the broker a certificate) or bind it to 127.0.0.1")
    lines = [f"# Mosquitto config for Commune Radio district {config.district.id}. Generated.",
             "# each listener has its own logins: the stations' (client id = username) and the collector's",
             "per_listener_settings true",
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
        lines += _station_listener(outdir, f"listener {port}{' ' + opts.bind if opts.bind else ''}", tls_lines)
    if opts.plain_port:
        lines += _station_listener(outdir, f"listener {opts.plain_port} {opts.plain_bind}", [])
    if collector_port is not None:
        user, client_id = collector_login(config)
        lines += ["", f"# the collector ({user}): its processes keep their client ids "
                      f"({client_id}, {client_id}-schedule) and sessions",
                  f"listener {collector_port} {opts.collector_bind}",
                  *(tls_lines if collector_tls else []), "allow_anonymous false",
                  f"password_file {outdir / 'collector.passwd'}", f"acl_file {outdir / 'acl'}"]
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
        if users:  # mosquitto_passwd -U fails on an empty file (a district before its first station)
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
    """Write the broker files into ``outdir`` (created); return their paths. BrokerConfigError,
    before anything is written, for a reserved station id or listeners that cannot be."""
    opts = opts or BrokerOptions()
    outdir = Path(outdir).resolve()
    problems = [p for p in (reserved_station_id_problem(config, s.id) for s in config.stations) if p]
    if problems:
        raise BrokerConfigError("; ".join(problems))
    conf_text(outdir, config, opts)  # listener errors before anything is written
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
    collector_user, _ = collector_login(config)
    users: list[tuple[str, Path | None]] = [
        (collector_user, config.mqtt.password_file if config.mqtt else None)]
    users += [(s.id, s.mqtt_password_file) for s in config.stations]
    credentials: dict[str, Path] = {}
    plain: list[tuple[str, str]] = []
    for user, source in users:
        cred = cred_dir / f"{user}.password"
        password = _password_for(source, cred)
        atomic_write(cred, (password + "\n").encode("utf-8"), mode=0o600)
        credentials[user] = cred
        plain.append((user, password))
    for name, logins in (("collector.passwd", plain[:1]), ("passwd", plain[1:])):
        tmp_passwd = outdir / f".{name}.tmp-{os.getpid()}"
        tmp_passwd.unlink(missing_ok=True)
        hash_passwd_file(mosquitto_passwd, tmp_passwd, logins)
        os.chmod(tmp_passwd, 0o640)
        os.replace(tmp_passwd, outdir / name)
    atomic_write(outdir / "acl", acl_text(config).encode("utf-8"), mode=0o644)
    atomic_write(outdir / "mosquitto.conf", conf_text(outdir, config, opts).encode("utf-8"), mode=0o644)
    return BrokerFiles(conf=outdir / "mosquitto.conf", passwd=outdir / "passwd",
                       collector_passwd=outdir / "collector.passwd", acl=outdir / "acl",
                       data_dir=data_dir, credentials=credentials)
