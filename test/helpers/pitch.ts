// Pitch of a whole recording for end-to-end tests (live devices, browser): the median YIN f0 over
// clearly voiced 40 ms windows, so a test can check "this came back N semitones higher".
import { yinEstimate } from '../../src/dsp/f0/yin.js';

const F0_MIN_HZ = 70;
const F0_MAX_HZ = 500;

/** Median f0 (Hz) over windows with RMS >= minRms and YIN aperiodicity < 0.2; `frames` = how many counted. */
export function medianF0(samples: Float32Array, sampleRate: number, options: { minRms?: number } = {}): { hz: number; frames: number } {
  const minRms = options.minRms ?? 0.02;
  const maxLag = Math.ceil(sampleRate / F0_MIN_HZ);
  const windowSamples = Math.round(0.04 * sampleRate) + maxLag;
  const hop = Math.round(0.01 * sampleRate);
  const found: number[] = [];
  for (let start = 0; start + windowSamples <= samples.length; start += hop) {
    const window = samples.subarray(start, start + windowSamples);
    let energy = 0;
    for (let i = 0; i < window.length; i++) energy += window[i]! * window[i]!;
    if (Math.sqrt(energy / window.length) < minRms) continue;
    const { f0Hz, aperiodicity } = yinEstimate(window, sampleRate, F0_MIN_HZ, F0_MAX_HZ);
    if (f0Hz > 0 && aperiodicity < 0.2) found.push(f0Hz);
  }
  found.sort((a, b) => a - b);
  return { hz: found.length ? found[Math.floor(found.length / 2)]! : 0, frames: found.length };
}

/** Pitch change between two recordings, in semitones. */
export function semitonesBetween(fromHz: number, toHz: number): number {
  return 12 * Math.log2(toHz / fromHz);
}
