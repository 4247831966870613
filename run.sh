#!/usr/bin/env bash
# The two set-up commands of the README:
#   ./run.sh serve [fakecloud serve options]   install what is missing, then start the server
#   ./run.sh test  [pytest options]           install what is missing, then run every test
# Anything else is passed to the fakecloud command inside the project's virtual environment,
# e.g. ./run.sh account add alice --password ...
set -euo pipefail
SCRIPT=$(readlink -f "$0")
cd "$(dirname "$SCRIPT")"

VENV=${FAKECLOUD_VENV:-.venv}
STAMP="$VENV/.installed"

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null && python_ok "$candidate"; then echo "$candidate"; return; fi
  done
  echo "fakecloud needs Python 3.11 or newer (apt-get install python3 python3-venv)" >&2
  exit 1
}

apt_install() {
  local runner=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then runner=(sudo); else
      echo "missing system packages: $*; install them as root (apt-get install $*)" >&2; exit 1
    fi
  fi
  "${runner[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${runner[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_venv() {
  local extras=$1
  if [ ! -x "$VENV/bin/python" ]; then
    "$(find_python)" -m venv "$VENV"
  fi
  if ! installed_for "$extras"; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".$extras"
    echo "$extras" > "$STAMP"
  fi
}

# The stamp names the extras last installed. "[test]" includes everything serve needs, so after
# ./run.sh test, ./run.sh serve installs nothing, and switching back and forth never reinstalls.
installed_for() {
  [ -f "$STAMP" ] && [ ! pyproject.toml -nt "$STAMP" ] && { [ -z "$1" ] || grep -qxF "$1" "$STAMP"; }
}

ensure_test_tools() {
  # command:package pairs the tests drive as real clients
  local wanted=(dig:dnsutils openssl:openssl ffprobe:ffmpeg ffmpeg:ffmpeg ping:iputils-ping
    dnsmasq:dnsmasq-base ip:iproute2 git:git mosquitto:mosquitto mosquitto_sub:mosquitto-clients
    chromium:chromium npm:npm gst-launch-1.0:gstreamer1.0-tools)
  local missing=()
  for pair in "${wanted[@]}"; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair##*:}")
  done
  # GStreamer's RTSP and RTP elements come in a package with no command of its own
  gst-inspect-1.0 --exists rtspsrc 2>/dev/null || missing+=(gstreamer1.0-plugins-good)
  if ((${#missing[@]})); then apt_install $(printf '%s\n' "${missing[@]}" | sort -u); fi
}

# The LL-HLS player test (tests/web/test_browser_llhls.py) plays fakecloud's stream in hls.js,
# which npm (installed above with the other tools) puts inside the virtual environment, never in
# the tracked tree. If npm cannot fetch it, that one test fails, not the whole run.
HLSJS_VERSION=1.6.19
ensure_test_players() {
  command -v npm >/dev/null || return 0
  local prefix="$VENV/npm"
  grep -qsF "\"version\": \"$HLSJS_VERSION\"" "$prefix/node_modules/hls.js/package.json" ||
    npm install --prefix "$prefix" --save-exact --no-audit --no-fund --silent \
      "hls.js@$HLSJS_VERSION" || echo "npm could not install hls.js@$HLSJS_VERSION" >&2
}

# Two runs at once in one checkout must not install into one venv together: installing holds a
# lock on this script itself, so no lock file appears in the tree.
with_install_lock() {
  local lock
  exec {lock}<"$SCRIPT"
  flock "$lock"
  "$@"
  exec {lock}<&-
}

ensure_test_env() {
  ensure_test_tools
  ensure_venv "[test]"
  ensure_test_players
}

case "${1:-}" in
  serve)
    shift
    with_install_lock ensure_venv ""
    exec "$VENV/bin/fakecloud" serve "$@"
    ;;
  test)
    shift
    with_install_lock ensure_test_env
    "$VENV/bin/ruff" check fakecloud tests bench
    "$VENV/bin/ruff" format --check fakecloud tests bench
    exec "$VENV/bin/python" -m pytest -q "$@"
    ;;
  ""|-h|--help)
    sed -n '2,7p' "$SCRIPT" | sed 's/^# \{0,1\}//'
    ;;
  *)
    with_install_lock ensure_venv ""
    exec "$VENV/bin/fakecloud" "$@"
    ;;
esac
