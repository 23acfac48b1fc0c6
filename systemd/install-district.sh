#!/usr/bin/env bash
# Install (or update) the Commune Radio district collector and its Mosquitto broker.
# Idempotent: run it again after a `git pull`, or after provisioning stations, to update
# the code and regenerate the broker's passwd/ACL (existing passwords are kept).
set -euo pipefail

PREFIX=/opt/commune-radio
CONF_DIR=/etc/commune-radio
STATE_DIR=/var/lib/commune-radio-district
BROKER_DIR=/etc/mosquitto/commune-radio
BROKER_STATE_DIR=/var/lib/mosquitto/commune-radio
SERVICE_USER=radio-district
UNIT=radio-district.service
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
. "$REPO/systemd/lib.sh"
# The distribution's Python (apt's python3-lgpio belongs to it; a pyenv under /root would
# not even be readable by the service user).
PYTHON="${PYTHON:-/usr/bin/python3}"

usage() {
    cat <<EOF
Usage: sudo $0 --config district.yaml --broker-host NAME [options]

Installs the district collector: system user '$SERVICE_USER', $CONF_DIR (0750),
a venv in $PREFIX/.venv built from this checkout, the district signing key (created by
'radio-district keygen' as the service user, in $STATE_DIR, 0600), Mosquitto configured
by 'radio-district broker-config' in $BROKER_DIR (the stations' TLS listener, where a
station's client id is its own id; the collector's own listener at mqtt.port on
127.0.0.1; one credential per station, the ACL of docs/protocol.md; its database in
$BROKER_STATE_DIR), and the systemd unit $UNIT (enabled, started).

  --config FILE       the district config to install as $CONF_DIR/district.yaml
                      (start from config/district.example.yaml); needed the first time
  --broker-host NAME  the broker's DNS name as the stations reach it (in the certificate)
  --tls-cert FILE     server certificate (PEM, full chain) for the broker, and
  --tls-key FILE      its private key; without them a private CA is created once
                      ($CONF_DIR/district-ca.crt, key in $CONF_DIR/private/) and signs one
  --port N            the stations' TLS port (default: mqtt.station_port of the
                      config, 8883); the collector's listener is mqtt.port
  --replace           overwrite an installed district.yaml
  --no-apt            do not install Debian packages
  --no-start          install and enable, but do not (re)start the services now
  -h, --help          this help
EOF
}

CONFIG="" HOST="" CERT="" KEY="" PORT="" REPLACE=0 APT=1 START=1
while [ $# -gt 0 ]; do
    case "$1" in
        --config) CONFIG="${2:?--config needs a file}"; shift 2 ;;
        --broker-host) HOST="${2:?--broker-host needs a name}"; shift 2 ;;
        --tls-cert) CERT="${2:?--tls-cert needs a file}"; shift 2 ;;
        --tls-key) KEY="${2:?--tls-key needs a file}"; shift 2 ;;
        --port) PORT="${2:?--port needs a number}"; shift 2 ;;
        --replace) REPLACE=1; shift ;;
        --no-apt) APT=0; shift ;;
        --no-start) START=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

require_install_context "$REPO" "$PYTHON"
[ -z "$CONFIG" ] || [ -f "$CONFIG" ] || die "config file $CONFIG not found"
[ -n "$CONFIG" ] || [ -f "$CONF_DIR/district.yaml" ] || die "first install: give --config district.yaml"
{ [ -z "$CERT" ] && [ -z "$KEY" ]; } || { [ -f "$CERT" ] && [ -f "$KEY" ]; } \
    || die "--tls-cert and --tls-key go together and must exist"

# --- packages -------------------------------------------------------------------------
if [ "$APT" -eq 1 ]; then
    say "installing Debian packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3 python3-venv python3-pip mosquitto mosquitto-clients openssl
fi
getent group mosquitto >/dev/null || die "the mosquitto package is not installed (no group mosquitto)"

# --- user -----------------------------------------------------------------------------
if ! id "$SERVICE_USER" >/dev/null 2>&1; then
    say "creating system user $SERVICE_USER"
    useradd --system --no-create-home --home-dir "$STATE_DIR" --shell /usr/sbin/nologin \
        --user-group "$SERVICE_USER"
fi

# --- code -----------------------------------------------------------------------------
install_code "$REPO" "$PREFIX" "$PYTHON" district
BIN="$PREFIX/.venv/bin/radio-district"
# on PATH for the technician (sudo's secure_path has /usr/local/bin); the unit uses $BIN
ln -sfn "$BIN" /usr/local/bin/radio-district
PY="$PREFIX/.venv/bin/python"

# --- configuration and key ------------------------------------------------------------
install -d -m 0750 -o root -g "$SERVICE_USER" "$CONF_DIR"
DCONF="$CONF_DIR/district.yaml"
if [ -n "$CONFIG" ]; then
    if [ -f "$DCONF" ] && [ "$REPLACE" -eq 0 ] && ! cmp -s "$CONFIG" "$DCONF"; then
        say "keeping the installed $DCONF (use --replace to overwrite)"
    else
        install -m 0640 -o root -g "$SERVICE_USER" "$CONFIG" "$DCONF"
        say "installed $DCONF"
    fi
fi
chown "root:$SERVICE_USER" "$DCONF"; chmod 0640 "$DCONF"
install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"
# Reads the (validated) config: prints "NAME=value" lines for this script.
conf_value() {
    "$PY" - "$DCONF" "$1" <<'PYEOF'
import sys
from district_collector.config import load_district_config
c = load_district_config(sys.argv[1])
m = c.mqtt
values = {
    "signing_key": str(c.signing_key),
    "password_file": str(m.password_file) if m and m.password_file else "",
    "ca": str(m.tls.ca) if m and m.tls and m.tls.ca else "",
    "station_port": str(m.station_port) if m else "8883",
    "host": m.host if m else "",
}
print(values[sys.argv[2]])
PYEOF
}
say "checking $DCONF"
conf_value station_port >/dev/null  # a broken config stops here with every problem listed
SIGNING_KEY="$(conf_value signing_key)"
install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$(dirname "$SIGNING_KEY")"
say "creating the district signing key (as $SERVICE_USER) if absent"
DISTRICT_JWK="$(runuser -u "$SERVICE_USER" -- "$BIN" -c "$DCONF" keygen | tail -n 1)"

# --- TLS for the broker ---------------------------------------------------------------
[ -n "$PORT" ] || PORT="$(conf_value station_port)"
# mqtt.host is where the collector connects (its listener is on loopback): only a real
# name will do for the stations and the certificate
if [ -z "$HOST" ]; then
    case "$(conf_value host)" in localhost|127.0.0.1|::1) ;; *) HOST="$(conf_value host)" ;; esac
fi
install -d -m 0750 -o root -g mosquitto "$BROKER_DIR" "$BROKER_DIR/tls"
if [ -n "$CERT" ]; then
    install -m 0644 -o root -g mosquitto "$CERT" "$BROKER_DIR/tls/server.crt"
    install -m 0640 -o root -g mosquitto "$KEY" "$BROKER_DIR/tls/server.key"
elif [ ! -f "$BROKER_DIR/tls/server.crt" ]; then
    [ -n "$HOST" ] || die "--broker-host NAME is needed for the broker certificate"
    say "creating a private CA and a broker certificate for $HOST"
    install -d -m 0700 -o root -g root "$CONF_DIR/private"
    if [ ! -f "$CONF_DIR/private/ca.key" ]; then
        (umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$CONF_DIR/private/ca.key" -out "$CONF_DIR/district-ca.crt" -days 3650 \
            -subj "/CN=Commune Radio district CA" 2>/dev/null)
        chmod 0644 "$CONF_DIR/district-ca.crt"
    fi
    (umask 027; openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$BROKER_DIR/tls/server.key" -out "$BROKER_DIR/tls/server.csr" \
        -subj "/CN=$HOST" 2>/dev/null)
    openssl x509 -req -in "$BROKER_DIR/tls/server.csr" -CA "$CONF_DIR/district-ca.crt" \
        -CAkey "$CONF_DIR/private/ca.key" -CAserial "$CONF_DIR/private/ca.srl" -CAcreateserial -days 1825 \
        -extfile <(printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\n' "$HOST") \
        -out "$BROKER_DIR/tls/server.crt" 2>/dev/null
    rm -f "$BROKER_DIR/tls/server.csr"
    chown root:mosquitto "$BROKER_DIR/tls/server.key" "$BROKER_DIR/tls/server.crt"
    chmod 0640 "$BROKER_DIR/tls/server.key"
fi

# --- broker configuration -------------------------------------------------------------
say "generating the broker config in $BROKER_DIR"
# Mosquitto's database is state: under /var/lib, not in the config directory.
PERSIST_DIR="$BROKER_STATE_DIR"
install -d -m 0700 -o mosquitto -g mosquitto "$BROKER_STATE_DIR"
if [ -f "$BROKER_DIR/data/mosquitto.db" ] && [ ! -f "$BROKER_STATE_DIR/mosquitto.db" ]; then
    # an install from before the move: keep its queued messages and sessions
    if [ "$START" -eq 0 ] && [ -d /run/systemd/system ] && systemctl is-active --quiet mosquitto.service; then
        say "note: the broker database stays in $BROKER_DIR/data for now (mosquitto is running" \
            "and --no-start was given); run this again without --no-start to move it"
        PERSIST_DIR="$BROKER_DIR/data"
    else
        say "moving the broker database from $BROKER_DIR/data to $BROKER_STATE_DIR"
        if [ -d /run/systemd/system ]; then systemctl stop mosquitto.service || true; fi
        mv "$BROKER_DIR/data/mosquitto.db" "$BROKER_STATE_DIR/mosquitto.db"
        rmdir "$BROKER_DIR/data" 2>/dev/null || true
    fi
fi
"$BIN" -c "$DCONF" broker-config "$BROKER_DIR" --port "$PORT" --user mosquitto \
    --cert "$BROKER_DIR/tls/server.crt" --key "$BROKER_DIR/tls/server.key" \
    --persistence-dir "$PERSIST_DIR"
chown root:mosquitto "$BROKER_DIR/passwd" "$BROKER_DIR/collector.passwd" "$BROKER_DIR/acl" \
    "$BROKER_DIR/mosquitto.conf"
chmod 0640 "$BROKER_DIR/passwd" "$BROKER_DIR/collector.passwd" "$BROKER_DIR/acl"
chown -R root:root "$BROKER_DIR/credentials"; chmod 0700 "$BROKER_DIR/credentials"
chown -R mosquitto:mosquitto "$PERSIST_DIR"; chmod 0700 "$PERSIST_DIR"
COLLECTOR_PW="$(conf_value password_file)"
if [ -n "$COLLECTOR_PW" ]; then
    install -d -m 0750 -o root -g "$SERVICE_USER" "$(dirname "$COLLECTOR_PW")"
    if [ ! -f "$COLLECTOR_PW" ]; then
        install -m 0600 -o "$SERVICE_USER" -g "$SERVICE_USER" \
            "$BROKER_DIR/credentials/collector.password" "$COLLECTOR_PW"
    fi
    chown "$SERVICE_USER:$SERVICE_USER" "$COLLECTOR_PW"; chmod 0600 "$COLLECTOR_PW"
fi
# Mosquitto runs our generated config instead of Debian's default one.
install -d -m 0755 /etc/systemd/system/mosquitto.service.d
cat > /etc/systemd/system/mosquitto.service.d/commune-radio.conf <<EOF
# Written by install-district.sh: the broker for Commune Radio.
[Service]
ExecStart=
ExecStart=/usr/sbin/mosquitto -c $BROKER_DIR/mosquitto.conf
EOF

# --- systemd --------------------------------------------------------------------------
say "installing $UNIT"
install -m 0644 "$REPO/systemd/$UNIT" "/etc/systemd/system/$UNIT"
# systemd may not be running (a chroot preparing an SD card image, a container):
# then the units are only enabled, and start at the next boot.
RUNNING=0
if [ -d /run/systemd/system ]; then RUNNING=1; systemctl daemon-reload; fi
systemctl enable mosquitto.service "$UNIT"
if [ "$START" -eq 1 ] && [ "$RUNNING" -eq 1 ]; then
    systemctl restart mosquitto.service
    systemctl restart "$UNIT"
    say "started; follow them with: journalctl -u mosquitto -u $UNIT -f"
elif [ "$RUNNING" -eq 0 ]; then
    say "systemd is not running here: mosquitto and $UNIT are enabled and start at the next boot"
fi

CA="$(conf_value ca)"
echo
echo "District public key (goes into every station's district_keys; provision does it):"
echo "$DISTRICT_JWK"
if [ -f "$CONF_DIR/district-ca.crt" ] && [ "$CA" != "$CONF_DIR/district-ca.crt" ]; then
    echo "note: set mqtt.tls.ca: $CONF_DIR/district-ca.crt in $DCONF (the collector and the"
    echo "stations trust the broker through it), then run this script again."
fi
echo "Provision a station:"
echo "  sudo radio-district -c $DCONF provision STATION_ID --commune CODE --name \"Xã ...\" \\"
echo "       --out DIR --broker-host ${HOST:-NAME} --broker-dir $BROKER_DIR --station-jwk JWK_OR_FILE"
echo "  sudo systemctl reload mosquitto && sudo systemctl restart $UNIT"
