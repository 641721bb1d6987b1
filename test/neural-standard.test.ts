// The full-size path: the standard reference bundle (so-vits-svc 4.1 44.1 kHz template, HuBERT-base-size
// encoder, random weights). Offline conversion equals the PyTorch reference forward (HuBERT included), and
// streaming at 200 and 500 ms blocks — with a bounded generator context and the global HuBERT encoder
// re-running only a bounded context — still matches offline. The int8 graphs (python/svc_py/quantize.py)
// stay within 30 dB SNR of the float ones and stream like them.
// Slow (~1.5 min): builds ~150 M parameters of ONNX once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { from, lastValueFrom, toArray } from 'rxjs';
import { join } from 'node:path';
import { readMono } from '../src/audio/io.js';
import { resample } from '../src/audio/resample.js';
import { readNpy } from '../src/io/npy.js';
import { resolvePrecision, SovitsModel } from '../src/voices/sovits/model.js';
import { convertAtModelRate, type OfflineFeatures } from '../src/voices/sovits/convert.js';
import { readBundle } from '../src/voices/sovits/bundle.js';
import { isSvcError } from '../src/errors.js';
import { runPythonModule } from '../src/python.js';
import { createNeuralStageFactory, DEFAULT_GAP_LOOKAHEAD_FRAMES } from '../src/voices/sovits/stage.js';
import { convertChunks } from '../src/engine/pipeline.js';
import { makeTempDir, shared } from './helpers/index.js';
import { relativeError, snrDb, writeFeatures } from './neural-fixtures.js';
import { scorePair } from '../src/eval/metrics.js';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { makeReference } from '../src/voices/sovits/bundle.js';

const temp = makeTempDir('svc-neural-standard-');
const random = join(temp.dir, 'standard');
const deterministic = join(temp.dir, 'standard-det');
let model: SovitsModel;
let int8: SovitsModel;
let speech: Float32Array;

test.before(async () => {
  await makeReference('standard', random, { checkpoint: true });
  mkdirSync(deterministic);
  for (const file of readdirSync(random)) if (file !== 'G_0.pth' && file !== 'generator.onnx') copyFileSync(join(random, file), join(deterministic, file));
  await runPythonModule('reference_convert', ['--bundle', random, '--export-deterministic', join(deterministic, 'generator.onnx')]);
  // The int8 generator with the same deterministic source (its random ops replaced by zeros).
  await runPythonModule('quantize', ['--in', join(random, 'generator.int8.onnx'), '--out', join(deterministic, 'generator.int8.onnx'), '--no-matmul', '--deterministic-source']);
  model = await SovitsModel.load(deterministic, { precision: 'float32' });
  int8 = await SovitsModel.load(deterministic, { precision: 'int8' });
  const input = await readMono(shared('speech', 'vctk_autovc_16k', 'p225', 'p225_003.wav'));
  speech = (await resample(input.samples, input.sampleRate, model.sampleRate)).subarray(0, Math.round(2 * model.sampleRate));
});

test.after(async () => {
  await model?.dispose();
  await int8?.dispose();
  temp.cleanup();
});

test('standard bundle: offline conversion equals PyTorch (HuBERT content, 44.1 kHz generator)', async () => {
  let features: OfflineFeatures | undefined;
  const input = speech.subarray(0, Math.round(1.5 * model.sampleRate));
  const result = await convertAtModelRate(model, input, { seed: 4, speaker: 1, pitch: -2, onFeatures: (f) => (features = f) });
  await writeFeatures(join(temp.dir, 'in'), features!, model.interChannels);
  await runPythonModule('reference_convert', ['--bundle', random, '--inputs', join(temp.dir, 'in'), '--out', join(temp.dir, 'out')]);
  const expected = (await readNpy(join(temp.dir, 'out', 'expected_audio.npy'))).data as Float32Array;
  const content = (await readNpy(join(temp.dir, 'out', 'content.npy'))).data as Float32Array;
  assert.ok(relativeError(features!.content, content) < 1e-4, `HuBERT rows differ: ${relativeError(features!.content, content)}`);
  const error = relativeError(result.samples, expected.subarray(0, input.length));
  assert.ok(error <= 1e-3, `relative error ${error.toExponential(2)}`);
});

test('standard bundle: int8 graphs are the cpu default and stay within 30 dB SNR of float32 (f0 kept)', async () => {
  const bundle = readBundle(random);
  assert.ok(bundle.int8 && bundle.int8.encoderPath, 'make-reference standard writes int8 generator and encoder graphs');
  assert.is(resolvePrecision(bundle), 'int8');
  assert.is(resolvePrecision(bundle, 'auto', 'cuda'), 'float32', 'GPU providers run the float graphs');
  assert.is(resolvePrecision(bundle, 'float32'), 'float32');
  try {
    resolvePrecision({ ...bundle, int8: null }, 'int8');
    assert.unreachable('int8 of a float-only bundle must fail');
  } catch (error) {
    assert.ok(isSvcError(error) && error.code === 'INVALID_ARGUMENT', String(error));
  }
  assert.is(int8.precision, 'int8');
  const settings = { seed: 3, f0Method: 'dsp' as const };
  const reference = await convertAtModelRate(model, speech, settings);
  const quantized = await convertAtModelRate(int8, speech, settings);
  const snr = snrDb(reference.samples, quantized.samples, 0, speech.length);
  assert.ok(snr >= 30, `int8 vs float32 SNR ${snr.toFixed(1)} dB`);
  const scores = await scorePair({ samples: reference.samples, sampleRate: model.sampleRate }, { samples: quantized.samples, sampleRate: model.sampleRate }, { alignment: 'time', f0Method: 'dsp' });
  assert.ok(scores.bothVoicedFrames > 50 && scores.f0RmseCents < 10, `f0 RMSE ${scores.f0RmseCents.toFixed(1)} cents over ${scores.bothVoicedFrames} frames`);
});

// 200 ms is the real-time block size (bounded generator and encoder context, see src/voices/sovits/stage.ts).
for (const [blockMs, precision] of [[200, 'float32'], [500, 'float32'], [200, 'int8']] as const) {
  test(`standard bundle: streamed (${blockMs} ms blocks, ${precision}, bounded generator and HuBERT context) matches offline`, async () => {
    const subject = precision === 'int8' ? int8 : model;
    const settings = { seed: 5, f0Method: 'dsp' as const, f0LowLatency: true };
    const offline = await convertAtModelRate(subject, speech, { ...settings, f0GapLookaheadFrames: DEFAULT_GAP_LOOKAHEAD_FRAMES });
    const factory = await createNeuralStageFactory(subject, settings);
    const chunks: Float32Array[] = [];
    for (let i = 0; i < speech.length; i += 4410) chunks.push(speech.subarray(i, i + 4410));
    const blockSamples = Math.round((blockMs / 1000) * subject.sampleRate);
    const parts = await lastValueFrom(from(chunks).pipe(convertChunks(() => factory({ clientSampleRate: subject.sampleRate, voice: { pitch: 0, formant: 1 } }), { blockSamples }), toArray()));
    const streamed = new Float32Array(speech.length);
    let offset = 0;
    for (const p of parts) {
      streamed.set(p, offset);
      offset += p.length;
    }
    assert.is(offset, speech.length);
    const edge = Math.round(0.3 * subject.sampleRate);
    const snr = snrDb(offline.samples, streamed, edge, speech.length - edge);
    assert.ok(snr >= 30, `SNR ${snr.toFixed(1)} dB`);
  });
}

test.run();
