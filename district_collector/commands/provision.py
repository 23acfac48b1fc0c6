"""``radio-district provision STATION_ID``: everything a new station needs, in one directory.

Run it as the user who may edit the district config (root on the district server, through
sudo). The output directory then goes to the Pi (USB stick, scp), where
``systemd/install-station.sh --from DIR`` installs it. The broker password is written to
files only; it is printed only when ``--print-password`` is given.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from district_collector.admin.provision import (
    PIN_FACTORIES,
    STATION_DATA_DIR,
    ProvisionError,
    ProvisionRequest,
    checked_jwk,
    provision_station,
)
from radio_protocol.cli_base import Subcommands, require_config

PROG = "radio-district"


def parse_station_jwk(value: str) -> dict[str, str]:
    """A public JWK from JSON text, or from a file holding ``radio-station keygen`` output."""
    text = value.strip()
    if not text.startswith("{"):
        path = Path(value).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ProvisionError(f"--station-jwk: cannot read {path}: {exc.strerror}") from exc
    candidates = [text.strip()] + [line.strip() for line in text.splitlines() if line.strip().startswith("{")]
    for candidate in candidates:
        try:
            obj = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return checked_jwk(obj)
    raise ProvisionError("--station-jwk: no JSON object found (expected the line "
                         "radio-station keygen prints, like {\"kty\":\"OKP\",...})")


def cmd_provision(args: argparse.Namespace) -> int:
    config_path = Path(require_config(args, PROG))
    req = ProvisionRequest(
        station_id=args.station_id,
        commune_code=args.commune,
        commune_name=args.name,
        out_dir=Path(args.out),
        station_jwk=parse_station_jwk(args.station_jwk) if args.station_jwk else None,
        create_key=args.create_key,
        level=args.level,
        broker_host=args.broker_host,
        broker_port=args.broker_port,
        broker_dir=Path(args.broker_dir) if args.broker_dir else None,
        amp_pin=args.amp_pin,
        active_high=not args.active_low,
        audio_device=args.audio_device,
        tls=not args.plain_mqtt,
        pin_factory=args.pin_factory,
        data_dir=args.data_dir,
        rename_commune=args.rename_commune,
    )
    result = provision_station(config_path, req)
    print(f"provisioned station {req.station_id} ({req.commune_code} {req.commune_name})")
    print(f"  station config:  {result.station_yaml}")
    print(f"  broker password: {result.password_file} (0600; district copy {result.district_password_file})")
    if result.ca_file:
        print(f"  district CA:     {result.ca_file}")
    if result.key_file:
        state = "created" if result.key_created else "existing, kept"
        print(f"  station key:     {result.key_file} (0600, {state}): keep it secret, it signs the evidence")
    print(f"  registry:        {config_path}: {result.registry}, kid {result.kid} "
          f"({result.keys_registered} key(s) registered, old keys kept)")
    for note in result.broker_updated:
        print(f"  broker:          {note}")
    if result.broker_updated:
        print("  next on this server: systemctl reload mosquitto; systemctl restart radio-district")
    else:
        print(f"  next on this server: radio-district -c {config_path} broker-config BROKER_DIR "
              "(or provision with --broker-dir), systemctl reload mosquitto, "
              "systemctl restart radio-district")
    print(f"  next on the Pi:      sudo ./systemd/install-station.sh --from {result.station_yaml.parent}")
    if args.print_password:
        print(f"  MQTT password for {req.station_id}: {result.password}")
    return 0


def register(sub: Subcommands) -> None:
    p = sub.add_parser(
        "provision",
        help="prepare a station: station.yaml, broker credential, district key; register its key",
        description="Write DIR/station.yaml, DIR/mqtt.password (0600), DIR/district-ca.crt and "
                    "register the station's public key in the district config (old keys are kept).",
    )
    p.add_argument("station_id", metavar="STATION_ID", help="e.g. dak-koi-01")
    p.add_argument("--commune", required=True, metavar="CODE", help="official commune code (digits)")
    p.add_argument("--name", required=True, help='commune name, e.g. "Xã Đăk Kôi"')
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created 0700)")
    key = p.add_mutually_exclusive_group(required=True)
    key.add_argument("--station-jwk", metavar="FILE_OR_JSON",
                     help="the public JWK printed by `radio-station keygen` on the Pi (JSON or a file)")
    key.add_argument("--create-key", action="store_true",
                     help="create the station's key pair in DIR/station.key (station prepared at the office)")
    p.add_argument("--level", default="commune", choices=("commune", "district"))
    p.add_argument("--rename-commune", action="store_true",
                   help="the commune code is registered under another name: rename it to --name "
                        "for every station of that code (without it, provision refuses)")
    p.add_argument("--broker-host", help="broker host name as the stations reach it (default: mqtt.host)")
    p.add_argument("--broker-port", type=int, help="the stations' broker port (default: mqtt.station_port, 8883)")
    p.add_argument("--broker-dir", metavar="BROKER_DIR",
                   help="the broker-config output directory: update its passwd (mosquitto_passwd) and acl")
    p.add_argument("--amp-pin", type=int, default=17, help="BCM pin of the amplifier relay (default 17)")
    p.add_argument("--active-low", action="store_true", help="the relay board switches on a low pin")
    p.add_argument("--audio-device", default="default",
                   help="sound card name (part of it) as `python3 -m sounddevice` lists it")
    p.add_argument("--pin-factory", default="lgpio", choices=PIN_FACTORIES,
                   help="gpiozero pin factory (default lgpio; mock: a bench or demo without a Pi)")
    p.add_argument("--data-dir", default=STATION_DATA_DIR, metavar="DIR",
                   help=f"the station's data_dir (default {STATION_DATA_DIR}, the unit's StateDirectory; "
                        "a relative DIR is next to station.yaml: bench, demo)")
    p.add_argument("--plain-mqtt", "--no-tls", dest="plain_mqtt", action="store_true",
                   help="tls: null, for a broker on this machine only (127.0.0.1/localhost: bench, "
                        "demo); refused for any other host")
    p.add_argument("--print-password", action="store_true",
                   help="also print the station's MQTT password (it is in DIR/mqtt.password anyway)")
    p.set_defaults(func=cmd_provision)
