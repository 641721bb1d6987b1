// Resampling: every pair of supported rates keeps a sine's frequency, amplitude and phase; the
// streaming class gives identical output for any chunking; delays are what the class reports;
// WASM state is freed by dispose().
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readMono } from '../src/audio/io.js';
import { StreamingResampler, resample, resampleAudio, speexHeapBytes } from '../src/audio/resample.js';
import { SUPPORTED_SAMPLE_RATES } from '../src/audio/types.js';
import { SvcError } from '../src/errors.js';
import { shared } from './helpers/index.js';
import { concatFloat32 } from '../src/dsp/arrays.js';

const handlersBeforeLoad = process.listeners('unhandledRejection').length + process.listeners('uncaughtException').length;

test.before(async () => {
  await StreamingResampler.ready();
});

test('loading the speex WASM leaves no process-wide error handlers behind (Emscripten adds two)', () => {
  assert.is(process.listeners('unhandledRejection').length + process.listeners('uncaughtException').length, handlersBeforeLoad);
});

function sine(frequencyHz: number, rate: number, samples: number, amplitude = 0.9): Float32Array {
  const x = new Float32Array(samples);
  for (let i = 0; i < samples; i++) x[i] = amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / rate);
  return x;
}

/** Peak position with parabolic interpolation (in samples). */
function peakPosition(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (Math.abs(x[i]!) > Math.abs(x[best]!)) best = i;
  const a = x[best - 1] ?? 0;
  const b = x[best]!;
  const c = x[best + 1] ?? 0;
  const denominator = a - 2 * b + c;
  return denominator === 0 ? best : best + (0.5 * (a - c)) / denominator;
}

test('dispose() frees the WASM state: 1000 create/process/dispose cycles do not grow the heap', () => {
  const chunk = sine(440, 16000, 1600);
  const cycle = (dispose: boolean): void => {
    const r = new StreamingResampler({ fromRate: 16000, toRate: 48000 });
    r.process(chunk);
    if (dispose) r.dispose();
  };
  for (let i = 0; i < 20; i++) cycle(true); // warm the allocator
  const before = speexHeapBytes();
  for (let i = 0; i < 1000; i++) cycle(true);
  assert.is(speexHeapBytes(), before, 'the WASM heap grew although every resampler was disposed');
  // The check can fail: the same cycles without dispose() grow the heap (within a few thousand;
  // this test runs first so that earlier tests' freed buffers do not hide the growth for long).
  let leaked = 0;
  while (speexHeapBytes() === before && leaked < 5000) {
    cycle(false);
    leaked++;
  }
  assert.ok(speexHeapBytes() > before, `leaking ${leaked} resamplers should have grown the heap`);
});

test('all 42 rate pairs: a 1 kHz sine keeps its frequency, amplitude and phase, with the right length', async () => {
  const rates = [...SUPPORTED_SAMPLE_RATES];
  let pairs = 0;
  for (const from of rates) {
    for (const to of rates) {
      if (from === to) continue;
      pairs++;
      const n = Math.round(from * 0.25);
      const out = await resample(sine(1000, from, n), from, to);
      assert.is(out.length, Math.round((n * to) / from), `${from}→${to} length`);
      // Compare with the ideal sine at the output rate away from the edges (filter start-up).
      const edge = Math.ceil(to * 0.02);
      let worst = 0;
      let sumSquares = 0;
      for (let k = edge; k < out.length - edge; k++) {
        worst = Math.max(worst, Math.abs(out[k]! - 0.9 * Math.sin((2 * Math.PI * 1000 * k) / to)));
        sumSquares += out[k]! * out[k]!;
      }
      const amplitude = Math.sqrt((2 * sumSquares) / (out.length - 2 * edge));
      assert.ok(Math.abs(amplitude - 0.9) < 0.01, `${from}→${to}: amplitude ${amplitude.toFixed(4)}, expected 0.9`);
      // Measured worst is ~4e-5 (int16 quantisation). A shift of only 0.01 sample at 8 kHz already
      // gives ~7e-3, so 1e-3 catches any misalignment or passband ripple that matters.
      assert.ok(worst < 1e-3, `${from}→${to}: differs from the ideal sine by up to ${worst.toFixed(5)} (misaligned or distorted)`);
    }
  }
  assert.is(pairs, 42);
});

test('offline resample puts an impulse at the right time', async () => {
  for (const [from, to] of [[48000, 44100], [44100, 16000], [16000, 48000], [8000, 22050], [22050, 24000], [32000, 8000]] as const) {
    const x = new Float32Array(3000);
    x[1000] = 0.9;
    const y = await resample(x, from, to);
    const expected = (1000 * to) / from;
    const found = peakPosition(y);
    assert.ok(Math.abs(found - expected) < 0.25, `${from}→${to}: impulse at ${found.toFixed(3)}, expected ${expected.toFixed(3)}`);
  }
});

test('identity when the rates are equal (a copy, not the same array)', async () => {
  const x = sine(440, 16000, 1000);
  const y = await resample(x, 16000, 16000);
  assert.equal(Array.from(y), Array.from(x));
  assert.is.not(y, x);
});

test('equal rates stream through unchanged with no delay; resampleAudio converts every channel', async () => {
  const x = sine(440, 16000, 999);
  const same = new StreamingResampler({ fromRate: 16000, toRate: 16000 });
  assert.is(same.delaySamples, 0);
  assert.equal(Array.from(concatFloat32([same.process(x), same.flush()])), Array.from(x));
  same.dispose();

  const stereo = { sampleRate: 48000, channels: [sine(500, 48000, 4800), sine(1500, 48000, 4800, 0.3)] };
  const out = await resampleAudio(stereo, 16000);
  assert.is(out.sampleRate, 16000);
  assert.is(out.channels.length, 2);
  for (const [c, frequency, amplitude] of [[0, 500, 0.9], [1, 1500, 0.3]] as const) {
    const y = out.channels[c]!;
    assert.is(y.length, 1600);
    let worst = 0;
    for (let k = 100; k < 1500; k++) worst = Math.max(worst, Math.abs(y[k]! - amplitude * Math.sin((2 * Math.PI * frequency * k) / 16000)));
    assert.ok(worst < 1e-3, `channel ${c} differs by ${worst}`);
  }
});

test('streaming output is identical for 1-sample, odd-sized and whole-signal chunks', async () => {
  const speech = (await readMono(shared('speech', 'misc', 'sms_tools_speech-female.wav'))).samples;
  const input = speech.subarray(0, Math.min(speech.length, 22050)); // 0.5 s at 44.1 kHz
  for (const [from, to] of [[44100, 16000], [44100, 48000], [44100, 22050]] as const) {
    const run = (chunkSizes: (i: number) => number): Float32Array => {
      const r = new StreamingResampler({ fromRate: from, toRate: to });
      try {
        const parts: Float32Array[] = [];
        for (let start = 0, i = 0; start < input.length; i++) {
          const size = chunkSizes(i);
          parts.push(r.process(input.subarray(start, start + size)));
          start += size;
        }
        parts.push(r.flush());
        return concatFloat32(parts);
      } finally {
        r.dispose();
      }
    };
    const whole = run(() => input.length);
    const ones = run(() => 1);
    const odd = run((i) => [7, 1, 333, 97, 1021, 3][i % 6]!);
    assert.is(whole.length, Math.ceil(((input.length + new StreamingResampler({ fromRate: from, toRate: to }).filterLengthSamples / 2) * to) / from));
    assert.equal(Array.from(ones), Array.from(whole), `${from}→${to}: 1-sample chunks differ`);
    assert.equal(Array.from(odd), Array.from(whole), `${from}→${to}: odd chunks differ`);
  }
});

test('streaming delaySamples is where an impulse comes out; flush() resets for a new stream', async () => {
  for (const [from, to] of [[48000, 16000], [16000, 44100], [44100, 48000]] as const) {
    const r = new StreamingResampler({ fromRate: from, toRate: to });
    try {
      const x = new Float32Array(from / 10);
      x[500] = 0.9;
      const first = concatFloat32([r.process(x), r.flush()]);
      const expected = (500 * to) / from + r.delaySamples;
      assert.ok(Math.abs(peakPosition(first) - expected) < 0.25, `${from}→${to}: impulse at ${peakPosition(first)}, expected ${expected}`);
      const second = concatFloat32([r.process(x), r.flush()]);
      assert.equal(Array.from(second), Array.from(first), 'a second stream after flush() must start fresh');
    } finally {
      r.dispose();
    }
  }
});

test('6 dB of headroom: a 1.5 peak sine passes unclipped, a 3.0 peak one is clipped at 2, not wrapped', async () => {
  const loud = await resample(sine(500, 16000, 4000, 1.5), 16000, 48000);
  const loudPeak = loud.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(Math.abs(loudPeak - 1.5) < 2e-3, `peak ${loudPeak}, expected 1.5`);
  const tooLoud = await resample(sine(500, 16000, 4000, 3), 16000, 48000);
  const peak = tooLoud.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(peak <= 2 && peak > 1.95, `peak ${peak}`);
  // Wrapping (int16 overflow) would flip signs; clipping keeps each sample's sign.
  let signFlips = 0;
  for (let k = 300; k < tooLoud.length - 300; k++) {
    const ideal = Math.sin((2 * Math.PI * 500 * k) / 48000);
    if (Math.abs(ideal) > 0.2 && Math.sign(ideal) !== Math.sign(tooLoud[k]!)) signFlips++;
  }
  assert.is(signFlips, 0);
});

test('bad rates and options are rejected with SvcError', () => {
  for (const options of [{ fromRate: 0, toRate: 16000 }, { fromRate: 44100.5, toRate: 16000 }, { fromRate: 16000, toRate: 16000, quality: 11 }]) {
    try {
      new StreamingResampler(options);
      assert.unreachable(`accepted ${JSON.stringify(options)}`);
    } catch (error) {
      assert.instance(error, SvcError);
    }
  }
});

test.run();
