#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite: the fast lane, then the slow lanes
# (real OAuth2 server / Dovecot / SMTP / HTTP on loopback, Xvfb with a tray host, and the real
# Secret Service from gnome-keyring on a private D-Bus session). Every lane runs even if an
# earlier one fails; the exit code is non-zero if any failed. Artifacts (screenshots of failed
# GUI tests, logs) land in artifacts/.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test || exit 1
mkdir -p artifacts
export PYTHONDONTWRITEBYTECODE=1
if [[ $(id -u) == 0 ]]; then export QTWEBENGINE_DISABLE_SANDBOX=1; fi
PYTEST=(.venv/bin/python -m pytest -p no:cacheprovider)
status=0

echo "==> Lane 1: fast tests (offscreen, in-memory keyring)"
"${PYTEST[@]}" -q "$@" || status=1

echo "==> Lane 2: real servers (OAuth2, Dovecot, SMTP, PostgreSQL), Xvfb + tray host, real Secret Service (dbus-run-session + gnome-keyring)"
lane_home=$(mktemp -d)
mkdir -m 700 "$lane_home/run"
HOME="$lane_home" XDG_DATA_HOME="$lane_home/.local/share" XDG_RUNTIME_DIR="$lane_home/run" \
    dbus-run-session -- bash -c '
        eval "$(printf tokendesk-ci | gnome-keyring-daemon --unlock --components=secrets)"
        export GNOME_KEYRING_CONTROL SSH_AUTH_SOCK
        exec "$@"' _ "${PYTEST[@]}" -q -m "realserver or xvfb or secretservice or postgres" "$@" || status=1
rm -rf "$lane_home"

if [[ $status == 0 ]]; then echo "==> All lanes passed"; else echo "==> Some lanes FAILED (see above; artifacts/ has screenshots and logs)"; fi
exit $status
