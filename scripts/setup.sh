#!/usr/bin/env bash
# Set up everything Tokendesk needs on Debian 12: system libraries for Qt (and, with --test,
# the X server, tray host, Secret Service, Dovecot and Node for the test lanes), a virtual
# environment in .venv with the package installed editable, and the npm test servers.
# Idempotent: a second run only checks. Run as root (or with sudo available) on a fresh machine.
#
#   scripts/setup.sh          # to run the app
#   scripts/setup.sh --test   # to run the whole test suite too
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WITH_TEST=0
[[ "${1:-}" == "--test" ]] && WITH_TEST=1

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# ---- Debian packages
packages=()
while read -r line; do
    line=${line%%#*}; line=$(echo "$line" | xargs)
    [[ -n "$line" ]] && packages+=("$line")
done < scripts/apt-packages.txt
# python venv support (Debian splits it out)
packages+=(python3 python3-venv python3-pip ca-certificates)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
fi
if [[ $WITH_TEST == 0 ]]; then
    # the app alone needs only the Qt runtime libraries (everything before the "X server" block)
    packages=($(sed -n '1,/^# X server/p' scripts/apt-packages.txt | sed 's/#.*//' | xargs) python3 python3-venv python3-pip ca-certificates)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
    SUDO=""
    if [[ $(id -u) != 0 ]]; then
        if command -v sudo >/dev/null; then SUDO=sudo; else
            echo "Missing Debian packages: ${missing[*]} - install them as root and run again." >&2; exit 1; fi
    fi
    log "Installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- Python virtual environment
PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    log "Creating .venv with $($PY --version)"
    $PY -m venv .venv
fi
extras=""
[[ $WITH_TEST == 1 ]] && extras="[test]"
stamp=".venv/.tokendesk-installed$extras"
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
    log "Installing Tokendesk$extras into .venv (PySide6 is large: about 700 MB)"
    .venv/bin/python -m pip install -q --upgrade pip
    # compat mode: a plain .pth path entry instead of an import hook (about 10 ms less at every start)
    .venv/bin/python -m pip install -q -e ".$extras" --config-settings editable_mode=compat
    touch "$stamp"
fi

# ---- npm test servers (the real OAuth2 server used by the realserver lane)
if [[ $WITH_TEST == 1 && -f tests/servers/package.json ]]; then
    if [[ ! -d tests/servers/node_modules || tests/servers/package.json -nt tests/servers/node_modules ]]; then
        log "Installing the npm test servers (tests/servers)"
        (cd tests/servers && { [[ -f package-lock.json ]] && npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error; })
        touch tests/servers/node_modules
    fi
fi
log "Setup complete in $ROOT"
