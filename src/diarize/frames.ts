// Frame-level speaker labels from window labels: each 10 ms speech frame takes the speaker of the
// window whose centre is nearest (windows are 1.5 s every 0.5 s, so a turn boundary lands within
// ±0.25 s of the true one). A per-speaker Gaussian re-labelling of the MFCC frames was tried and
// measured worse (bench/diarize.bench.ts): MFCC frames follow the phones more than the speaker.
// Shapes: labels Int32Array [frame], −1 for non-speech.
import { MFCC_HOP_SECONDS } from './mfcc.js';
import type { SpeakerWindow } from './embedding.js';
import type { TimeRegion } from './vad.js';

/** Speech-region frame ranges [start, end) on the MFCC grid. */
export function regionFrames(regions: readonly TimeRegion[], frames: number): Array<[number, number]> {
  return regions
    .map((r) => [Math.max(0, Math.round(r.startSeconds / MFCC_HOP_SECONDS)), Math.min(frames, Math.round(r.endSeconds / MFCC_HOP_SECONDS))] as [number, number])
    .filter(([s, e]) => e > s);
}

/** Initial frame labels: each speech frame takes the label of the window whose centre is nearest. */
export function labelsFromWindows(windows: readonly SpeakerWindow[], windowLabels: Int32Array, spans: Array<[number, number]>, frames: number): Int32Array {
  const labels = new Int32Array(frames).fill(-1);
  const centres = windows.map((w) => (w.startFrame + w.endFrame) / 2);
  let w = 0;
  for (const [start, end] of spans) {
    for (let t = start; t < end; t++) {
      while (w + 1 < centres.length && Math.abs(centres[w + 1]! - t) <= Math.abs(centres[w]! - t)) w++;
      labels[t] = centres.length ? windowLabels[w]! : 0;
    }
  }
  return labels;
}
