// Binary audio frames of protocol v1: interleaved little-endian samples, f32 (IEEE float) or s16
// (signed 16-bit), 1 or 2 channels. Decoding mixes to mono (the converter is mono) and sanitizes
// (non-finite → 0, clamped to ±1) so hostile bytes cannot poison the DSP state; encoding duplicates the
// mono conversion into every channel.
import type { SampleFormat } from './protocol.js';

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
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  const step = bytesPerSample(format);
  for (let i = 0; i < count; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      const offset = (i * channels + c) * step;
      sum += format === 'f32' ? view.getFloat32(offset, true) : view.getInt16(offset, true) / 32768;
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
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i];
    for (let c = 0; c < channels; c++) {
      const offset = (i * channels + c) * step;
      if (format === 'f32') out.writeFloatLE(x, offset);
      else out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(x * 32767))), offset);
    }
  }
  return out;
}
