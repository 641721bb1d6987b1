// Axis mappings and tick choices for plots: frequency scales (linear, log, mel) mapping Hz to a
// fraction of the axis, and "nice" tick values/labels for time, Hz and dB axes. Pure functions.

export type FrequencyScaleKind = 'linear' | 'log' | 'mel';

export interface FrequencyScale {
  kind: FrequencyScaleKind;
  /** Bottom of the axis, Hz (> 0 for log). */
  minHz: number;
  /** Top of the axis, Hz. */
  maxHz: number;
}

function hzToMel(hz: number): number {
  return 2595 * Math.log10(1 + hz / 700);
}

function melToHz(mel: number): number {
  return 700 * (10 ** (mel / 2595) - 1);
}

function warp(kind: FrequencyScaleKind, hz: number): number {
  if (kind === 'log') return Math.log(hz);
  if (kind === 'mel') return hzToMel(hz);
  return hz;
}

function unwarp(kind: FrequencyScaleKind, value: number): number {
  if (kind === 'log') return Math.exp(value);
  if (kind === 'mel') return melToHz(value);
  return value;
}

/** Position of `hz` on the axis: 0 at minHz, 1 at maxHz (outside [0, 1] when out of range). */
export function hzToAxisFraction(scale: FrequencyScale, hz: number): number {
  const lo = warp(scale.kind, scale.minHz);
  const hi = warp(scale.kind, scale.maxHz);
  return (warp(scale.kind, Math.max(hz, scale.kind === 'log' ? 1e-6 : hz)) - lo) / (hi - lo);
}

/** Inverse of hzToAxisFraction. */
export function axisFractionToHz(scale: FrequencyScale, fraction: number): number {
  const lo = warp(scale.kind, scale.minHz);
  const hi = warp(scale.kind, scale.maxHz);
  return unwarp(scale.kind, lo + fraction * (hi - lo));
}

/** Evenly spaced round values (1, 2, 2.5, 5 x 10^k steps) covering [min, max], about `targetCount` of them. */
export function niceLinearTicks(min: number, max: number, targetCount = 6): number[] {
  if (!(max > min)) return [min];
  const rawStep = (max - min) / Math.max(1, targetCount);
  const magnitude = 10 ** Math.floor(Math.log10(rawStep));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rawStep) ?? 10 * magnitude;
  const ticks: number[] = [];
  const first = Math.ceil(min / step - 1e-9) * step;
  for (let v = first; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toFixed(10)));
  return ticks;
}

/** Tick values for a frequency axis: 1-2-5 decades on log/mel axes, round steps on linear ones. */
export function frequencyTicks(scale: FrequencyScale, axisPixels: number): number[] {
  if (scale.kind === 'linear') return niceLinearTicks(scale.minHz, scale.maxHz, Math.max(3, Math.round(axisPixels / 60)));
  const candidates: number[] = [];
  for (let decade = 10; decade <= 100_000; decade *= 10) {
    for (const m of [1, 2, 5]) candidates.push(m * decade);
  }
  // Extra in-between values when the axis has room (e.g. 300, 3k), keeping labels >= ~28 px apart.
  const dense = [...candidates, ...candidates.map((c) => c * 1.5), ...candidates.map((c) => c * 3)].sort((a, b) => a - b);
  const inRange = (list: number[]): number[] => list.filter((hz) => hz >= scale.minHz - 1e-9 && hz <= scale.maxHz + 1e-9);
  const minGapPixels = (list: number[]): number => {
    let gap = Infinity;
    for (let i = 1; i < list.length; i++) {
      gap = Math.min(gap, (hzToAxisFraction(scale, list[i]) - hzToAxisFraction(scale, list[i - 1])) * axisPixels);
    }
    return gap;
  };
  const denseTicks = inRange(dense);
  if (minGapPixels(denseTicks) >= 28) return denseTicks;
  // Mel axes squeeze the low decades: keep ticks top-down, dropping any closer than ~20 px to the last kept.
  const kept: number[] = [];
  for (const hz of inRange(candidates).reverse()) {
    const last = kept[kept.length - 1];
    if (last === undefined || (hzToAxisFraction(scale, last) - hzToAxisFraction(scale, hz)) * axisPixels >= 20) kept.push(hz);
  }
  return kept.reverse();
}

/** "50", "440", "1k", "2.5k", "12k". */
export function formatHz(hz: number): string {
  if (hz >= 1000) return `${Number((hz / 1000).toFixed(hz % 1000 === 0 ? 0 : 1))}k`;
  return `${Number(hz.toFixed(hz < 10 ? 1 : 0))}`;
}

/** Seconds with as many decimals as the tick step needs: "0", "0.5", "1.25", "12". */
export function formatSeconds(seconds: number, stepSeconds: number): string {
  let decimals = 0;
  while (decimals < 3 && Math.abs(stepSeconds * 10 ** decimals - Math.round(stepSeconds * 10 ** decimals)) > 1e-6) decimals++;
  return seconds.toFixed(decimals);
}
