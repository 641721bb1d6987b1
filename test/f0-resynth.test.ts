// Pitch ground truth by re-synthesis (src/eval/resynth.ts): the re-synthesised voice carries exactly the
// f0 track it returns, so independent trackers recover that track; unvoiced stretches carry no pitch; the
// output has the input's length and level.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readMono } from '../src/audio/io.js';
import { estimateF0, pitchMetrics } from '../src/dsp/f0/index.js';
import { cleanTrack, resynthesize } from '../src/eval/resynth.js';
import { shared } from './helpers/index.js';

test('cleanTrack: median-smooths voiced frames and drops short voiced runs', () => {
  const f0 = [0, 200, 200, 400, 200, 200, 0, 300, 300, 0];
  const voiced = f0.map((f) => (f > 0 ? 1 : 0));
  const clean = Array.from(cleanTrack(f0, voiced, 3));
  assert.equal(clean, [0, 200, 200, 200, 200, 200, 0, 0, 0, 0]);
});

test('re-synthesised singing carries the returned f0: a tracker that did not make it recovers it', async () => {
  const audio = await readMono(shared('speech', 'singing_sms_tools', 'singing-female.wav'));
  const samples = audio.samples.subarray(0, audio.sampleRate * 3);
  const hop = Math.round(audio.sampleRate / 100);
  // Analysed with YIN (dsp); checked with CREPE, a different tracker.
  const truth = await resynthesize(samples, audio.sampleRate, { hopSamples: hop, method: 'dsp' });
  assert.is(truth.samples.length, samples.length);
  const voicedFrames = truth.voiced.reduce((a, b) => a + b, 0);
  assert.ok(voicedFrames > 100, `${voicedFrames} voiced frames`);
  let peakIn = 0;
  let peakOut = 0;
  for (let i = 0; i < samples.length; i++) {
    peakIn = Math.max(peakIn, Math.abs(samples[i]!));
    peakOut = Math.max(peakOut, Math.abs(truth.samples[i]!));
  }
  assert.ok(peakOut > 0.3 * peakIn && peakOut < 3 * peakIn, `peak ${peakOut.toFixed(3)} vs input ${peakIn.toFixed(3)}`);
  const estimate = await estimateF0(truth.samples, audio.sampleRate, { method: 'crepe', hopSamples: hop });
  const m = pitchMetrics(truth, estimate);
  assert.ok(m.rawPitchAccuracy > 0.97, `CREPE RPA ${(m.rawPitchAccuracy * 100).toFixed(1)} %`);
  // A track one semitone off scores nothing: the truth is specific.
  const shifted = { f0Hz: truth.f0Hz.map((f) => f * 2 ** (1 / 12)), voiced: truth.voiced };
  assert.ok(pitchMetrics(shifted, estimate).rawPitchAccuracy < 0.1);
});

test.run();
