"""``radio-district web``: the district office's web console (issue 12), served by uvicorn.

    radio-district -c district.yaml web [--listen 127.0.0.1:8080] [--certfile F --keyfile F]

It runs as its own process beside ``radio-district run`` on the same store (SQLite in WAL
mode: the console's reads never block ingest). Without ``--certfile`` it speaks plain
HTTP, meant for loopback behind nginx (``config/nginx/radio-district-web.conf`` terminates
TLS and sends ``X-Forwarded-Proto``, trusted from ``--proxy`` only, loopback by default).
"""

from __future__ import annotations

import argparse
import logging
import sys

from district_collector.config import load_district_config
from radio_protocol.cli_base import Subcommands, require_config
from radio_protocol.errors import ConfigError

PROG = "radio-district"
log = logging.getLogger(__name__)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6); ConfigError naming the option when it is not one."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError([f"--listen {text!r}: give HOST:PORT, e.g. 127.0.0.1:8080"])
    return host, int(port)


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from district_collector.web.app import create_app

    config = load_district_config(require_config(args, PROG))
    host, port = parse_listen(args.listen)
    if bool(args.certfile) != bool(args.keyfile):
        raise ConfigError(["--certfile and --keyfile go together"])
    for option, path in (("--certfile", args.certfile), ("--keyfile", args.keyfile)):
        if path:
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise ConfigError([f"{option} {path}: cannot be read ({exc.strerror})"]) from exc
    app = create_app(config)
    scheme = "https" if args.certfile else "http"
    shown = f"[{host}]" if ":" in host else host
    print(f"console on {scheme}://{shown}:{port}/ (district {config.district.id}); Ctrl-C stops it",
          flush=True)
    server = uvicorn.Server(uvicorn.Config(
        app, host=host, port=port, ssl_certfile=args.certfile, ssl_keyfile=args.keyfile,
        proxy_headers=True, forwarded_allow_ips=args.proxy, server_header=False,
        log_level="warning" if not args.verbose else "info", access_log=args.verbose, lifespan="on",
        timeout_graceful_shutdown=10))
    server.run()
    if not server.started:
        print(f"{PROG} web: could not listen on {host}:{port} (in use, or not allowed?)", file=sys.stderr)
        return 1
    return 0


def register(sub: Subcommands) -> None:
    p = sub.add_parser(
        "web", help="the web console (fleet, frequency, catalogue, evidence, users)",
        description="Serve the district office's web console and its JSON API (/api/v1/, "
                    "OpenAPI at /api/v1/openapi.json) on the collector's store. Create the first "
                    "admin with 'radio-district user add NAME --role admin'.")
    p.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                   help="address to listen on (default 127.0.0.1:8080, for nginx in front)")
    p.add_argument("--certfile", metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--keyfile", metavar="FILE", help="the certificate's private key (PEM)")
    p.add_argument("--proxy", default="127.0.0.1", metavar="ADDRS",
                   help="proxies whose X-Forwarded-For/-Proto are trusted (default 127.0.0.1)")
    p.set_defaults(func=cmd_web)
