// `svc analyze IN [--png OUT.png]`: prints a short analysis of an audio file (duration, voicing,
// F0 range, peak volume) and, with --png, draws a spectrogram with the F0 track, voiced regions
// and the volume lane (src/plot). Options are validated here, once.
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SvcError } from '../../errors.js';
import { DEFAULT_F0_METHOD, F0_CHOICES, type F0Choice } from '../../dsp/f0/types.js';
import type { AnalysisSummary } from '../../plot/index.js';
import { COLORMAP_NAMES, type ColormapName } from '../../plot/colormap.js';
import { MAX_PLOT_SIDE, MIN_PLOT_HEIGHT, MIN_PLOT_WIDTH } from '../../plot/limits.js';
import type { FrequencyScaleKind } from '../../plot/scale.js';
import { oneOf, parseNumberOption } from '../options.js';

const SCALES: FrequencyScaleKind[] = ['log', 'mel', 'linear'];

interface AnalyzeCliOptions {
  png?: string;
  method: string;
  width: string;
  height: string;
  hopMs: string;
  maxFreq: string;
  minFreq?: string;
  freqScale: string;
  colormap: string;
  rangeDb: string;
}

function formatHzOrDash(hz: number): string {
  return Number.isFinite(hz) ? `${hz.toFixed(0)} Hz` : '-';
}

/** The summary lines printed to stdout. */
export function formatSummary(fileName: string, s: AnalysisSummary, method: string): string {
  const channels = s.channelCount === 1 ? 'mono' : s.channelCount === 2 ? 'stereo' : `${s.channelCount} channels`;
  const f0 = Number.isFinite(s.f0MedianHz)
    ? `F0 (${method}) median ${formatHzOrDash(s.f0MedianHz)}, 5-95% ${formatHzOrDash(s.f0P5Hz)} to ${formatHzOrDash(s.f0P95Hz)}`
    : `F0 (${method}): no voiced frames`;
  const peak = Number.isFinite(s.peakRmsDb) ? `${s.peakRmsDb.toFixed(1)} dBFS` : 'silence';
  return `${fileName}: ${s.durationSeconds.toFixed(2)} s, ${s.sampleRate} Hz, ${channels}; voiced ${(s.voicedFraction * 100).toFixed(0)}% of frames; ${f0}; peak RMS ${peak}`;
}

async function runAnalyze(input: string, options: AnalyzeCliOptions): Promise<void> {
  const method = oneOf<F0Choice>('--method', options.method, F0_CHOICES);
  const width = parseNumberOption('--width', options.width, { min: MIN_PLOT_WIDTH, max: MAX_PLOT_SIDE, integer: true, unit: 'pixels' });
  const height = parseNumberOption('--height', options.height, { min: MIN_PLOT_HEIGHT, max: MAX_PLOT_SIDE, integer: true, unit: 'pixels' });
  const hopMs = parseNumberOption('--hop-ms', options.hopMs, { min: 1, max: 100, unit: 'ms' });
  const maxHz = parseNumberOption('--max-freq', options.maxFreq, { min: 100, max: 48000, unit: 'Hz' });
  const frequencyScale = oneOf('--freq-scale', options.freqScale, SCALES);
  const colormap = oneOf<ColormapName>('--colormap', options.colormap, COLORMAP_NAMES);
  const dynamicRangeDb = parseNumberOption('--range-db', options.rangeDb, { min: 20, max: 200, unit: 'dB' });
  const defaultMinHz = frequencyScale === 'linear' ? 0 : 40;
  const minHz = options.minFreq === undefined ? defaultMinHz : parseNumberOption('--min-freq', options.minFreq, { min: frequencyScale === 'log' ? 1 : 0, max: maxHz - 1, unit: 'Hz' });
  if (minHz >= maxHz) {
    throw new SvcError('INVALID_ARGUMENT', `--min-freq (${minHz} Hz) must be below --max-freq (${maxHz} Hz)`);
  }
  let pngPath: string | undefined;
  if (options.png !== undefined) {
    pngPath = resolve(options.png);
    const folder = dirname(pngPath);
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      throw new SvcError('FILE_NOT_FOUND', `cannot write ${options.png}: the folder ${folder} does not exist`, { hint: 'create the folder first or choose another --png path' });
    }
    if (existsSync(pngPath) && statSync(pngPath).isDirectory()) {
      throw new SvcError('INVALID_ARGUMENT', `--png ${options.png} is a directory, expected a file name such as out.png`);
    }
  }

  // Loaded here so that other commands do not pay for the canvas and ONNX native modules.
  const { analyzeFile } = await import('../../plot/index.js');
  const result = await analyzeFile(input, {
    method,
    hopSeconds: hopMs / 1000,
    pngPath,
    width,
    height,
    frequencyScale,
    minHz,
    maxHz,
    colormap,
    dynamicRangeDb,
  });
  if (result.maxHzUsed < maxHz && options.png !== undefined) {
    console.error(`svc: note: --max-freq ${maxHz} Hz is above the Nyquist frequency of this ${result.data.sampleRate} Hz file; the axis stops at ${result.maxHzUsed} Hz`);
  }
  console.log(formatSummary(result.data.fileName, result.summary, method));
  if (pngPath) console.log(`wrote ${options.png} (${width}x${height} PNG)`);
  else console.log('add --png OUT.png to draw the spectrogram, F0 track and volume');
}

export function register(program: Command): void {
  program
    .command('analyze')
    .description(
      'Analyse an audio file (WAV or FLAC): print duration, voiced share, F0 range and peak volume; with --png, draw a ' +
        'spectrogram (dBFS) with the F0 track over it, voiced regions marked below it and the RMS volume lane, on one time axis.',
    )
    .argument('<input>', 'audio file to analyse (.wav or .flac; stereo is mixed to mono)')
    .option('--png <file>', 'write the plot to this PNG file (written atomically; nothing is written on error)')
    .option('--method <method>', `F0 estimator: ${F0_CHOICES.join(', ')}`, DEFAULT_F0_METHOD)
    .option('--width <pixels>', `image width in pixels (${MIN_PLOT_WIDTH}-${MAX_PLOT_SIDE})`, '1200')
    .option('--height <pixels>', `image height in pixels (${MIN_PLOT_HEIGHT}-${MAX_PLOT_SIDE})`, '720')
    .option('--hop-ms <ms>', 'frame step of the F0 track, volume and spectrogram in milliseconds (1-100; long files use a coarser spectrogram step)', '10')
    .option('--max-freq <hz>', 'top of the frequency axis in Hz (clamped to half the sample rate)', '8000')
    .option('--min-freq <hz>', 'bottom of the frequency axis in Hz (default: 40 for log and mel scales, 0 for linear)')
    .option('--freq-scale <scale>', `frequency axis: ${SCALES.join(', ')} (log shows the F0 range best)`, 'log')
    .option('--colormap <name>', `spectrogram colours: ${COLORMAP_NAMES.join(', ')}`, 'magma')
    .option('--range-db <dB>', 'dynamic range of the spectrogram colours in dB below the loudest cell (20-200)', '80')
    .action(async (input: string, options: AnalyzeCliOptions) => {
      await runAnalyze(input, options);
    });
}
