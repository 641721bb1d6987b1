// Draws an analysis figure with @napi-rs/canvas: a log-magnitude spectrogram (dBFS, colour map,
// Hz axis with ticks, colour bar) with the F0 track drawn on the same Hz axis (gaps where
// unvoiced), a band marking voiced frames, and an RMS volume lane (dBFS) below, all on one time
// axis in seconds; a title with file name, duration and rate, and a legend. Input is plain data
// (AnalysisData), so the figure can be drawn from any analysis; output is PNG bytes.
import { createCanvas, type SKRSContext2D } from '@napi-rs/canvas';
import { SvcError } from '../errors.js';
import { buildColormapLut, lutColorCss, type ColormapName } from './colormap.js';
import { MAX_PLOT_SIDE, MIN_PLOT_HEIGHT, MIN_PLOT_WIDTH } from './limits.js';
import { plotFontFamily } from './fonts.js';
import { formatHz, formatSeconds, frequencyTicks, hzToAxisFraction, axisFractionToHz, niceLinearTicks, type FrequencyScale } from './scale.js';

/** Frame i of a track sits at time startSeconds + i * hopSeconds (frame centre). */
export interface FrameTiming {
  hopSeconds: number;
  startSeconds: number;
}

export interface SpectrogramData extends FrameTiming {
  frameCount: number;
  binCount: number;
  /** Width of one FFT bin, Hz (bin k is at k * binHz). */
  binHz: number;
  /** Magnitude in dBFS (a full-scale sine peaks near 0 dB), frame-major: db[frame * binCount + bin]. */
  db: Float32Array;
  /** Analysis window length, samples (for the caption). */
  windowSamples: number;
}

export interface F0Track extends FrameTiming {
  /** Estimator name for the legend (e.g. "yin", "swift"). */
  method: string;
  /** F0 per frame, Hz (values of unvoiced frames are ignored). */
  hz: Float32Array;
  /** 1 where the frame is voiced. */
  voiced: Uint8Array;
}

export interface VolumeTrack extends FrameTiming {
  /** RMS per frame, dBFS (-Infinity for digital silence). */
  db: Float32Array;
}

export interface AnalysisData {
  fileName: string;
  sampleRate: number;
  channelCount: number;
  durationSeconds: number;
  spectrogram: SpectrogramData;
  f0: F0Track;
  volume: VolumeTrack;
}

export interface PlotOptions {
  width: number;
  height: number;
  frequencyScale: FrequencyScale;
  colormap: ColormapName;
  /** Colours span [top - dynamicRangeDb, top] where top is the loudest bin rounded up to 10 dB. */
  dynamicRangeDb: number;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where each part of the figure lies, in pixels (for drawing, and for tests that read pixels). */
export interface PlotLayout {
  width: number;
  height: number;
  fontPx: number;
  title: Rect;
  spectrogram: Rect;
  voicedBand: Rect;
  volume: Rect;
  colorbar: Rect;
}

/** Lowest dBFS shown in the volume lane. */
export const VOLUME_FLOOR_DB = -72;

export const PLOT_COLORS = {
  background: '#16181d',
  panel: '#000004',
  text: '#e8e8ea',
  mutedText: '#a3a6ad',
  grid: 'rgba(255, 255, 255, 0.16)',
  /** F0 line; a hue that magma and viridis never produce, so it stays visible on any cell. */
  f0: '#00e5ff',
  f0Outline: 'rgba(0, 0, 0, 0.6)',
  voiced: '#35c29a',
  unvoiced: '#2a2d35',
  volumeLine: '#ffb000',
  volumeFill: 'rgba(255, 176, 0, 0.28)',
} as const;

/** Pixel rectangles for a figure of width x height. */
export function computePlotLayout(width: number, height: number): PlotLayout {
  const fontPx = Math.max(10, Math.min(16, Math.round(Math.min(width / 80, height / 40))));
  const titleHeight = Math.round(fontPx * 3.4);
  const left = Math.round(fontPx * 5.2);
  const right = Math.round(fontPx * 6.6);
  const bottom = Math.round(fontPx * 3.3);
  const gap = Math.round(fontPx * 0.5);
  const bandHeight = Math.max(8, Math.round(fontPx * 0.9));
  const plotWidth = width - left - right;
  const available = height - titleHeight - bottom - bandHeight - 3 * gap;
  const volumeHeight = Math.max(30, Math.round(available * 0.2));
  const spectrogramHeight = available - volumeHeight;
  const spectrogram = { x: left, y: titleHeight, width: plotWidth, height: spectrogramHeight };
  const voicedBand = { x: left, y: spectrogram.y + spectrogramHeight + gap, width: plotWidth, height: bandHeight };
  const volume = { x: left, y: voicedBand.y + bandHeight + 2 * gap, width: plotWidth, height: volumeHeight };
  const colorbar = { x: left + plotWidth + Math.round(fontPx * 1.2), y: titleHeight, width: Math.round(fontPx * 1.1), height: spectrogramHeight };
  return { width, height, fontPx, title: { x: 0, y: 0, width, height: titleHeight }, spectrogram, voicedBand, volume, colorbar };
}

/** Row (pixel y, may be fractional) of frequency `hz` in the spectrogram panel. */
export function hzToPixelY(layout: PlotLayout, scale: FrequencyScale, hz: number): number {
  const r = layout.spectrogram;
  return r.y + r.height * (1 - hzToAxisFraction(scale, hz));
}

/** Column (pixel x, may be fractional) of time `seconds` on the shared time axis. */
export function secondsToPixelX(layout: PlotLayout, durationSeconds: number, seconds: number): number {
  const r = layout.spectrogram;
  return r.x + (r.width * seconds) / durationSeconds;
}

function volumeDbToY(rect: Rect, db: number): number {
  const clamped = Math.max(VOLUME_FLOOR_DB, Math.min(0, Number.isFinite(db) ? db : VOLUME_FLOOR_DB));
  return rect.y + rect.height * (clamped / VOLUME_FLOOR_DB);
}

/** Loudest bin rounded up to 10 dB: the top of the colour range. */
function spectrogramTopDb(db: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < db.length; i++) if (db[i] > max) max = db[i];
  return Number.isFinite(max) ? Math.ceil(max / 10) * 10 : 0;
}

/** Paints the spectrogram cells into an RGBA buffer of rect size (max over frames per column). */
function paintSpectrogram(
  rgba: Uint8ClampedArray,
  rect: Rect,
  data: AnalysisData,
  scale: FrequencyScale,
  lut: Uint8Array,
  bottomDb: number,
  rangeDb: number,
): void {
  const spec = data.spectrogram;
  const { width, height } = rect;
  // Row -> fractional bin (linear interpolation between neighbouring bins).
  const rowBinLo = new Int32Array(height);
  const rowBinFrac = new Float32Array(height);
  const rowValid = new Uint8Array(height);
  for (let y = 0; y < height; y++) {
    const hz = axisFractionToHz(scale, 1 - (y + 0.5) / height);
    const bin = hz / spec.binHz;
    const lo = Math.floor(bin);
    rowValid[y] = lo >= 0 && lo < spec.binCount ? 1 : 0;
    rowBinLo[y] = Math.max(0, Math.min(spec.binCount - 1, lo));
    rowBinFrac[y] = bin - lo;
  }
  const column = new Float32Array(spec.binCount);
  const lutSize = lut.length / 3;
  for (let x = 0; x < width; x++) {
    const t0 = (x / width) * data.durationSeconds;
    const t1 = ((x + 1) / width) * data.durationSeconds;
    let f0 = Math.ceil((t0 - spec.startSeconds) / spec.hopSeconds);
    let f1 = Math.ceil((t1 - spec.startSeconds) / spec.hopSeconds);
    if (f1 <= f0) {
      // Fewer frames than pixels: the frame nearest to the column centre.
      f0 = Math.round(((t0 + t1) / 2 - spec.startSeconds) / spec.hopSeconds);
      f1 = f0 + 1;
    }
    f0 = Math.max(0, Math.min(spec.frameCount - 1, f0));
    f1 = Math.max(f0 + 1, Math.min(spec.frameCount, f1));
    column.fill(-Infinity);
    for (let f = f0; f < f1; f++) {
      const base = f * spec.binCount;
      for (let k = 0; k < spec.binCount; k++) if (spec.db[base + k] > column[k]) column[k] = spec.db[base + k];
    }
    for (let y = 0; y < height; y++) {
      const offset = (y * width + x) * 4;
      let colorIndex = 0;
      if (rowValid[y] && spec.frameCount > 0) {
        const lo = rowBinLo[y];
        const hi = Math.min(spec.binCount - 1, lo + 1);
        const a = Math.max(column[lo], bottomDb - 1);
        const b = Math.max(column[hi], bottomDb - 1);
        const db = a + (b - a) * rowBinFrac[y];
        const norm = Math.min(1, Math.max(0, (db - bottomDb) / rangeDb));
        colorIndex = Math.round(norm * (lutSize - 1));
      }
      rgba[offset] = lut[colorIndex * 3];
      rgba[offset + 1] = lut[colorIndex * 3 + 1];
      rgba[offset + 2] = lut[colorIndex * 3 + 2];
      rgba[offset + 3] = 255;
    }
  }
}

function text(ctx: SKRSContext2D, value: string, x: number, y: number, align: CanvasTextAlign, baseline: CanvasTextBaseline, color: string): void {
  ctx.fillStyle = color;
  ctx.textAlign = align;
  ctx.textBaseline = baseline;
  ctx.fillText(value, x, y);
}

function drawTimeAxis(ctx: SKRSContext2D, layout: PlotLayout, durationSeconds: number, font: string): void {
  const r = layout.volume;
  const ticks = niceLinearTicks(0, durationSeconds, Math.max(3, Math.round(r.width / 90)));
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : durationSeconds || 1;
  const fp = layout.fontPx;
  ctx.font = `${fp}px ${font}`;
  ctx.strokeStyle = PLOT_COLORS.mutedText;
  ctx.lineWidth = 1;
  for (const t of ticks) {
    const x = Math.round(secondsToPixelX(layout, durationSeconds, t)) + 0.5;
    // Tick marks under the spectrogram and under the volume lane; grid lines through both.
    for (const panel of [layout.spectrogram, layout.volume]) {
      ctx.beginPath();
      ctx.moveTo(x, panel.y + panel.height);
      ctx.lineTo(x, panel.y + panel.height + fp * 0.35);
      ctx.stroke();
    }
    text(ctx, formatSeconds(t, step), x, r.y + r.height + fp * 0.5, 'center', 'top', PLOT_COLORS.text);
  }
  text(ctx, 'time (s)', r.x + r.width / 2, r.y + r.height + fp * 1.9, 'center', 'top', PLOT_COLORS.mutedText);
}

/** A dashed horizontal grid line across `rect` at pixel row `y`. */
function drawGridLine(ctx: SKRSContext2D, rect: { x: number; width: number }, y: number): void {
  ctx.strokeStyle = PLOT_COLORS.grid;
  ctx.setLineDash([3, 4]);
  ctx.beginPath();
  ctx.moveTo(rect.x, y);
  ctx.lineTo(rect.x + rect.width, y);
  ctx.stroke();
  ctx.setLineDash([]);
}

function drawFrequencyAxis(ctx: SKRSContext2D, layout: PlotLayout, scale: FrequencyScale, font: string): void {
  const r = layout.spectrogram;
  const fp = layout.fontPx;
  ctx.font = `${fp}px ${font}`;
  for (const hz of frequencyTicks(scale, r.height)) {
    const y = Math.round(hzToPixelY(layout, scale, hz)) + 0.5;
    drawGridLine(ctx, r, y);
    ctx.strokeStyle = PLOT_COLORS.mutedText;
    ctx.beginPath();
    ctx.moveTo(r.x - fp * 0.35, y);
    ctx.lineTo(r.x, y);
    ctx.stroke();
    text(ctx, formatHz(hz), r.x - fp * 0.5, y, 'right', 'middle', PLOT_COLORS.text);
  }
  ctx.save();
  ctx.translate(fp * 1.1, r.y + r.height / 2);
  ctx.rotate(-Math.PI / 2);
  text(ctx, `frequency (Hz, ${scale.kind} scale)`, 0, 0, 'center', 'middle', PLOT_COLORS.mutedText);
  ctx.restore();
}

function drawColorbar(ctx: SKRSContext2D, layout: PlotLayout, lut: Uint8Array, topDb: number, rangeDb: number, font: string): void {
  const r = layout.colorbar;
  const fp = layout.fontPx;
  for (let y = 0; y < r.height; y++) {
    ctx.fillStyle = lutColorCss(lut, 1 - y / Math.max(1, r.height - 1));
    ctx.fillRect(r.x, r.y + y, r.width, 1);
  }
  ctx.strokeStyle = PLOT_COLORS.mutedText;
  ctx.strokeRect(r.x + 0.5, r.y + 0.5, r.width - 1, r.height - 1);
  ctx.font = `${fp}px ${font}`;
  const bottomDb = topDb - rangeDb;
  for (const db of niceLinearTicks(bottomDb, topDb, Math.max(2, Math.round(r.height / 50)))) {
    const y = Math.round(r.y + r.height * ((topDb - db) / rangeDb)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(r.x + r.width, y);
    ctx.lineTo(r.x + r.width + fp * 0.3, y);
    ctx.stroke();
    text(ctx, `${db}`, r.x + r.width + fp * 0.45, y, 'left', 'middle', PLOT_COLORS.text);
  }
  ctx.save();
  ctx.translate(layout.width - fp * 1.0, r.y + r.height / 2);
  ctx.rotate(-Math.PI / 2);
  text(ctx, 'magnitude (dBFS)', 0, 0, 'center', 'middle', PLOT_COLORS.mutedText);
  ctx.restore();
}

function drawF0(ctx: SKRSContext2D, layout: PlotLayout, data: AnalysisData, scale: FrequencyScale): void {
  const r = layout.spectrogram;
  const track = data.f0;
  ctx.save();
  ctx.beginPath();
  ctx.rect(r.x, r.y, r.width, r.height);
  ctx.clip();
  // Build the voiced runs once; stroke them twice (dark outline, then colour) for contrast.
  const runs: Array<Array<[number, number]>> = [];
  let current: Array<[number, number]> | null = null;
  for (let i = 0; i < track.hz.length; i++) {
    const voiced = track.voiced[i] === 1 && track.hz[i] > 0 && Number.isFinite(track.hz[i]);
    if (!voiced) {
      current = null;
      continue;
    }
    const x = secondsToPixelX(layout, data.durationSeconds, track.startSeconds + i * track.hopSeconds);
    const y = hzToPixelY(layout, scale, track.hz[i]);
    // A jump of more than half an octave within one hop is a tracking break (octave error,
    // new note), not a glide: start a new run instead of drawing a vertical connector.
    const jump = i > 0 && current ? Math.abs(Math.log2(track.hz[i] / track.hz[i - 1])) : 0;
    if (!current || jump > 0.5) {
      current = [];
      runs.push(current);
    }
    current.push([x, y]);
  }
  const lineWidth = Math.max(2, layout.fontPx / 6);
  for (const [style, width] of [
    [PLOT_COLORS.f0Outline, lineWidth + 2.5],
    [PLOT_COLORS.f0, lineWidth],
  ] as const) {
    ctx.strokeStyle = style;
    ctx.fillStyle = style;
    ctx.lineWidth = width;
    ctx.lineJoin = 'round';
    ctx.lineCap = 'round';
    for (const run of runs) {
      if (run.length === 1) {
        ctx.beginPath();
        ctx.arc(run[0][0], run[0][1], width / 2, 0, 2 * Math.PI);
        ctx.fill();
        continue;
      }
      ctx.beginPath();
      ctx.moveTo(run[0][0], run[0][1]);
      for (let i = 1; i < run.length; i++) ctx.lineTo(run[i][0], run[i][1]);
      ctx.stroke();
    }
  }
  ctx.restore();
}

function drawVoicedBand(ctx: SKRSContext2D, layout: PlotLayout, data: AnalysisData, font: string): void {
  const r = layout.voicedBand;
  const track = data.f0;
  ctx.fillStyle = PLOT_COLORS.unvoiced;
  ctx.fillRect(r.x, r.y, r.width, r.height);
  ctx.fillStyle = PLOT_COLORS.voiced;
  let runStart = -1;
  for (let i = 0; i <= track.voiced.length; i++) {
    const voiced = i < track.voiced.length && track.voiced[i] === 1;
    if (voiced && runStart < 0) runStart = i;
    if (!voiced && runStart >= 0) {
      // A frame covers +-hop/2 around its centre.
      const x0 = secondsToPixelX(layout, data.durationSeconds, track.startSeconds + (runStart - 0.5) * track.hopSeconds);
      const x1 = secondsToPixelX(layout, data.durationSeconds, track.startSeconds + (i - 0.5) * track.hopSeconds);
      const left = Math.max(r.x, x0);
      ctx.fillRect(left, r.y, Math.min(r.x + r.width, x1) - left, r.height);
      runStart = -1;
    }
  }
  ctx.font = `${layout.fontPx}px ${font}`;
  text(ctx, 'voiced', r.x - layout.fontPx * 0.5, r.y + r.height / 2, 'right', 'middle', PLOT_COLORS.mutedText);
}

function drawVolume(ctx: SKRSContext2D, layout: PlotLayout, data: AnalysisData, font: string): void {
  const r = layout.volume;
  const fp = layout.fontPx;
  const track = data.volume;
  ctx.fillStyle = PLOT_COLORS.panel;
  ctx.fillRect(r.x, r.y, r.width, r.height);
  ctx.font = `${fp}px ${font}`;
  for (const db of r.height >= 70 ? [0, -20, -40, -60] : [0, -30, -60]) {
    const y = Math.round(volumeDbToY(r, db)) + 0.5;
    drawGridLine(ctx, r, y);
    text(ctx, `${db}`, r.x - fp * 0.5, y, 'right', 'middle', PLOT_COLORS.text);
  }
  if (track.db.length > 0) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(r.x, r.y, r.width, r.height);
    ctx.clip();
    const points = Array.from(track.db, (db, i) => [
      secondsToPixelX(layout, data.durationSeconds, track.startSeconds + i * track.hopSeconds),
      volumeDbToY(r, db),
    ]);
    // Hold the edge values out to both ends of the time axis (a one-frame file still shows a level).
    points.unshift([r.x, points[0][1]]);
    points.push([r.x + r.width, points[points.length - 1][1]]);
    ctx.beginPath();
    ctx.moveTo(points[0][0], r.y + r.height);
    for (const [x, y] of points) ctx.lineTo(x, y);
    ctx.lineTo(points[points.length - 1][0], r.y + r.height);
    ctx.closePath();
    ctx.fillStyle = PLOT_COLORS.volumeFill;
    ctx.fill();
    ctx.beginPath();
    points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y)));
    ctx.strokeStyle = PLOT_COLORS.volumeLine;
    ctx.lineWidth = 1.5;
    ctx.lineJoin = 'round';
    ctx.stroke();
    ctx.restore();
  }
  ctx.strokeStyle = PLOT_COLORS.mutedText;
  ctx.lineWidth = 1;
  ctx.strokeRect(r.x + 0.5, r.y + 0.5, r.width - 1, r.height - 1);
  ctx.save();
  ctx.translate(fp * 1.1, r.y + r.height / 2);
  ctx.rotate(-Math.PI / 2);
  text(ctx, 'RMS (dBFS)', 0, 0, 'center', 'middle', PLOT_COLORS.mutedText);
  ctx.restore();
}

function describeChannels(count: number): string {
  return count === 1 ? 'mono' : count === 2 ? 'stereo' : `${count} channels`;
}

function drawTitleAndLegend(ctx: SKRSContext2D, layout: PlotLayout, data: AnalysisData, font: string): void {
  const fp = layout.fontPx;
  const spec = data.spectrogram;
  const x0 = layout.spectrogram.x;
  ctx.font = `bold ${Math.round(fp * 1.25)}px ${font}`;
  text(ctx, data.fileName, x0, fp * 0.6, 'left', 'top', PLOT_COLORS.text);
  const nameWidth = ctx.measureText(data.fileName).width;
  ctx.font = `${fp}px ${font}`;
  const facts = `${data.durationSeconds.toFixed(2)} s · ${data.sampleRate} Hz · ${describeChannels(data.channelCount)}`;
  text(ctx, facts, x0 + nameWidth + fp, fp * 0.6 + fp * 0.2, 'left', 'top', PLOT_COLORS.mutedText);

  // Legend, right-aligned in the title band: swatch + label per item.
  const items: Array<{ label: string; draw: (x: number, y: number) => void }> = [
    {
      label: `F0 (${data.f0.method})`,
      draw: (x, y) => {
        ctx.strokeStyle = PLOT_COLORS.f0;
        ctx.lineWidth = 3;
        ctx.beginPath();
        ctx.moveTo(x, y);
        ctx.lineTo(x + fp * 1.6, y);
        ctx.stroke();
      },
    },
    {
      label: 'voiced',
      draw: (x, y) => {
        ctx.fillStyle = PLOT_COLORS.voiced;
        ctx.fillRect(x, y - fp * 0.4, fp * 1.6, fp * 0.8);
      },
    },
    {
      label: 'RMS',
      draw: (x, y) => {
        ctx.strokeStyle = PLOT_COLORS.volumeLine;
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.moveTo(x, y);
        ctx.lineTo(x + fp * 1.6, y);
        ctx.stroke();
      },
    },
  ];
  ctx.font = `${fp}px ${font}`;
  const y = fp * 2.15 + fp * 0.55;
  let x = layout.spectrogram.x + layout.spectrogram.width;
  for (const item of [...items].reverse()) {
    const labelWidth = ctx.measureText(item.label).width;
    x -= labelWidth;
    text(ctx, item.label, x, y, 'left', 'middle', PLOT_COLORS.text);
    x -= fp * 2.1;
    item.draw(x, y);
    x -= fp * 1.2;
  }

  // Analysis settings on the same line, left of the legend, shortened to the room there is.
  const windowMs = (spec.windowSamples / data.sampleRate) * 1000;
  const captions = [
    `STFT Hann ${spec.windowSamples} (${windowMs.toFixed(0)} ms), hop ${(spec.hopSeconds * 1000).toFixed(1)} ms · F0: ${data.f0.method}, hop ${(data.f0.hopSeconds * 1000).toFixed(1)} ms`,
    `STFT ${spec.windowSamples}, hop ${(spec.hopSeconds * 1000).toFixed(1)} ms`,
  ];
  const room = x - x0;
  const caption = captions.find((c) => ctx.measureText(c).width <= room);
  if (caption) text(ctx, caption, x0, fp * 2.15, 'left', 'top', PLOT_COLORS.mutedText);
}

/** Renders the figure; returns PNG bytes and the layout used. */
export function renderAnalysisPng(data: AnalysisData, options: PlotOptions): { png: Buffer; layout: PlotLayout } {
  const { width, height } = options;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < MIN_PLOT_WIDTH || height < MIN_PLOT_HEIGHT || width > MAX_PLOT_SIDE || height > MAX_PLOT_SIDE) {
    throw new SvcError('INVALID_ARGUMENT', `plot size must be ${MIN_PLOT_WIDTH}-${MAX_PLOT_SIDE} x ${MIN_PLOT_HEIGHT}-${MAX_PLOT_SIDE} whole pixels, got ${width}x${height}`);
  }
  if (!(data.durationSeconds > 0)) {
    throw new SvcError('INVALID_AUDIO', `${data.fileName} has no samples to plot (duration ${data.durationSeconds} s)`, { hint: 'give a file with audio in it' });
  }
  const layout = computePlotLayout(width, height);
  const font = plotFontFamily();
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = PLOT_COLORS.background;
  ctx.fillRect(0, 0, width, height);

  const lut = buildColormapLut(options.colormap);
  const topDb = spectrogramTopDb(data.spectrogram.db);
  const rangeDb = options.dynamicRangeDb;
  const r = layout.spectrogram;
  const image = ctx.createImageData(r.width, r.height);
  paintSpectrogram(image.data, r, data, options.frequencyScale, lut, topDb - rangeDb, rangeDb);
  ctx.putImageData(image, r.x, r.y);

  drawFrequencyAxis(ctx, layout, options.frequencyScale, font);
  drawF0(ctx, layout, data, options.frequencyScale);
  ctx.strokeStyle = PLOT_COLORS.mutedText;
  ctx.lineWidth = 1;
  ctx.strokeRect(r.x - 0.5, r.y - 0.5, r.width + 1, r.height + 1);
  drawColorbar(ctx, layout, lut, topDb, rangeDb, font);
  drawVoicedBand(ctx, layout, data, font);
  drawVolume(ctx, layout, data, font);
  drawTimeAxis(ctx, layout, data.durationSeconds, font);
  drawTitleAndLegend(ctx, layout, data, font);
  return { png: canvas.toBuffer('image/png'), layout };
}
