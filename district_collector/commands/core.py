"""Core ``radio-district`` commands: keygen, run, import, stations, broker-config."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from district_collector.admin.broker_config import (
    DEFAULT_PERSISTENCE_DIR,
    BrokerOptions,
    generate_broker_config,
)
from district_collector.admin.stations_view import render_table, station_lines
from district_collector.config import DistrictConfig, load_district_config
from district_collector.intake.importer import COUNT_NAMES, import_files
from district_collector.store.opening import open_store
from radio_protocol.cli_base import Subcommands, require_config
from radio_protocol.errors import CommuneRadioError
from radio_protocol.jose import (
    Signer,
    jwk_thumbprint,
    load_or_create_private_key,
    load_private_key,
    public_jwk,
)

PROG = "radio-district"


def _config(args: argparse.Namespace) -> DistrictConfig:
    return load_district_config(require_config(args, PROG))


def cmd_keygen(args: argparse.Namespace) -> int:
    config = _config(args)
    key, created = load_or_create_private_key(config.signing_key)
    jwk = public_jwk(key.public_key())
    print(f"{'created' if created else 'existing'} district key {config.signing_key}")
    print(f"kid {jwk_thumbprint(jwk)}")
    print(json.dumps(jwk))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from district_collector.intake.service import CollectorService
    from district_collector.intake.workers import join_group

    config = _config(args)
    if args.worker_id is not None and args.worker_group is None:
        raise CommuneRadioError("--worker-id needs --worker-group NAME")
    group, slot = (None, None) if args.worker_group is None else join_group(
        config.district.id, args.worker_group, args.worker_id)
    signer = Signer(load_private_key(config.signing_key))
    open_store(config).close()  # fail early (exit 1) when the store cannot be opened
    try:
        return CollectorService(config, signer, group=group).run_until_signal()
    finally:
        if slot is not None:
            slot.release()


def cmd_import(args: argparse.Namespace) -> int:
    config = _config(args)
    with open_store(config) as store:
        counts = import_files(config, store, [Path(p) for p in args.files])
    print(" ".join(f"{name}={counts[name]}" for name in COUNT_NAMES))
    rejected = counts["rejected"]
    if rejected:
        lines = "1 line was" if rejected == 1 else f"{rejected} lines were"
        print(f"{PROG} import: {lines} rejected into quarantine (each reason is logged above as "
              "'message quarantined source=import:FILE:LINE'); every other line was stored",
              file=sys.stderr)
        return 1
    return 0


def cmd_stations(args: argparse.Namespace) -> int:
    config = _config(args)
    with open_store(config, read_only=True) as store:
        print(render_table(station_lines(config, store)))
    return 0


def cmd_broker_config(args: argparse.Namespace) -> int:
    config = _config(args)
    opts = BrokerOptions(
        tls_port=args.port, tls=not args.no_tls,
        certfile=Path(args.cert).resolve() if args.cert else None,
        keyfile=Path(args.key).resolve() if args.key else None,
        cafile=Path(args.cafile).resolve() if args.cafile else None,
        bind=args.bind, plain_port=args.plain_port, collector_bind=args.collector_bind, run_as_user=args.user,
        autosave_s=args.autosave, persistence_dir=Path(args.persistence_dir).resolve(),
    )
    files = generate_broker_config(config, Path(args.outdir), opts)
    print(f"wrote {files.conf}, {files.passwd}, {files.collector_passwd}, {files.acl}")
    for user, path in sorted(files.credentials.items()):
        print(f"credential {user}: {path}")
    if opts.tls and not (opts.certfile or (Path(args.outdir) / "tls" / "server.crt").exists()):
        print(f"note: put the server certificate and key at {Path(args.outdir).resolve() / 'tls'}/"
              "server.crt and server.key, or pass --cert/--key")
    return 0


def register(sub: Subcommands) -> None:
    p = sub.add_parser("keygen", help="create the district's Ed25519 signing key (0600) and print its public JWK",
                       description="Create the district's Ed25519 signing key at signing_key (mode 0600) if "
                                   "it does not exist (an existing key is kept) and print its kid (RFC 7638 "
                                   "thumbprint) and public JWK: the district_keys entry of every station.")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("run", help="the collector service: subscribe, verify, store, ack (SIGTERM stops)",
                       description="Run the collector service until SIGTERM/SIGINT: subscribe to every "
                                   "registered station's events and status, verify each against the "
                                   "station's keys, commit it to the store (created if missing), then ack.")
    p.add_argument("--worker-group", metavar="NAME",
                   help="run as one worker of group NAME: the broker spreads the stations' messages over "
                        "the group's workers (MQTT 5 shared subscriptions $share/NAME/...)")
    p.add_argument("--worker-id", metavar="ID",
                   help="this worker's id in its group (its client id <mqtt.client_id>-NAME-ID and "
                        "persistent session); default <host>-<n>, n the lowest slot free on this host")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "import", help="load events from JSON Lines files of flattened JWS",
        description="Load events from JSON Lines files (one flattened JWS a line) with the checks of "
                    "live delivery. Prints accepted= duplicate= conflict= rejected=. Exit status 0 when "
                    "no line was rejected: duplicates (already stored) and conflicts (same seq, other "
                    "bytes; stored and shown by 'stations') are recorded facts, not import failures. "
                    "Exit status 1 when any line was rejected (bad JWS, unknown station, bad signature; "
                    "kept in quarantine; the other lines are stored all the same) or a file cannot be read "
                    "(the files before it are imported).")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("stations", help="each station: online/offline since, last seq, gaps, pending, ...",
                       description="One line per registered station from the store (read-only): online or "
                                   "offline since when, last seq, gaps, chain breaks, conflicts, events "
                                   "pending at the station, schedule version, last airing. Without a store "
                                   "(the collector has not run yet) it says so and creates nothing.")
    p.set_defaults(func=cmd_stations)

    p = sub.add_parser("broker-config", help="write a Mosquitto config, passwords and ACL into OUTDIR",
                       description="Write mosquitto.conf, the password files, the ACL of docs/protocol.md "
                                   "and one credential per station and for the collector "
                                   "(OUTDIR/credentials/<user>.password, 0600) into OUTDIR. The stations "
                                   "log in on their own listeners (TLS, and --plain-port), where a "
                                   "station's client id is always its id; the collector on its own "
                                   "listener at mqtt.port (loopback unless --collector-bind).")
    p.add_argument("outdir", metavar="OUTDIR")
    p.add_argument("--port", type=int, default=None,
                   help="the stations' TLS listener port (default: mqtt.station_port, 8883)")
    p.add_argument("--cert", help="server certificate (PEM); default OUTDIR/tls/server.crt")
    p.add_argument("--key", help="server private key (PEM); default OUTDIR/tls/server.key")
    p.add_argument("--cafile", help="CA file for the listener (only for client certificates)")
    p.add_argument("--bind", help="address the TLS listener binds to (default: all)")
    p.add_argument("--plain-port", type=int, default=None,
                   help="also a plain (non-TLS) listener on 127.0.0.1 at this port")
    p.add_argument("--no-tls", action="store_true", help="no TLS listener (needs --plain-port)")
    p.add_argument("--collector-bind", default="127.0.0.1", metavar="ADDR",
                   help="address of the collector's listener (port mqtt.port; default 127.0.0.1; "
                        "another address needs mqtt.tls)")
    p.add_argument("--user", default=None,
                   help="user mosquitto runs as when started as root (mosquitto's default: mosquitto)")
    p.add_argument("--autosave", type=int, default=5, help="persistence autosave interval, seconds")
    p.add_argument("--persistence-dir", default=str(DEFAULT_PERSISTENCE_DIR), metavar="DIR",
                   help=f"Mosquitto's database (state, not config; default {DEFAULT_PERSISTENCE_DIR})")
    p.set_defaults(func=cmd_broker_config)
