// Drawing: level meters (peak + RMS bars in dBFS with peak hold) and a scrolling spectrogram
// (one column per animation frame from an AnalyserNode, log-frequency axis, dB colour map).

import { toDecibels } from './audio-engine.js';

const METER_FLOOR_DB = -60;

/** A horizontal meter: `element` is a .meter with .meter-rms, .meter-peak, .meter-hold children and a .meter-value label next to it. */
export class LevelMeter {
  constructor(element, label) {
    this.rmsBar = element.querySelector('.meter-rms');
    this.peakBar = element.querySelector('.meter-peak');
    this.holdMark = element.querySelector('.meter-hold');
    this.label = label;
    this.holdDb = -90;
    this.holdUntil = 0;
    this.shownPeakDb = -90;
  }

  /** peak/rms: linear amplitude of the last period. */
  update(peak, rms) {
    const now = performance.now();
    const peakDb = toDecibels(peak);
    const rmsDb = toDecibels(rms);
    // Fast attack, ~20 dB/s release so the bar is readable.
    this.shownPeakDb = peakDb > this.shownPeakDb ? peakDb : Math.max(peakDb, this.shownPeakDb - 1.2);
    if (peakDb >= this.holdDb || now > this.holdUntil) {
      this.holdDb = peakDb;
      this.holdUntil = now + 1500;
    }
    const pct = (db) => `${Math.max(0, Math.min(100, ((db - METER_FLOOR_DB) / -METER_FLOOR_DB) * 100)).toFixed(1)}%`;
    this.rmsBar.style.width = pct(rmsDb);
    this.peakBar.style.width = pct(this.shownPeakDb);
    this.holdMark.style.left = pct(this.holdDb);
    this.holdMark.classList.toggle('clip', this.holdDb > -0.5);
    if (this.label) this.label.textContent = rms > 0 ? `${rmsDb.toFixed(0)} dB` : '−∞ dB';
  }

  reset() {
    this.holdDb = -90;
    this.shownPeakDb = -90;
    this.update(0, 0);
  }
}

/** Inferno-like colour map, index 0..255 → [r,g,b]. */
function buildPalette() {
  const stops = [
    [0, [0, 0, 4]],
    [0.25, [40, 11, 84]],
    [0.5, [159, 42, 99]],
    [0.75, [245, 125, 21]],
    [1, [252, 255, 164]],
  ];
  const palette = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = i / 255;
    let k = 0;
    while (k < stops.length - 2 && x > stops[k + 1][0]) k++;
    const [x0, c0] = stops[k];
    const [x1, c1] = stops[k + 1];
    const t = (x - x0) / (x1 - x0);
    for (let j = 0; j < 3; j++) palette[i * 3 + j] = c0[j] + (c1[j] - c0[j]) * t;
  }
  return palette;
}

/**
 * Axis ticks of a log-frequency scale from minHz (bottom) to topHz (top): each with its label and its
 * height as a fraction from the top (0 = top edge, 1 = bottom edge), the mapping drawColumn uses.
 */
export function frequencyTicks(minHz, topHz) {
  const logMin = Math.log(minHz);
  const logSpan = Math.log(topHz) - logMin;
  return [50, 100, 200, 500, 1000, 2000, 4000, 8000, 16000]
    .filter((hz) => hz >= minHz && hz <= topHz)
    .map((hz) => ({ hz, label: hz >= 1000 ? `${hz / 1000} kHz` : `${hz} Hz`, fromTop: 1 - (Math.log(hz) - logMin) / logSpan }));
}

export class Spectrogram {
  constructor(canvas, { minHz = 50, maxHz = 8000, minDb = -100, maxDb = -20, axis = null } = {}) {
    this.canvas = canvas;
    this.axis = axis;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.minHz = minHz;
    this.maxHz = maxHz;
    this.minDb = minDb;
    this.maxDb = maxDb;
    this.palette = buildPalette();
    this.analyser = null;
    this.bins = null;
    this.running = false;
    this.clear();
    this.renderAxis(maxHz);
  }

  /** Places the frequency labels beside the canvas at the heights drawColumn gives those frequencies. */
  renderAxis(topHz) {
    if (!this.axis) return;
    this.axis.replaceChildren(
      ...frequencyTicks(this.minHz, topHz).map((tick) => {
        const span = document.createElement('span');
        span.textContent = tick.label;
        span.dataset.hz = String(tick.hz);
        span.style.top = `${(tick.fromTop * 100).toFixed(3)}%`;
        return span;
      }),
    );
  }

  clear() {
    this.ctx.fillStyle = '#000004';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  setSource(analyser) {
    this.analyser = analyser;
    this.bins = analyser ? new Float32Array(analyser.frequencyBinCount) : null;
    if (analyser) this.renderAxis(Math.min(this.maxHz, analyser.context.sampleRate / 2));
  }

  start() {
    if (this.running) return;
    this.running = true;
    const frame = () => {
      if (!this.running) return;
      this.drawColumn();
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }

  stop() {
    this.running = false;
  }

  drawColumn() {
    const { canvas, ctx } = this;
    const width = canvas.width;
    const height = canvas.height;
    // Scroll left by one pixel, draw the newest column at the right edge.
    ctx.drawImage(canvas, 1, 0, width - 1, height, 0, 0, width - 1, height);
    const column = ctx.createImageData(1, height);
    if (this.analyser) {
      this.analyser.getFloatFrequencyData(this.bins);
      const nyquist = this.analyser.context.sampleRate / 2;
      const top = Math.min(this.maxHz, nyquist);
      const logMin = Math.log(this.minHz);
      const logSpan = Math.log(top) - logMin;
      for (let y = 0; y < height; y++) {
        // y = 0 is the top (highest frequency); log-spaced so voice harmonics are visible.
        const hz = Math.exp(logMin + (1 - y / (height - 1)) * logSpan);
        const bin = Math.min(this.bins.length - 1, Math.round((hz / nyquist) * this.bins.length));
        const db = this.bins[bin];
        const v = Math.max(0, Math.min(255, Math.round(((db - this.minDb) / (this.maxDb - this.minDb)) * 255)));
        column.data[y * 4] = this.palette[v * 3];
        column.data[y * 4 + 1] = this.palette[v * 3 + 1];
        column.data[y * 4 + 2] = this.palette[v * 3 + 2];
        column.data[y * 4 + 3] = 255;
      }
    } else {
      for (let y = 0; y < height; y++) column.data[y * 4 + 3] = 255;
    }
    ctx.putImageData(column, width - 1, 0);
  }
}
