// Speaker mix on models svc exports itself, against upstream so-vits-svc's own spk_mix, and mixes that
// change within a call. The fixture (test/fixtures/sovits_mix, data only) is a 2-speaker model with random
// weights built and saved with upstream's classes (models.py SynthesizerTrn, utils.save_checkpoint) and
// upstream's infer() outputs: per-frame spk_mix (EnableCharacterMix, a glide alice -> bob) and each speaker
// alone, with the NSF source's random phase/noise zeroed and enc_p's noise fixed (noise.npy = N·0.4).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../src/io/npy.js';
import { createSession } from '../src/onnx/session.js';
import { runPythonModule } from '../src/python.js';
import { importSovits } from '../src/voices/sovits/import.js';
import { makeReference, readBundle, resolveSpeakerChoice, type SovitsManifest } from '../src/voices/sovits/bundle.js';
import { convertAtModelRate } from '../src/voices/sovits/convert.js';
import { SovitsModel } from '../src/voices/sovits/model.js';
import { parseSpeakerSchedule, SpeakerTrack } from '../src/voices/sovits/speakerTrack.js';
import { createNeuralStageFactory, NeuralStage } from '../src/voices/sovits/stage.js';
import { ModelWorkers } from '../src/voices/worker/model-host.js';
import { loadBuiltinStageFactory } from '../src/server/server.js';
import type { ConverterStage } from '../src/voices/stage.js';
import { makeTempDir, repoRoot } from './helpers/index.js';
import { snrDb } from './neural-fixtures.js';
import { voiceLike } from './helpers/f0-synth.js';

const fixture = join(repoRoot, 'test', 'fixtures', 'sovits_mix');
const temp = makeTempDir('svc-mix-');
let imported: SovitsManifest;
let deterministicDir = '';
let deterministicOnnx = '';

test.before(async () => {
  const ref = join(temp.dir, 'ref');
  await makeReference('tiny', ref, { seed: 1234 }); // only for its 256-d encoder
  const out = join(temp.dir, 'imported');
  // No flag: a checkpoint whose config names two speakers becomes the speaker-mix graph.
  imported = (await importSovits({ checkpoint: join(fixture, 'G_0.pth'), config: join(fixture, 'config.json'), out, encoder: join(ref, 'encoder.onnx') })).manifest;
  const parity = join(temp.dir, 'parity');
  await runPythonModule('parity', ['--config', join(fixture, 'config.json'), '--checkpoint', join(fixture, 'G_0.pth'), '--out', parity, '--speaker-mix']);
  deterministicOnnx = join(parity, 'generator_deterministic.onnx');
  // The imported bundle with the deterministic-source graph: outputs comparable run to run.
  deterministicDir = join(temp.dir, 'imported-det');
  mkdirSync(deterministicDir);
  for (const file of readdirSync(out)) copyFileSync(join(out, file), join(deterministicDir, file));
  copyFileSync(deterministicOnnx, join(deterministicDir, 'generator.onnx'));
});

test.after(() => temp.cleanup());

async function npy(name: string): Promise<Float32Array | BigInt64Array> {
  return (await readNpy(join(fixture, `${name}.npy`))).data as Float32Array | BigInt64Array;
}

function maxAbsDiff(a: Float32Array, b: Float32Array, from = 0, to = Math.min(a.length, b.length)): number {
  let worst = 0;
  for (let i = from; i < to; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

const peak = (x: Float32Array) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

test('a 2-speaker checkpoint imports as the speaker-mix graph; it equals upstream\'s spk_mix (EnableCharacterMix) per frame', async () => {
  assert.equal(imported.speaker_mix, { graph: 'per-frame', columns: ['alice', 'bob'] });
  const sid = imported.generator.inputs.find((i) => i.name === 'sid')!;
  assert.equal([sid.dtype, sid.shape], ['float32', ['T', 2]]);

  const session = await createSession(deterministicOnnx, { intraOpThreads: 1 });
  try {
    const frames = 60;
    const feeds = {
      c: { data: await npy('c'), dims: [1, frames, 256] },
      f0: { data: await npy('f0'), dims: [1, frames] },
      mel2ph: { data: await npy('mel2ph'), dims: [1, frames] },
      uv: { data: await npy('uv'), dims: [1, frames] },
      noise: { data: await npy('noise'), dims: [1, 16, frames] },
      vol: { data: await npy('vol'), dims: [1, frames] },
    };
    const run = async (sid: Float32Array) => (await session.run({ ...feeds, sid: { data: sid, dims: [frames, 2] } }))[session.outputNames[0]!]!.data as Float32Array;
    const mix = await run((await npy('sid')) as Float32Array);
    const expected = (await npy('expected_mix')) as Float32Array;
    const relative = maxAbsDiff(mix, expected) / peak(expected);
    console.log(`  speaker-mix graph vs upstream spk_mix (60 frames, alice -> bob glide): max |difference| ${relative.toExponential(2)} of peak`);
    assert.ok(relative < 1e-4, `mix graph vs upstream: ${relative}`);
    // One-hot rows are upstream's single-speaker inference (emb_g lookup).
    for (const [column, name] of [[0, 'expected_a'], [1, 'expected_b']] as const) {
      const rows = new Float32Array(frames * 2);
      for (let k = 0; k < frames; k++) rows[k * 2 + column] = 1;
      const one = await run(rows);
      const reference = (await npy(name)) as Float32Array;
      assert.ok(maxAbsDiff(one, reference) / peak(reference) < 1e-4, `${name}: ${maxAbsDiff(one, reference) / peak(reference)}`);
    }
    // The fixture's speakers differ clearly: the comparisons above could fail.
    const a = (await npy('expected_a')) as Float32Array;
    const b = (await npy('expected_b')) as Float32Array;
    assert.ok(maxAbsDiff(a, b) / peak(a) > 1e-2, `speakers differ by ${maxAbsDiff(a, b) / peak(a)}`);
  } finally {
    await session.dispose();
  }
});

test('offline: a schedule alice@1.2s; bob@1.8s starts as pure alice and ends as pure bob', async () => {
  const model = await SovitsModel.load(deterministicDir);
  try {
    const rate = model.sampleRate;
    const input = voiceLike(3, rate);
    const settings = { seed: 3, f0Method: 'dsp' as const };
    const a = await convertAtModelRate(model, input, { ...settings, speaker: 'alice' });
    const b = await convertAtModelRate(model, input, { ...settings, speaker: 'bob' });
    const scheduled = await convertAtModelRate(model, input, { ...settings, speaker: 'alice@1.2s; bob@1.8s' });
    assert.is(scheduled.speakerName, 'alice @1.2s -> bob @1.8s');
    const at = (s: number) => Math.round(s * rate);
    const startSnr = snrDb(a.samples, scheduled.samples, 0, at(0.8));
    const endSnr = snrDb(b.samples, scheduled.samples, at(2.2), at(3));
    const speakersSnr = snrDb(a.samples, b.samples, at(2.2), at(3));
    console.log(`  schedule vs pure alice before 0.8 s: ${startSnr.toFixed(1)} dB; vs pure bob after 2.2 s: ${endSnr.toFixed(1)} dB (alice vs bob there: ${speakersSnr.toFixed(1)} dB)`);
    assert.ok(startSnr > 60, `start: ${startSnr} dB`);
    assert.ok(endSnr > 60, `end: ${endSnr} dB`);
    assert.ok(speakersSnr < startSnr - 20 && speakersSnr < 45, `the speakers differ (${speakersSnr} dB)`);
    // In the glide, the output is neither speaker.
    assert.ok(snrDb(a.samples, scheduled.samples, at(1.4), at(1.6)) < startSnr - 10 && snrDb(b.samples, scheduled.samples, at(1.4), at(1.6)) < endSnr - 10, 'the middle is a blend');
  } finally {
    await model.dispose();
  }
});

test('live: a speaker change mid-stream ramps from the next unheard frame; earlier output is untouched, later output is the new speaker', async () => {
  const model = await SovitsModel.load(deterministicDir);
  try {
    const rate = model.sampleRate;
    const input = voiceLike(3, rate);
    const options = { seed: 3, f0Method: 'dsp' as const };
    const block = Math.round(0.1 * rate);
    /** Feeds the stage window by window as the pipeline does (context + block, absolute time); switchAt: blocks before setSpeaker. */
    const drive = async (speaker: string, switchAt?: number, factoryOf?: (speaker: string) => Promise<(o: { clientSampleRate: number; voice: { pitch: number; formant: number } }) => ConverterStage>) => {
      const factory = factoryOf ? await factoryOf(speaker) : await createNeuralStageFactory(model, { ...options, speaker });
      const stage = factory({ clientSampleRate: rate, voice: { pitch: 0, formant: 1 } }) as NeuralStage;
      const outputs: Float32Array[] = [];
      const context = stage.contextSamples;
      for (let i = 0; (i + 1) * block <= input.length; i++) {
        if (i === switchAt) assert.ok(stage.setSpeaker('bob'), 'a mix graph changes speaker in place');
        const start = i * block - context;
        const window = new Float32Array(context + block);
        for (let j = 0; j < window.length; j++) window[j] = start + j >= 0 ? input[start + j]! : 0;
        const out = await stage.process(window, { startSample: start, discontinuity: i === 0 });
        // What the pipeline can emit of this window: the block, lookaheadSamples earlier.
        outputs.push(out.slice(context - stage.lookaheadSamples, context + block - stage.lookaheadSamples));
      }
      stage.dispose();
      return outputs;
    };
    const a = await drive('alice');
    const b = await drive('bob');
    const switched = await drive('alice', 12);
    for (let i = 0; i < 12; i++) assert.equal(switched[i], a[i], `block ${i} before the change is alice's`);
    for (let i = 20; i < switched.length; i++) {
      const snr = snrDb(b[i]!, switched[i]!);
      assert.ok(snr > 60, `block ${i} after the ramp is bob's (${snr.toFixed(1)} dB)`);
    }
    // svc serve runs model stages on worker threads: the change reaches the thread and gives the same output.
    const workers = new ModelWorkers({ builtin: loadBuiltinStageFactory, ...options });
    try {
      const remote = await drive('alice', 12, (speaker) => workers.defaultFactory(deterministicDir, speaker));
      for (let i = 0; i < switched.length; i++) assert.equal(remote[i], switched[i], `worker block ${i}`);
      const stage = (await workers.defaultFactory(deterministicDir, 'alice'))({ clientSampleRate: rate, voice: { pitch: 0, formant: 1 } });
      assert.throws(() => stage.setSpeaker!('carol'), /unknown speaker 'carol'/, 'a bad name fails on the caller\'s thread');
      stage.dispose();
    } finally {
      await workers.close();
    }
  } finally {
    await model.dispose();
  }
});

test('schedules parse and validate; single-sid graphs refuse mixes saying why and what to do', () => {
  const manifest = readBundle(deterministicDir).manifest;
  const keys = parseSpeakerSchedule(manifest, 'alice:1,bob:0@0s; alice:0.2,bob:0.8@500ms; bob@4');
  assert.equal(keys.map((k) => k.seconds), [0, 0.5, 4]);
  const track = SpeakerTrack.fromSchedule(manifest, keys, 50);
  assert.equal([...track.rows(0, 1)], [1, 0]);
  const mid = track.rows(12, 1); // frame 12 of 25 toward 0.5 s: half-way to [0.2, 0.8]
  assert.ok(Math.abs(mid[0]! - 0.616) < 1e-3 && Math.abs(mid[1]! - 0.384) < 1e-3, `${[...mid]}`);
  assert.equal([...track.rows(500, 1)], [0, 1]);
  // Live ramp: from the first unheard frame to the new weights, replacing what was planned after it.
  const live = SpeakerTrack.constant(manifest, resolveSpeakerChoice(manifest, 'alice'));
  live.rampTo(Float32Array.from([0, 1]), 100, 10);
  assert.equal([...live.rows(99, 1)], [1, 0]);
  assert.ok(Math.abs(live.rows(105, 1)[1]! - 0.5) < 1e-6);
  assert.equal([...live.rows(110, 1)], [0, 1]);
  for (const [text, message] of [['alice@1s; bob@0.5s', /times must increase/], ['alice@soon', /not seconds/], ['carol@0s', /unknown speaker 'carol'/]] as const) {
    assert.throws(() => parseSpeakerSchedule(manifest, text), message);
  }
  const single: SovitsManifest = { ...manifest, speaker_mix: null, source: { type: 'import-onnx' } };
  try {
    resolveSpeakerChoice(single, 'alice:0.5,bob:0.5');
    assert.unreachable('a single-sid graph cannot mix');
  } catch (error) {
    assert.match(String((error as Error).message), /takes one speaker id .* no embeddings to blend/);
    assert.match(String((error as { hint?: string }).hint), /re-import the model from its checkpoint: `svc import-sovits --checkpoint/);
  }
  assert.throws(() => parseSpeakerSchedule(single, 'alice@0s; bob@1s'), /cannot mix speakers/);
  assert.is(parseSpeakerSchedule(single, 'alice@0s; alice@1s').length, 2, 'one speaker throughout needs no mix graph');
});

test.run();
