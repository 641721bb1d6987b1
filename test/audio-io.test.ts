// Audio file I/O: every WAV flavour a user may bring (checked against sox, an independent decoder),
// shared FLAC/WAV files, each kind of broken input, and atomic writes that never leave partial files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertSupportedRate, countClippedSamples, decodeAudioBuffer, encodeWav, mixToMono, readAudio, readMono, writeWav } from '../src/audio/io.js';
import type { AudioData } from '../src/audio/types.js';
import { SvcError } from '../src/errors.js';
import { makeTempDir, shared } from './helpers/index.js';

const temp = makeTempDir('svc-audio-io-');
test.after(() => temp.cleanup());

/** Decodes a file with sox into interleaved float32 (an independent reference decoder). */
function soxDecode(path: string): { channels: number; rate: number; interleaved: Float32Array } {
  // stderr ignored: sox warns (wrongly) that 6-channel float WAVE_FORMAT_EXTENSIBLE lacks an extension.
  const quiet = { stdio: ['ignore', 'pipe', 'ignore'] as ('ignore' | 'pipe')[] };
  const channels = Number(execFileSync('soxi', ['-c', path], { encoding: 'utf8', ...quiet }).trim());
  const rate = Number(execFileSync('soxi', ['-r', path], { encoding: 'utf8', ...quiet }).trim());
  const raw = execFileSync('sox', [path, '-t', 'f32', '-e', 'floating-point', '-b', '32', '-L', '-'], { maxBuffer: 256 * 1024 * 1024, ...quiet });
  return { channels, rate, interleaved: new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length)) };
}

function maxDifferenceFromSox(audio: AudioData, path: string): number {
  const ref = soxDecode(path);
  assert.is(audio.channels.length, ref.channels, `channel count of ${path}`);
  assert.is(audio.sampleRate, ref.rate, `sample rate of ${path}`);
  assert.is(audio.channels[0]!.length * ref.channels, ref.interleaved.length, `length of ${path}`);
  let worst = 0;
  for (let i = 0; i < audio.channels[0]!.length; i++) {
    for (let c = 0; c < ref.channels; c++) worst = Math.max(worst, Math.abs(audio.channels[c]![i]! - ref.interleaved[i * ref.channels + c]!));
  }
  return worst;
}

/** A test signal: per channel a different sine (so channel order errors show), with full-scale peaks. */
function testSignal(channels: number, rate: number, seconds: number): AudioData {
  const n = Math.round(rate * seconds);
  return {
    sampleRate: rate,
    channels: Array.from({ length: channels }, (_, c) => {
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = 0.9 * Math.sin((2 * Math.PI * (220 * (c + 1)) * i) / rate);
      return x;
    }),
  };
}

async function expectSvcError(promise: Promise<unknown>, code: string, mentions: string): Promise<SvcError> {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, SvcError, `expected SvcError ${code}, got ${String(error)}`);
    const e = error as SvcError;
    assert.is(e.code, code, `code for: ${e.message}`);
    assert.ok(e.message.includes(mentions), `message "${e.message}" should name ${mentions}`);
    return e;
  }
  assert.unreachable(`expected SvcError ${code}`);
  throw new Error('unreachable');
}

test('pcm16 and float32 round trips through writeWav/readAudio keep the samples (mono, stereo, 6 channels)', async () => {
  for (const channels of [1, 2, 6]) {
    const signal = testSignal(channels, 22050, 0.3);
    for (const format of ['pcm16', 'float32'] as const) {
      const path = join(temp.dir, `rt-${channels}-${format}.wav`);
      await writeWav(path, signal, { format });
      const back = await readAudio(path);
      assert.is(back.sampleRate, 22050);
      assert.is(back.channels.length, channels);
      let worst = 0;
      for (let c = 0; c < channels; c++) for (let i = 0; i < back.channels[c]!.length; i++) worst = Math.max(worst, Math.abs(back.channels[c]![i]! - signal.channels[c]![i]!));
      assert.ok(worst <= (format === 'pcm16' ? 1 / 32767 : 0), `${channels} ch ${format}: worst error ${worst}`);
      // sox (independent decoder) must agree with what we wrote.
      assert.ok(maxDifferenceFromSox(back, path) <= 1e-7, `sox disagrees on ${path}`);
    }
  }
});

test('every PCM/float WAV flavour made by sox decodes to the same samples sox decodes', async () => {
  const source = join(temp.dir, 'source.wav');
  await writeWav(source, testSignal(2, 44100, 0.25), { format: 'float32' });
  const flavours: Array<{ name: string; args: string[]; channels?: number; tolerance: number; extensible?: boolean }> = [
    { name: 'u8', args: ['-e', 'unsigned-integer', '-b', '8'], tolerance: 1e-7 },
    { name: 's16', args: ['-e', 'signed-integer', '-b', '16'], tolerance: 1e-7 },
    { name: 's24', args: ['-e', 'signed-integer', '-b', '24'], tolerance: 1e-7, extensible: true },
    { name: 's32', args: ['-e', 'signed-integer', '-b', '32'], tolerance: 1e-7, extensible: true },
    { name: 'f32', args: ['-e', 'floating-point', '-b', '32'], tolerance: 0 },
    { name: 'f64', args: ['-e', 'floating-point', '-b', '64'], tolerance: 1e-7 },
    { name: 's16-mono', args: ['-e', 'signed-integer', '-b', '16'], channels: 1, tolerance: 1e-7 },
    { name: 's16-6ch', args: ['-e', 'signed-integer', '-b', '16'], channels: 6, tolerance: 1e-7, extensible: true },
    { name: 's24-plain', args: ['-t', 'wavpcm', '-e', 'signed-integer', '-b', '24'], tolerance: 1e-7, extensible: false },
  ];
  for (const f of flavours) {
    const path = join(temp.dir, `${f.name}.wav`);
    const remix = f.channels === 1 ? ['remix', '1'] : f.channels === 6 ? ['remix', '1', '2', '1', '2', '1', '2'] : [];
    execFileSync('sox', [source, ...f.args, path, ...remix]); // options before `path` are output options
    if (f.extensible !== undefined) {
      const tag = readFileSync(path).readUInt16LE(20);
      assert.is(tag === 0xfffe, f.extensible, `${f.name}: sox wrote format tag 0x${tag.toString(16)}`);
    }
    const audio = await readAudio(path);
    const difference = maxDifferenceFromSox(audio, path);
    assert.ok(difference <= f.tolerance, `${f.name}: differs from sox by ${difference}`);
    // And the content is our sine, not just something sox agrees with.
    const peak = audio.channels[0]!.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(Math.abs(peak - 0.9) < 0.01, `${f.name}: peak ${peak}, expected 0.9`);
  }
});

test('shared FLAC (24-bit stereo) and 48 kHz stereo WAV read with the right rate, length and samples', async () => {
  const flac = shared('speech', 'misc', 'jfk.flac');
  const audio = await readAudio(flac);
  assert.is(audio.sampleRate, 44100);
  assert.is(audio.channels.length, 2);
  assert.is(audio.channels[0]!.length, 485100);
  assert.ok(maxDifferenceFromSox(audio, flac) <= 1e-7);

  const wav = shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0001.wav');
  const stereo = await readAudio(wav);
  assert.is(stereo.sampleRate, 48000);
  assert.is(stereo.channels.length, 2);
  assert.ok(maxDifferenceFromSox(stereo, wav) <= 1e-7);

  const mono = await readMono(wav);
  assert.is(mono.samples.length, stereo.channels[0]!.length);
  const i = mono.samples.length >> 1;
  assert.ok(Math.abs(mono.samples[i]! - (stereo.channels[0]![i]! + stereo.channels[1]![i]!) / 2) < 1e-7);
});

test('WAV chunks before and between fmt/data (JUNK, odd-sized LIST with its pad byte) are skipped', async () => {
  const plain = encodeWav(testSignal(1, 16000, 0.05), 'pcm16');
  const fmt = plain.subarray(12, 12 + 8 + 16);
  const data = plain.subarray(36);
  const junk = Buffer.concat([Buffer.from('JUNK'), Buffer.from([4, 0, 0, 0]), Buffer.alloc(4)]);
  const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([5, 0, 0, 0]), Buffer.from('INFOx'), Buffer.alloc(1)]); // 5 bytes + pad
  const body = Buffer.concat([Buffer.from('WAVE'), junk, fmt, list, data]);
  const header = Buffer.alloc(8);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(body.length, 4);
  const path = join(temp.dir, 'chunks.wav');
  writeFileSync(path, Buffer.concat([header, body]));
  const audio = await readAudio(path);
  const reference = await decodeAudioBuffer(plain, 'plain');
  assert.equal(Array.from(audio.channels[0]!), Array.from(reference.channels[0]!));
  assert.ok(maxDifferenceFromSox(audio, path) <= 1e-7);
});

test('mixToMono averages the channels', () => {
  const left = new Float32Array([1, 0.5, -1]);
  const right = new Float32Array([0, 0.5, 1]);
  assert.equal(Array.from(mixToMono({ sampleRate: 8000, channels: [left, right] }).samples), [0.5, 0.5, 0]);
});

test('pcm16 encoding clips out-of-range samples to full scale and counts them', async () => {
  const audio = { sampleRate: 16000, samples: new Float32Array([1.5, -1.5, 0.25, 1, -1]) };
  assert.is(countClippedSamples(audio), 2);
  const bytes = encodeWav(audio, 'pcm16');
  const pcm = new Int16Array(bytes.buffer.slice(bytes.byteOffset + 44, bytes.byteOffset + 44 + 10));
  assert.equal(Array.from(pcm), [32767, -32768, 8192, 32767, -32768]);
});

test('missing, empty, truncated, non-audio and NaN inputs give the right SvcError naming the file', async () => {
  const missing = join(temp.dir, 'nope.wav');
  await expectSvcError(readAudio(missing), 'FILE_NOT_FOUND', missing);

  const empty = join(temp.dir, 'empty.wav');
  writeFileSync(empty, new Uint8Array(0));
  await expectSvcError(readAudio(empty), 'FILE_EMPTY', empty);

  const good = encodeWav(testSignal(1, 16000, 0.1), 'pcm16');
  const headerCut = join(temp.dir, 'header-cut.wav');
  writeFileSync(headerCut, good.subarray(0, 30)); // inside the fmt chunk
  await expectSvcError(readAudio(headerCut), 'FILE_TRUNCATED', headerCut);

  const dataCut = join(temp.dir, 'data-cut.wav');
  writeFileSync(dataCut, good.subarray(0, good.length - 1000));
  const e = await expectSvcError(readAudio(dataCut), 'FILE_TRUNCATED', dataCut);
  assert.ok(/declares \d+ bytes but only \d+/.test(e.message), e.message);

  const noSamples = join(temp.dir, 'no-samples.wav');
  writeFileSync(noSamples, encodeWav({ sampleRate: 16000, samples: new Float32Array(0) }, 'pcm16'));
  await expectSvcError(readAudio(noSamples), 'FILE_EMPTY', noSamples);

  const random = join(temp.dir, 'random.wav');
  const noise = new Uint8Array(4096);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
  writeFileSync(random, noise);
  await expectSvcError(readAudio(random), 'UNSUPPORTED_FORMAT', random);

  const text = join(temp.dir, 'notes.wav');
  writeFileSync(text, 'this is not audio\n');
  await expectSvcError(readAudio(text), 'UNSUPPORTED_FORMAT', text);

  const nan = join(temp.dir, 'nan.wav');
  const signal = testSignal(1, 16000, 0.1);
  signal.channels[0]![800] = Number.NaN;
  writeFileSync(nan, encodeWav(signal, 'float32'));
  await expectSvcError(readAudio(nan), 'INVALID_AUDIO', nan);

  const flacBytes = readFileSync(shared('speech', 'misc', 'jfk.flac'));
  const flacCut = join(temp.dir, 'cut.flac');
  writeFileSync(flacCut, flacBytes.subarray(0, 2000)); // metadata only, no complete audio frame
  await expectSvcError(readAudio(flacCut), 'FILE_TRUNCATED', flacCut);

  await expectSvcError(decodeAudioBuffer(new Uint8Array([1, 2, 3]), 'upload #3'), 'UNSUPPORTED_FORMAT', 'upload #3');
});

test('assertSupportedRate accepts the supported rates and rejects others by name', () => {
  for (const rate of [8000, 16000, 22050, 24000, 32000, 44100, 48000]) assertSupportedRate(rate, 'x.wav');
  try {
    assertSupportedRate(11025, 'odd.wav');
    assert.unreachable('11025 should be rejected');
  } catch (error) {
    assert.is((error as SvcError).code, 'UNSUPPORTED_RATE');
    assert.ok((error as SvcError).message.includes('odd.wav') && (error as SvcError).message.includes('11025'));
  }
});

test('writeWav is atomic: a failed write leaves neither a partial file nor a temp file', async () => {
  const dir = join(temp.dir, 'atomic');
  mkdirSync(dir);
  const target = join(dir, 'out.wav');
  await writeWav(target, testSignal(1, 16000, 0.1));
  const before = readFileSync(target);
  assert.equal(readdirSync(dir), ['out.wav'], 'a successful write leaves only the output');

  // Invalid audio (channels of different lengths): the existing file must be untouched.
  const broken: AudioData = { sampleRate: 16000, channels: [new Float32Array(10), new Float32Array(5)] };
  await expectSvcError(writeWav(target, broken), 'INVALID_AUDIO', 'differ');
  assert.ok(readFileSync(target).equals(before));

  // The target is a directory: rename fails after the temp file was written; it must be removed.
  const asDir = join(dir, 'is-a-dir.wav');
  mkdirSync(asDir);
  await expectSvcError(writeWav(asDir, testSignal(1, 16000, 0.1)), 'INVALID_ARGUMENT', asDir);
  assert.equal(readdirSync(dir).sort(), ['is-a-dir.wav', 'out.wav']);

  // A folder that does not exist.
  const nowhere = join(dir, 'missing', 'out.wav');
  await expectSvcError(writeWav(nowhere, testSignal(1, 16000, 0.1)), 'INVALID_ARGUMENT', nowhere);
  assert.not.ok(existsSync(join(dir, 'missing')));
});

test.run();
