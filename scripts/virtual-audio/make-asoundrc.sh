#!/usr/bin/env bash
# Usage: make-asoundrc.sh IN.raw OUT.raw > asound.conf
# Writes an ALSA config defining `svc_mic` (capture from IN.raw) and `svc_speaker` (playback to OUT.raw).
# Use it alone:      ALSA_CONFIG_PATH=$PWD/asound.conf svc devices
# or with the system config: append it to ~/.asoundrc.
# Make IN.raw from a WAV (float32 mono 48 kHz):  sox speech.wav -r 48000 -e floating-point -b 32 -t raw IN.raw remix -
set -euo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 IN.raw OUT.raw > asound.conf" >&2; exit 2; fi
in=$(realpath -m "$1"); out=$(realpath -m "$2")
sed -e "s#@IN@#${in}#g" -e "s#@OUT@#${out}#g" "$(dirname "$0")/asoundrc.template"
