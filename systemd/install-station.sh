#!/usr/bin/env bash
# Install (or update) the Commune Radio station daemon on a Raspberry Pi.
# Idempotent: run it again after a `git pull` to update the code; existing config,
# password and key are kept unless you pass new ones.
set -euo pipefail

PREFIX=/opt/commune-radio
CONF_DIR=/etc/commune-radio
STATE_DIR=/var/lib/commune-radio
SERVICE_USER=radio-station
UNIT=radio-station.service
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
. "$REPO/systemd/lib.sh"
# The distribution's Python (apt's python3-lgpio belongs to it; a pyenv under /root would
# not even be readable by the service user).
PYTHON="${PYTHON:-/usr/bin/python3}"

usage() {
    cat <<EOF
Usage: sudo $0 [--from DIR | --config FILE] [options]

Installs the station daemon: system user '$SERVICE_USER' (groups gpio, audio),
$CONF_DIR (0750), a venv in $PREFIX/.venv built from this checkout, the station key
(created by 'radio-station keygen' as the service user, in $STATE_DIR, 0600),
and the systemd unit $UNIT (enabled, started).

  --from DIR        a directory made by 'radio-district provision': station.yaml,
                    mqtt.password, district-ca.crt and (if prepared at the office) station.key
  --config FILE     a station.yaml to install (edit it first; see config/station.example.yaml)
  --replace         overwrite an installed station.yaml / mqtt.password / district-ca.crt
  --no-apt          do not install Debian packages
  --no-start        install and enable, but do not (re)start the service now
  --system-site-packages
                    let the venv see apt's Python packages (automatic on Raspberry Pi OS,
                    where python3-lgpio comes from apt)
  -h, --help        this help

Without --from/--config and with no $CONF_DIR/station.yaml yet, the example config is
installed and the service is NOT started: edit $CONF_DIR/station.yaml, then
'sudo systemctl restart $UNIT'.
EOF
}

FROM="" CONFIG="" REPLACE=0 APT=1 START=1 SITE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --from) FROM="${2:?--from needs a directory}"; shift 2 ;;
        --config) CONFIG="${2:?--config needs a file}"; shift 2 ;;
        --replace) REPLACE=1; shift ;;
        --no-apt) APT=0; shift ;;
        --no-start) START=0; shift ;;
        --system-site-packages) SITE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

require_install_context "$REPO" "$PYTHON"
if [ -n "$FROM" ]; then
    [ -f "$FROM/station.yaml" ] || die "$FROM/station.yaml not found (make DIR with radio-district provision)"
    CONFIG="$FROM/station.yaml"
fi
[ -z "$CONFIG" ] || [ -f "$CONFIG" ] || die "config file $CONFIG not found"

is_pi() { [ -f /etc/rpi-issue ] || grep -qs "Raspberry Pi" /proc/device-tree/model; }

# --- packages -------------------------------------------------------------------------
if [ "$APT" -eq 1 ]; then
    say "installing Debian packages"
    pkgs=(python3 python3-venv python3-pip libportaudio2 libsndfile1 alsa-utils)
    if is_pi; then pkgs+=(python3-lgpio); fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi

# --- user and groups ------------------------------------------------------------------
for group in gpio audio; do
    getent group "$group" >/dev/null || { say "creating group $group"; groupadd --system "$group"; }
done
if ! id "$SERVICE_USER" >/dev/null 2>&1; then
    say "creating system user $SERVICE_USER"
    useradd --system --no-create-home --home-dir "$STATE_DIR" --shell /usr/sbin/nologin \
        --user-group "$SERVICE_USER"
fi
usermod -a -G gpio,audio "$SERVICE_USER"

# --- code -----------------------------------------------------------------------------
venv_args=()
if [ "$SITE" -eq 1 ] || is_pi; then venv_args+=(--system-site-packages); fi
install_code "$REPO" "$PREFIX" "$PYTHON" station "${venv_args[@]}"
BIN="$PREFIX/.venv/bin/radio-station"
# on PATH for the technician (sudo's secure_path has /usr/local/bin); the unit uses $BIN
ln -sfn "$BIN" /usr/local/bin/radio-station

# --- configuration --------------------------------------------------------------------
install -d -m 0750 -o root -g "$SERVICE_USER" "$CONF_DIR"
put() {  # put SRC NAME MODE OWNER: copy unless present (or --replace)
    local src="$1" dest="$CONF_DIR/$2" mode="$3" owner="$4"
    [ -f "$src" ] || return 0
    if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
        :  # unchanged
    elif [ -f "$dest" ] && [ "$REPLACE" -eq 0 ]; then
        say "keeping the installed $dest (use --replace to overwrite)"
    else
        install -m "$mode" -o "$owner" -g "$SERVICE_USER" "$src" "$dest"
        say "installed $dest"
    fi
    # ownership and mode are enforced on every run
    chown "$owner:$SERVICE_USER" "$dest"; chmod "$mode" "$dest"
}
EXAMPLE=0
if [ -n "$CONFIG" ]; then
    put "$CONFIG" station.yaml 0640 root
elif [ ! -f "$CONF_DIR/station.yaml" ]; then
    put "$REPO/config/station.example.yaml" station.yaml 0640 root
    EXAMPLE=1
fi
if [ -n "$FROM" ]; then
    put "$FROM/mqtt.password" mqtt.password 0600 "$SERVICE_USER"
    put "$FROM/district-ca.crt" district-ca.crt 0644 root
fi

# --- state and key --------------------------------------------------------------------
# systemd's StateDirectory= owns this directory at run time; create it now for keygen.
install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"
if [ -n "$FROM" ] && [ -f "$FROM/station.key" ]; then
    if [ -f "$STATE_DIR/station.key" ] && ! cmp -s "$FROM/station.key" "$STATE_DIR/station.key"; then
        die "$STATE_DIR/station.key exists and differs from $FROM/station.key; move it away first (key rotation: provision the new key, keep the old one registered)"
    fi
    install -m 0600 -o "$SERVICE_USER" -g "$SERVICE_USER" "$FROM/station.key" "$STATE_DIR/station.key"
    say "installed the station key prepared at the office"
fi
JWK=""
if [ "$EXAMPLE" -eq 0 ]; then
    say "checking the config and creating the station key (as $SERVICE_USER)"
    runuser -u "$SERVICE_USER" -- "$BIN" -c "$CONF_DIR/station.yaml" check || true
    JWK="$(runuser -u "$SERVICE_USER" -- "$BIN" -c "$CONF_DIR/station.yaml" keygen)"
fi

# --- systemd --------------------------------------------------------------------------
say "installing $UNIT"
install -m 0644 "$REPO/systemd/$UNIT" "/etc/systemd/system/$UNIT"
# No RTC on a Pi: let time-sync.target wait for NTP (radio-station.service is After= it),
# but at most 3 minutes, so a station without network still starts (and says
# clock_synced=false). systemd-time-wait-sync's own timeout is infinite.
WAIT_SYNC=0
if [ -f /lib/systemd/system/systemd-time-wait-sync.service ] \
        || [ -f /usr/lib/systemd/system/systemd-time-wait-sync.service ]; then
    WAIT_SYNC=1
    install -d -m 0755 /etc/systemd/system/systemd-time-wait-sync.service.d
    cat > /etc/systemd/system/systemd-time-wait-sync.service.d/commune-radio.conf <<'EOF'
# Written by Commune Radio's install-station.sh: wait at most 3 minutes for NTP at boot.
[Service]
TimeoutStartSec=180
EOF
fi
# systemd may not be running (a chroot preparing an SD card image, a container):
# then the units are only enabled, and start at the next boot.
RUNNING=0
if [ -d /run/systemd/system ]; then RUNNING=1; systemctl daemon-reload; fi
if [ "$WAIT_SYNC" -eq 1 ]; then
    systemctl enable systemd-time-wait-sync.service >/dev/null 2>&1 || true
fi
systemctl enable "$UNIT"
if [ "$START" -eq 1 ] && [ "$EXAMPLE" -eq 0 ] && [ "$RUNNING" -eq 1 ]; then
    systemctl restart "$UNIT"
    say "started; follow it with: journalctl -u $UNIT -f"
elif [ "$RUNNING" -eq 0 ]; then
    say "systemd is not running here: $UNIT is enabled and starts at the next boot"
fi

echo
if [ "$EXAMPLE" -eq 1 ]; then
    echo "Edit $CONF_DIR/station.yaml (station id, district key, broker), then run this script"
    echo "again: it creates the key, prints the public JWK for the district, and starts the service."
else
    echo "Station public key (give this line to the district office for 'radio-district provision"
    echo "--station-jwk'; it is public, not a secret):"
    echo "$JWK"
fi
