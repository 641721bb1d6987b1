// Computes what `svc analyze` draws from a file's audio (mixed to mono): the spectrogram and
// volume of ./spectrogram.ts and the F0 track of src/dsp/f0 (any method), on one time axis.
import { mixToMono } from '../audio/io.js';
import type { AudioData } from '../audio/types.js';
import { estimateF0 } from '../dsp/f0/index.js';
import { DEFAULT_F0_METHOD, type F0Choice } from '../dsp/f0/types.js';
import type { AnalysisData } from './render.js';
import { plotWindowSamples, rmsDbPerHop, spectrogramDb } from './spectrogram.js';

export interface AnalyzeOptions {
  /** F0 estimator (default: the F0 module's default). */
  method?: F0Choice;
  /** Frame step of the F0 and volume tracks (and of the spectrogram, unless the file is long), seconds. */
  hopSeconds: number;
  /** Upper bound on spectrogram frames (memory: frames x bins floats); the hop grows to stay under it. */
  maxSpectrogramFrames?: number;
}

/** Spectrogram, F0 and volume of `audio` (mixed to mono) for renderAnalysisPng. */
export async function analyzeAudio(audio: AudioData, fileName: string, options: AnalyzeOptions): Promise<AnalysisData> {
  const mono = mixToMono(audio);
  const { sampleRate, samples } = mono;
  const hopSamples = Math.max(1, Math.round(options.hopSeconds * sampleRate));
  const maxFrames = options.maxSpectrogramFrames ?? 8000;
  const spectrogramHop = Math.max(hopSamples, Math.ceil(samples.length / maxFrames));
  const method = options.method ?? DEFAULT_F0_METHOD;
  const track = await estimateF0(samples, sampleRate, { method, hopSamples });
  return {
    fileName,
    sampleRate,
    channelCount: audio.channels.length,
    durationSeconds: samples.length / sampleRate,
    spectrogram: spectrogramDb(samples, sampleRate, spectrogramHop, plotWindowSamples(sampleRate)),
    f0: {
      method,
      hz: track.f0Hz,
      voiced: track.voiced,
      hopSeconds: track.hopSamples / track.sampleRate,
      startSeconds: 0,
    },
    volume: rmsDbPerHop(samples, sampleRate, hopSamples),
  };
}
