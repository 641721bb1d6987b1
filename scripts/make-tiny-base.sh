#!/usr/bin/env bash
# Rebuilds models/sovits_tiny_base: the pretrained base that `svc train --config tiny` fine-tunes
# from (models/sovits_tiny_base/README.md says what it is and why it exists). Trains the tiny config
# from random weights on the shared data's CC0 speech (CMU ARCTIC "kathleen", 48 kHz, 30 prompts)
# and packs the last step as G_0.pth/D_0.pth (float16 weights).
#
#   bash scripts/make-tiny-base.sh [STEPS] [SEED]      # defaults: 1500 steps, seed 1234; ~10 min on 2 cores
#
# Check before committing: the run's val/step_<N>.wav must follow the clip's pitch
#   svc eval DATASET/clips/<first val clip>.wav RUN/val/step_<N>.wav --align time   (f0 corr > 0.9)
# (a few seeds fall into a frame-rate buzz instead; docs/training.md).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-1500}
SEED=${2:-1234}
DATA=${SVC_SHARED_DATA:-../shared/data}/speech
WORK=$(mktemp -d /tmp/svc-tiny-base.XXXXXX)
trap 'echo "work folder kept: $WORK"' EXIT

node bin/svc.js preprocess "$DATA/kathleen_arctic_cc0_48k" --out "$WORK/dataset" --speaker kathleen --config tiny --encoder tiny
node bin/svc.js train "$WORK/dataset" --out "$WORK/run" --config tiny --base none --steps "$STEPS" \
  --checkpoint-every 500 --log-every 10 --threads 1 --seed "$SEED"
PYTHONPATH=python "${SVC_PYTHON:-/usr/bin/python3}" -m svc_py.pack_base "$WORK/run" --out models/sovits_tiny_base \
  --trained-on "CMU ARCTIC kathleen (CC0, shared/data/speech/kathleen_arctic_cc0_48k): 26 clips, 1.9 min; $STEPS steps from random weights (seed $SEED)"
