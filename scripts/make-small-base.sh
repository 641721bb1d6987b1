#!/usr/bin/env bash
# Rebuilds models/sovits_small_base: the multi-speaker base that `svc train` (config small, the
# default) fine-tunes from (models/sovits_small_base/README.md says what it is). Pretrains the small
# config on every shared recording that may go into a shipped model, one speaker per person:
#   CMU ARCTIC clb slt aew axb awb (free use, CMU notice), Kathleen (CC0), VCTK p225-p228 and the 10
#   speakers of utterance 023 (CC BY 4.0), LibriSpeech test-other (8 speakers, CC BY 4.0), LJ Speech
#   (public domain). NEVER VCC 2016 (licence unverified: benchmark data only).
# Content: svc's phone encoder (models/svc_phone_encoder). The vocoder starts from the tiny base's
# (python -m svc_py.seed_base), which already follows f0, so CPU steps go to the voice.
#
#   bash scripts/make-small-base.sh [STEPS] [SEED]     # defaults: 3000 steps, seed 1234
#   SVC_WORK=/path bash scripts/make-small-base.sh 6000 # same work folder: resumes the run (--resume)
#
# Pretraining can be spread over several runs: keep SVC_WORK and raise STEPS. The last checkpoint is
# packed into models/sovits_small_base (float16 G_0.pth/D_0.pth, base.json, config.json).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-3000}
SEED=${2:-1234}
DATA=$(cd "${SVC_SHARED_DATA:-../shared/data}/speech" && pwd)
WORK=${SVC_WORK:-$(mktemp -d /tmp/svc-small-base.XXXXXX)}
OUT=${SVC_OUT:-models/sovits_small_base}
PY=${SVC_PYTHON:-/usr/bin/python3}
trap 'echo "work folder kept: $WORK (rerun with SVC_WORK=$WORK to resume)"' EXIT
mkdir -p "$WORK"

# One folder per speaker, as links (nothing copied).
IN="$WORK/in"
if [ ! -d "$IN" ]; then
  mkdir -p "$IN.tmp"
  link() { mkdir -p "$IN.tmp/$1"; ln -sf "$2" "$IN.tmp/$1/${3:-$(basename "$2")}"; }
  for s in clb slt aew axb awb; do for f in "$DATA/cmu_arctic_16k/$s"/*.wav; do link "$s" "$f"; done; done
  for f in "$DATA/kathleen_arctic_cc0_48k"/*.wav; do link kathleen "$f"; done
  for s in p225 p226 p227 p228; do for f in "$DATA/vctk_autovc_16k/$s"/*.wav; do link "$s" "$f"; done; done
  for f in "$DATA/vctk_starganv2_demo_48k"/*.wav; do n=$(basename "$f" .wav); link "${n%_023}" "$f" "${n}_48k.wav"; done
  for d in "$DATA/librispeech_test_other_16k"/*/; do s=$(basename "$d"); while IFS= read -r f; do link "ls$s" "$f"; done < <(find "$d" -name '*.flac' | sort); done
  for f in "$DATA/ljspeech_22k"/*.wav; do link lj "$f"; done
  mv "$IN.tmp" "$IN"
fi

node bin/svc.js preprocess "$IN" --out "$WORK/dataset" --config small --encoder svc_phone_encoder --val 1
if [ ! -f "$WORK/seed/G_0.pth" ]; then
  PYTHONPATH=python "$PY" -m svc_py.seed_base --from models/sovits_tiny_base --config small --out "$WORK/seed" --seed "$SEED"
fi
RESUME=()
[ -f "$WORK/run/run.json" ] && RESUME=(--resume)
node bin/svc.js train "$WORK/dataset" --out "$WORK/run" --config small --base "$WORK/seed" --steps "$STEPS" \
  --checkpoint-every 250 --log-every 20 --threads "${SVC_THREADS:-1}" --seed "$SEED" "${RESUME[@]}"
PYTHONPATH=python "$PY" -m svc_py.pack_base "$WORK/run" --out "$OUT" \
  --trained-on "shared speech that may ship (CMU ARCTIC 5 speakers, Kathleen CC0, VCTK 14 speakers CC BY 4.0, LibriSpeech test-other 8 speakers CC BY 4.0, LJ Speech public domain; never VCC 2016): 28 speakers, 22 min; vocoder from sovits_tiny_base; seed $SEED"
