#!/usr/bin/env bash
# Installs the system packages svc's tests, training and browser client need (Debian):
#   python3-torch/torchaudio/onnx  training, ONNX export, golden values for DSP tests
#   python3-faiss                 RVC retrieval indexes: test fixtures written by faiss itself (svc_py.rvc.make_index)
#                                 and so-vits-svc feature indexes (svc train-index --kind index)
#   chromium                       the web client's browser test
#   alsa-utils, libasound2-dev     live device I/O through a virtual ALSA device
#   pulseaudio, pulseaudio-utils   svc live --virtual-mic and its test (a private PulseAudio daemon, pactl/pacat/parec)
#   pipewire, pipewire-pulse, wireplumber, dbus-daemon, dbus-bin  the same through PipeWire's PulseAudio server (test/pipewire.test.ts)
#   sox, fonts-dejavu-core         audio checks, fonts for analysis plots
#   nginx                          the scale-out test (two svc servers behind a WebSocket proxy)
#   pocketsphinx(-en-us), espeak-ng, python3-sklearn  svc's content encoder (scripts/make-content-encoder.sh); svc train-index --kind kmeans
#   (espeak-ng is also `svc say`'s text to speech; pocketsphinx-en-us its intelligibility bench)
# Safe to run again: it only installs what is missing. Needs root (or sudo) the first time.
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in python3-torch python3-torchaudio python3-onnx python3-numpy python3-matplotlib python3-faiss chromium alsa-utils libasound2-dev libasound2-plugins pulseaudio pulseaudio-utils pipewire pipewire-pulse wireplumber dbus-daemon dbus-bin sox fonts-dejavu-core nginx pocketsphinx pocketsphinx-en-us espeak-ng python3-sklearn; do
  have_pkg "$pkg" || need+=("$pkg")
done

if ((${#need[@]})); then
  echo "setup: installing Debian packages: ${need[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
      echo "setup: need root to install: ${need[*]} (run: apt-get install ${need[*]})" >&2; exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund
fi
