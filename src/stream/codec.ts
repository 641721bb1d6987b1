// Binary audio frames of protocol v1: interleaved little-endian samples, f32 (IEEE float) or s16
// (signed 16-bit), 1 or 2 channels. Decoding mixes to mono (the converter is mono) and sanitizes
// (non-finite → 0, clamped to ±1) so hostile bytes cannot poison the DSP state; encoding duplicates the
// mono conversion into every channel.
import type { SampleFormat } from './protocol.js';
import { PCM16_SCALE, floatToPcm16, pcm16ToFloat } from '../audio/pcm16.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function bytesPerSample(format: SampleFormat): number {
  return format === 'f32' ? 4 : 2;
}

export type DecodeResult = { ok: true; samples: Float32Array } | { ok: false; message: string };

/** Decodes one client frame into mono samples; rejects frames that are not whole sample frames. */
export function decodeFrame(bytes: Uint8Array, format: SampleFormat, channels: number): DecodeResult {
  const frameBytes = bytesPerSample(format) * channels;
  if (bytes.byteLength === 0 || bytes.byteLength % frameBytes !== 0) {
    return { ok: false, message: `binary frames must hold whole sample frames of ${frameBytes} bytes (${format}, ${channels} channel${channels > 1 ? 's' : ''}); got ${bytes.byteLength} bytes` };
  }
  const count = bytes.byteLength / frameBytes;
  const out = new Float32Array(count);
  if (LITTLE_ENDIAN) {
    // Fast path: typed-array views of the wire bytes (copied first when they are not aligned).
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes); // a copy (Buffer#slice would be a view)
    const wire = format === 'f32' ? new Float32Array(aligned.buffer, aligned.byteOffset, count * channels) : new Int16Array(aligned.buffer, aligned.byteOffset, count * channels);
    const scale = format === 'f32' ? 1 / channels : 1 / (PCM16_SCALE * channels);
    for (let i = 0; i < count; i++) {
      let sum = 0;
      for (let c = 0; c < channels; c++) sum += wire[i * channels + c];
      const v = sum * scale;
      out[i] = v === v && v !== Infinity && v !== -Infinity ? (v > 1 ? 1 : v < -1 ? -1 : v) : 0;
    }
    return { ok: true, samples: out };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const step = bytesPerSample(format);
  for (let i = 0; i < count; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      const offset = (i * channels + c) * step;
      sum += format === 'f32' ? view.getFloat32(offset, true) : pcm16ToFloat(view.getInt16(offset, true));
    }
    const v = sum / channels;
    out[i] = Number.isFinite(v) ? (v > 1 ? 1 : v < -1 ? -1 : v) : 0;
  }
  return { ok: true, samples: out };
}

/** Encodes mono samples as an interleaved frame with the sample duplicated into every channel. */
export function encodeFrame(samples: Float32Array, format: SampleFormat, channels: number): Buffer {
  const step = bytesPerSample(format);
  const out = Buffer.allocUnsafe(samples.length * channels * step);
  if (LITTLE_ENDIAN && out.byteOffset % 4 === 0) {
    const n = samples.length;
    if (format === 'f32') {
      const wire = new Float32Array(out.buffer, out.byteOffset, n * channels);
      if (channels === 1) wire.set(samples);
      else for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) wire[i * channels + c] = samples[i];
    } else {
      const wire = new Int16Array(out.buffer, out.byteOffset, n * channels);
      for (let i = 0; i < n; i++) {
        const q = floatToPcm16(samples[i]);
        for (let c = 0; c < channels; c++) wire[i * channels + c] = q;
      }
    }
    return out;
  }
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i];
    for (let c = 0; c < channels; c++) {
      const offset = (i * channels + c) * step;
      if (format === 'f32') out.writeFloatLE(x, offset);
      else out.writeInt16LE(floatToPcm16(x), offset);
    }
  }
  return out;
}
