#!/usr/bin/env bash
# Rebuilds models/svc_phone_encoder: svc's own content encoder (python/svc_py/content/, its README
# says what it is). From the shared data's transcribed CC0 / CC BY / public-domain speech and
# espeak-ng speech of CMU ARCTIC prompts: pocketsphinx (Debian's en-us model) force-aligns phones,
# the causal encoder learns them from formant/pitch/EQ-perturbed spectra, encoder.onnx is exported
# with scores.json (phone accuracy on held-out real speech; speaker probe on VCC 2016, test-only).
#
#   bash scripts/make-content-encoder.sh [STEPS] [SEED]   # defaults: 1500 steps, seed 1234
#
# Needs: apt-get install pocketsphinx pocketsphinx-en-us espeak-ng python3-sklearn (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-1500}
SEED=${2:-1234}
DATA=${SVC_SHARED_DATA:-../shared/data}
WORK=${SVC_WORK:-$(mktemp -d /tmp/svc-content-encoder.XXXXXX)}
OUT=${SVC_OUT:-models/svc_phone_encoder}
trap 'echo "work folder kept: $WORK"' EXIT

PYTHONPATH=python "${SVC_PYTHON:-/usr/bin/python3}" -m svc_py.content.train --data "$DATA" --work "$WORK" --out "$OUT" \
  --synthetic 200 --steps "$STEPS" --batch-size 12 --threads 1 --seed "$SEED"
