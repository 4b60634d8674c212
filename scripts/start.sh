#!/usr/bin/env bash
# Set up (if needed) and start Tokendesk with its embedded default: a local SQLite database
# in ~/.local/share/tokendesk (or $TOKENDESK_HOME). Extra arguments go to `tokendesk`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" && -z "${QT_QPA_PLATFORM:-}" ]]; then
    echo "No display found (DISPLAY and WAYLAND_DISPLAY are unset). Run this in a desktop session," >&2
    echo "or use the command line: .venv/bin/tokendesk --help" >&2
    exit 1
fi
exec .venv/bin/tokendesk "$@"
