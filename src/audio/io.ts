// Audio file I/O: decode WAV (own RIFF parser: PCM 8/16/24/32-bit, IEEE float 32/64, any channel
// count, WAVE_FORMAT_EXTENSIBLE) and FLAC (libFLAC in WASM via @wasm-audio-decoders/flac) into planar
// Float32 channels; encode WAV (pcm16 with clipping, or float32) and write it atomically (temp file +
// rename) so a failed or interrupted write never leaves a partial output behind.
// Every problem is an SvcError that names the file and says what was expected and what arrived.
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SvcError, ioError, errorMessage } from '../errors.js';
import { SUPPORTED_SAMPLE_RATES, type AudioData, type MonoAudio } from './types.js';
import { floatToPcm16, pcm16ToFloat } from './pcm16.js';

export type WavFormat = 'pcm16' | 'float32';

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_ALAW = 0x0006;
const WAVE_FORMAT_MULAW = 0x0007;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Reads a WAV or FLAC file into planar Float32 channels at the file's own sample rate. */
export async function readAudio(path: string): Promise<AudioData> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new SvcError('FILE_NOT_FOUND', `audio file not found: ${path}`, { hint: 'check the path and that the file exists' });
    }
    if (code === 'EISDIR') {
      throw new SvcError('UNSUPPORTED_FORMAT', `expected an audio file but ${path} is a directory`, { hint: 'give a .wav or .flac file' });
    }
    throw new SvcError('FILE_NOT_FOUND', `cannot read audio file ${path}: ${errorMessage(error)}`, { cause: error });
  }
  return decodeAudioBuffer(bytes, path);
}

/** Decodes WAV or FLAC bytes (same rules and errors as readAudio); `nameForErrors` appears in messages. */
export async function decodeAudioBuffer(bytes: Uint8Array, nameForErrors: string): Promise<AudioData> {
  if (bytes.length === 0) {
    throw new SvcError('FILE_EMPTY', `audio file ${nameForErrors} is empty (0 bytes)`, { hint: 'record or export the audio again' });
  }
  const magic = asciiAt(bytes, 0, 4);
  let audio: AudioData;
  if (magic === 'RIFF' || magic === 'RIFX' || magic === 'RF64') {
    audio = decodeWav(bytes, nameForErrors);
  } else if (magic === 'fLaC' || (magic === 'OggS' && bytes.length > 40 && asciiAt(bytes, 29, 4) === 'FLAC')) {
    audio = await decodeFlac(bytes, nameForErrors);
  } else {
    const known = recognizeFormat(bytes);
    throw new SvcError('UNSUPPORTED_FORMAT', `${nameForErrors} is not a WAV or FLAC file (${known ? `looks like ${known}` : `starts with ${describeMagic(bytes)}`})`, {
      hint: 'convert it first, e.g. `sox input.mp3 output.wav` or `ffmpeg -i input output.wav`',
    });
  }
  assertFinite(audio, nameForErrors);
  return audio;
}

/** Throws UNSUPPORTED_RATE unless `rate` is one of SUPPORTED_SAMPLE_RATES. */
export function assertSupportedRate(rate: number, path: string): void {
  if (!(SUPPORTED_SAMPLE_RATES as readonly number[]).includes(rate)) {
    throw new SvcError('UNSUPPORTED_RATE', `${path} has sample rate ${rate} Hz; expected one of ${SUPPORTED_SAMPLE_RATES.join(', ')} Hz`, {
      hint: 'resample it first, e.g. `sox in.wav -r 44100 out.wav`',
    });
  }
}

/** Averages all channels into one (explicit downmix: no gain compensation, so clipping cannot occur). */
export function mixToMono(audio: AudioData): MonoAudio {
  const { channels, sampleRate } = audio;
  if (channels.length === 0) return { sampleRate, samples: new Float32Array(0) };
  if (channels.length === 1) return { sampleRate, samples: channels[0]! };
  const length = channels[0]!.length;
  const sum = new Float64Array(length);
  for (const channel of channels) for (let i = 0; i < length; i++) sum[i]! += channel[i]!;
  const samples = new Float32Array(length);
  const scale = 1 / channels.length;
  for (let i = 0; i < length; i++) samples[i] = sum[i]! * scale;
  return { sampleRate, samples };
}

/** readAudio followed by mixToMono. */
export async function readMono(path: string): Promise<MonoAudio> {
  return mixToMono(await readAudio(path));
}

function channelsOf(audio: AudioData | MonoAudio): Float32Array[] {
  return 'channels' in audio ? audio.channels : [audio.samples];
}

/** Counts samples that pcm16 encoding would clip (|x| > 1), so callers can warn about them. */
export function countClippedSamples(audio: AudioData | MonoAudio): number {
  let clipped = 0;
  for (const channel of channelsOf(audio)) for (let i = 0; i < channel.length; i++) if (Math.abs(channel[i]!) > 1) clipped++;
  return clipped;
}

/**
 * Encodes a RIFF/WAVE file. pcm16: x*32768 rounded, clipped to [-32768, 32767] (NaN → 0) — the
 * same scale the reader divides by (as sox and torchaudio), so a pcm16 round trip is exact to half an LSB;
 * float32: IEEE float (format 3) with a `fact` chunk. More than 2 channels use WAVE_FORMAT_EXTENSIBLE.
 */
export function encodeWav(audio: AudioData | MonoAudio, format: WavFormat = 'pcm16'): Buffer {
  const channels = channelsOf(audio);
  const sampleRate = audio.sampleRate;
  if (channels.length === 0) throw new SvcError('INVALID_AUDIO', 'cannot encode WAV with 0 channels');
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw new SvcError('INVALID_ARGUMENT', `cannot encode WAV: sample rate must be a positive integer, got ${sampleRate}`);
  }
  const frames = channels[0]!.length;
  for (const c of channels) {
    if (c.length !== frames) throw new SvcError('INVALID_AUDIO', `cannot encode WAV: channels differ in length (${frames} vs ${c.length})`);
  }
  const numChannels = channels.length;
  const bytesPerSample = format === 'pcm16' ? 2 : 4;
  const blockAlign = numChannels * bytesPerSample;
  const dataBytes = frames * blockAlign;
  const extensible = numChannels > 2;
  const fmtBytes = extensible ? 40 : format === 'float32' ? 18 : 16;
  const factBytes = format === 'float32' ? 12 : 0;
  const headerBytes = 12 + 8 + fmtBytes + factBytes + 8;
  const pad = dataBytes % 2;
  const totalBytes = headerBytes + dataBytes + pad;
  if (totalBytes - 8 > 0xffffffff) throw new SvcError('INVALID_ARGUMENT', `cannot encode WAV: ${totalBytes} bytes exceeds the 4 GiB RIFF limit`);
  const out = Buffer.alloc(totalBytes);
  let p = 0;
  out.write('RIFF', p, 'ascii'); p += 4;
  out.writeUInt32LE(totalBytes - 8, p); p += 4;
  out.write('WAVE', p, 'ascii'); p += 4;
  out.write('fmt ', p, 'ascii'); p += 4;
  out.writeUInt32LE(fmtBytes, p); p += 4;
  const formatTag = format === 'pcm16' ? WAVE_FORMAT_PCM : WAVE_FORMAT_IEEE_FLOAT;
  out.writeUInt16LE(extensible ? WAVE_FORMAT_EXTENSIBLE : formatTag, p); p += 2;
  out.writeUInt16LE(numChannels, p); p += 2;
  out.writeUInt32LE(sampleRate, p); p += 4;
  out.writeUInt32LE(sampleRate * blockAlign, p); p += 4;
  out.writeUInt16LE(blockAlign, p); p += 2;
  out.writeUInt16LE(bytesPerSample * 8, p); p += 2;
  if (extensible) {
    out.writeUInt16LE(22, p); p += 2; // cbSize
    out.writeUInt16LE(bytesPerSample * 8, p); p += 2; // valid bits
    out.writeUInt32LE(0, p); p += 4; // channel mask: unspecified
    // SubFormat GUID: {formatTag}-0000-0010-8000-00AA00389B71
    out.writeUInt32LE(formatTag, p); p += 4;
    out.writeUInt16LE(0x0000, p); p += 2;
    out.writeUInt16LE(0x0010, p); p += 2;
    Buffer.from([0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]).copy(out, p); p += 8;
  } else if (format === 'float32') {
    out.writeUInt16LE(0, p); p += 2; // cbSize
  }
  if (format === 'float32') {
    out.write('fact', p, 'ascii'); p += 4;
    out.writeUInt32LE(4, p); p += 4;
    out.writeUInt32LE(frames, p); p += 4;
  }
  out.write('data', p, 'ascii'); p += 4;
  out.writeUInt32LE(dataBytes, p); p += 4;
  if (format === 'pcm16') {
    for (let i = 0; i < frames; i++) {
      for (let c = 0; c < numChannels; c++) {
        const x = channels[c]![i]!;
        out.writeInt16LE(floatToPcm16(x), p); p += 2;
      }
    }
  } else {
    for (let i = 0; i < frames; i++) {
      for (let c = 0; c < numChannels; c++) { out.writeFloatLE(channels[c]![i]!, p); p += 4; }
    }
  }
  return out;
}

/**
 * Writes a WAV file atomically: the bytes go to `path.tmp-<pid>-<random>` which is renamed onto
 * `path` only when complete; on any failure the temp file is removed and `path` is untouched.
 */
export async function writeWav(path: string, audio: AudioData | MonoAudio, options: { format?: WavFormat } = {}): Promise<void> {
  const bytes = encodeWav(audio, options.format ?? 'pcm16');
  await writeFileAtomic(path, bytes);
}

/** Writes bytes to `path` via a temp file + rename (same directory, so the rename is atomic). */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tempPath = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  let renamed = false;
  try {
    await writeFile(tempPath, bytes, { flag: 'wx' });
    await rename(tempPath, path);
    renamed = true;
  } catch (error) {
    // A missing output folder is a wrong argument (the path the user gave); a full disk or a
    // permission problem is not, and keeps its own code.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SvcError('INVALID_ARGUMENT', `cannot write ${path}: the folder ${dirname(path)} does not exist`, { hint: 'create it or choose another output path', cause: error });
    }
    throw ioError(error, path, `write ${path}`);
  } finally {
    if (!renamed) await rm(tempPath, { force: true }).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// WAV decoding

interface WavFmt {
  formatTag: number; // resolved (extensible → its SubFormat)
  numChannels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number; // container size
}

function decodeWav(bytes: Uint8Array, name: string): AudioData {
  const magic = asciiAt(bytes, 0, 4);
  if (magic === 'RIFX') throw new SvcError('UNSUPPORTED_FORMAT', `${name} is a big-endian WAV (RIFX), which is not supported`, { hint: 'convert it: `sox in.wav -L out.wav`' });
  if (magic === 'RF64') throw new SvcError('UNSUPPORTED_FORMAT', `${name} is an RF64 (>4 GiB) WAV, which is not supported`, { hint: 'split it or convert it to FLAC' });
  if (bytes.length < 12) throw new SvcError('FILE_TRUNCATED', `${name} is truncated: ${bytes.length} bytes, shorter than a 12-byte RIFF header`, { hint: 'the file was cut off; export it again' });
  if (asciiAt(bytes, 8, 4) !== 'WAVE') {
    throw new SvcError('UNSUPPORTED_FORMAT', `${name} is a RIFF file but not WAVE (type "${asciiAt(bytes, 8, 4)}")`, { hint: 'give a .wav or .flac file' });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: WavFmt | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = asciiAt(bytes, offset, 4);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (body + Math.min(size, 16) > bytes.length || size < 16) {
        throw new SvcError('FILE_TRUNCATED', `${name} is truncated: its fmt chunk is incomplete (${Math.max(0, bytes.length - body)} of ${Math.max(size, 16)} bytes)`, { hint: 'the file was cut off; export it again' });
      }
      fmt = parseFmt(view, body, size, bytes.length, name);
    } else if (id === 'data') {
      if (!fmt) throw new SvcError('UNSUPPORTED_FORMAT', `${name}: WAV data chunk comes before the fmt chunk`, { hint: 'the file is malformed; re-export it' });
      const available = bytes.length - body;
      // A data chunk shorter than declared (interrupted recording/copy) is an error: silently
      // reading part of a file hides data loss. Streams that write 0 or 0xFFFFFFFF as "unknown size"
      // are accepted and read to the end of the file.
      let dataBytes = size;
      if (size === 0 || size === 0xffffffff) dataBytes = available;
      else if (size > available) {
        throw new SvcError('FILE_TRUNCATED', `${name} is truncated: the WAV data chunk declares ${size} bytes but only ${available} are present`, {
          hint: 'the file was cut off (interrupted copy or recording); export it again, or keep what is there with `sox broken.wav fixed.wav`',
        });
      }
      const audio = decodePcm(bytes.subarray(body, body + dataBytes), fmt);
      if (audio.channels[0]!.length === 0) {
        throw new SvcError('FILE_EMPTY', `${name} is a valid WAV but contains no audio samples`, { hint: 'record or export the audio again' });
      }
      return audio;
    }
    offset = body + size + (size % 2);
  }
  if (!fmt) throw new SvcError('FILE_TRUNCATED', `${name} is truncated or malformed: no fmt chunk found in ${bytes.length} bytes`, { hint: 'the file was cut off; export it again' });
  throw new SvcError('FILE_TRUNCATED', `${name} is truncated: no data chunk found after the header`, { hint: 'the file was cut off; export it again' });
}

function parseFmt(view: DataView, body: number, size: number, fileBytes: number, name: string): WavFmt {
  let formatTag = view.getUint16(body, true);
  const numChannels = view.getUint16(body + 2, true);
  const sampleRate = view.getUint32(body + 4, true);
  const blockAlign = view.getUint16(body + 12, true);
  const bitsPerSample = view.getUint16(body + 14, true);
  if (formatTag === WAVE_FORMAT_EXTENSIBLE) {
    if (size < 40 || body + 40 > fileBytes) {
      throw new SvcError('FILE_TRUNCATED', `${name} is truncated: WAVE_FORMAT_EXTENSIBLE fmt chunk has ${size} bytes, expected 40`, { hint: 'the file is malformed; re-export it' });
    }
    formatTag = view.getUint16(body + 24, true); // first 2 bytes of the SubFormat GUID
  }
  if (numChannels === 0) throw new SvcError('UNSUPPORTED_FORMAT', `${name}: WAV declares 0 channels`, { hint: 'the file is malformed; re-export it' });
  if (sampleRate === 0) throw new SvcError('UNSUPPORTED_FORMAT', `${name}: WAV declares a sample rate of 0 Hz`, { hint: 'the file is malformed; re-export it' });
  if (formatTag === WAVE_FORMAT_ALAW || formatTag === WAVE_FORMAT_MULAW) {
    throw new SvcError('UNSUPPORTED_FORMAT', `${name} is ${formatTag === WAVE_FORMAT_ALAW ? 'A-law' : 'mu-law'} WAV; expected PCM or float`, { hint: 'convert it: `sox in.wav -e signed -b 16 out.wav`' });
  }
  const supported =
    (formatTag === WAVE_FORMAT_PCM && [8, 16, 24, 32].includes(bitsPerSample)) ||
    (formatTag === WAVE_FORMAT_IEEE_FLOAT && (bitsPerSample === 32 || bitsPerSample === 64));
  if (!supported) {
    throw new SvcError('UNSUPPORTED_FORMAT', `${name}: WAV format tag 0x${formatTag.toString(16)} with ${bitsPerSample} bits is not supported; expected PCM 8/16/24/32-bit or float 32/64-bit`, {
      hint: 'convert it: `sox in.wav -e signed -b 16 out.wav`',
    });
  }
  if (blockAlign !== (numChannels * bitsPerSample) / 8) {
    throw new SvcError('UNSUPPORTED_FORMAT', `${name}: WAV block align ${blockAlign} does not match ${numChannels} channels x ${bitsPerSample} bits`, { hint: 'the file is malformed; re-export it' });
  }
  return { formatTag, numChannels, sampleRate, blockAlign, bitsPerSample };
}

function decodePcm(data: Uint8Array, fmt: WavFmt): AudioData {
  const { numChannels, blockAlign, bitsPerSample, formatTag } = fmt;
  // A trailing partial frame (some writers leave one) is dropped: it has no sample for every channel.
  const frames = Math.floor(data.length / blockAlign);
  const channels: Float32Array[] = [];
  for (let c = 0; c < numChannels; c++) channels.push(new Float32Array(frames));
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const bytesPerSample = bitsPerSample / 8;
  let p = 0;
  if (formatTag === WAVE_FORMAT_IEEE_FLOAT) {
    for (let i = 0; i < frames; i++) {
      for (let c = 0; c < numChannels; c++) {
        channels[c]![i] = bitsPerSample === 32 ? view.getFloat32(p, true) : view.getFloat64(p, true);
        p += bytesPerSample;
      }
    }
  } else if (bitsPerSample === 16) {
    for (let i = 0; i < frames; i++) for (let c = 0; c < numChannels; c++) { channels[c]![i] = pcm16ToFloat(view.getInt16(p, true)); p += 2; }
  } else if (bitsPerSample === 8) {
    for (let i = 0; i < frames; i++) for (let c = 0; c < numChannels; c++) { channels[c]![i] = (data[p]! - 128) / 128; p += 1; }
  } else if (bitsPerSample === 24) {
    for (let i = 0; i < frames; i++) {
      for (let c = 0; c < numChannels; c++) {
        const v = (data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16)) << 8 >> 8; // sign-extend 24 → 32
        channels[c]![i] = v / 8388608;
        p += 3;
      }
    }
  } else {
    for (let i = 0; i < frames; i++) for (let c = 0; c < numChannels; c++) { channels[c]![i] = view.getInt32(p, true) / 2147483648; p += 4; }
  }
  return { sampleRate: fmt.sampleRate, channels };
}

// ---------------------------------------------------------------------------------------------
// FLAC decoding

async function decodeFlac(bytes: Uint8Array, name: string): Promise<AudioData> {
  const { FLACDecoder } = await import('@wasm-audio-decoders/flac');
  const decoder = new FLACDecoder();
  try {
    await decoder.ready;
    const decoded = await decoder.decodeFile(bytes);
    if (decoded.samplesDecoded === 0 || decoded.channelData.length === 0) {
      const detail = decoded.errors.length ? `: ${decoded.errors[0]!.message}` : '';
      throw new SvcError('FILE_TRUNCATED', `${name} is a FLAC file but no audio could be decoded${detail}`, { hint: 'the file is damaged or cut off; export it again' });
    }
    if (decoded.errors.length > 0) {
      const first = decoded.errors[0]!;
      throw new SvcError('FILE_TRUNCATED', `${name}: FLAC decoding failed after ${decoded.samplesDecoded} samples (${decoded.errors.length} bad frame(s), first: ${first.message})`, {
        hint: 'the file is damaged or cut off; export it again',
      });
    }
    // The WASM decoder scales an integer sample v by 1/(2^(bits-1) - 1); WAV decoding (and sox,
    // torchaudio) use v / 2^(bits-1). Recover v exactly (the float32 error is < 0.5 LSB for <= 24
    // bits) and rescale, so a FLAC and the same audio as a WAV decode to identical samples.
    const bits = decoded.bitDepth;
    const channels = decoded.channelData.map((c) => {
      const out = Float32Array.from(c.subarray(0, decoded.samplesDecoded));
      if (bits >= 4 && bits <= 24) {
        const decoderScale = 2 ** (bits - 1) - 1;
        const wavScale = 2 ** (bits - 1);
        for (let i = 0; i < out.length; i++) out[i] = Math.round(out[i]! * decoderScale) / wavScale;
      }
      return out;
    });
    return { sampleRate: decoded.sampleRate, channels };
  } catch (error) {
    if (error instanceof SvcError) throw error;
    throw new SvcError('UNSUPPORTED_FORMAT', `${name}: cannot decode FLAC: ${errorMessage(error)}`, { hint: 'the file is damaged; export it again', cause: error });
  } finally {
    decoder.free();
  }
}

// ---------------------------------------------------------------------------------------------

function assertFinite(audio: AudioData, name: string): void {
  for (let c = 0; c < audio.channels.length; c++) {
    const channel = audio.channels[c]!;
    for (let i = 0; i < channel.length; i++) {
      if (!Number.isFinite(channel[i]!)) {
        throw new SvcError('INVALID_AUDIO', `${name} contains a non-finite sample (${channel[i]}) at ${(i / audio.sampleRate).toFixed(3)} s (sample ${i}, channel ${c})`, {
          hint: 'the float WAV is corrupt; re-render or re-export it',
        });
      }
    }
  }
}

function asciiAt(bytes: Uint8Array, offset: number, length: number): string {
  let s = '';
  for (let i = offset; i < offset + length && i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** Names common non-WAV/FLAC containers so the error can say what arrived. */
function recognizeFormat(bytes: Uint8Array): string | undefined {
  const head = asciiAt(bytes, 0, 4);
  if (head === 'OggS') return 'Ogg (Vorbis/Opus; only Ogg FLAC is supported)';
  if (head.startsWith('ID3') || (bytes[0] === 0xff && bytes.length > 1 && (bytes[1]! & 0xe0) === 0xe0)) return 'MP3';
  if (asciiAt(bytes, 4, 4) === 'ftyp') return 'MP4/M4A/AAC';
  if (head === 'FORM') return 'AIFF';
  if (head === 'caff') return 'Core Audio (CAF)';
  if (bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) return 'WebM/Matroska';
  return undefined;
}

function describeMagic(bytes: Uint8Array): string {
  const head = asciiAt(bytes, 0, 4);
  if (/^[\x20-\x7e]{4}$/.test(head)) return `"${head}"`;
  return Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
}
