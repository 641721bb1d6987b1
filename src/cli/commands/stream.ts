// `svc stream`: a command-line client of a running `svc serve`. File to file: the output has the same
// rate, channels and length as the input and is time-aligned with it (the server's reported delay is
// trimmed). With --input-device / --output-device it streams a microphone and/or plays the result live.
import { Command, Option } from 'commander';
import { readAudio, writeWav } from '../../audio/io.js';
import { resample } from '../../audio/resample.js';
import { SUPPORTED_SAMPLE_RATES, type AudioData } from '../../audio/types.js';
import { SvcError, errorMessage } from '../../errors.js';
import { StreamClient, streamAudio } from '../../stream/client.js';
import { PROTOCOL_LIMITS, SAMPLE_FORMATS, type SampleFormat, type StatsMessage } from '../../stream/protocol.js';
import { numberArg } from '../options.js';
import { concatFloat32 } from '../../dsp/arrays.js';

interface StreamOptions {
  url: string;
  in?: string;
  inputDevice?: number;
  out?: string;
  outputDevice?: number;
  realtime: boolean;
  token?: string;
  blockMs?: number;
  pitch: number;
  formant: number;
  format: SampleFormat;
  rate: number;
  durationS?: number;
  model?: string;
  quiet: boolean;
}

export function register(program: Command): void {
  program
    .command('stream')
    .description('Stream audio through a running `svc serve` (WebSocket protocol v1): a file or microphone in, a file or speakers out. File output has the input\'s rate, channels and length, aligned with it')
    .requiredOption('--url <url>', 'server address, e.g. ws://127.0.0.1:8080/ws or http://127.0.0.1:8080')
    .option('--in <file>', 'input audio file (WAV or FLAC, 1 or 2 channels)')
    .option('--input-device <id>', 'record from this input device instead of a file (ids from `svc devices`)', numberArg('--input-device', { min: 0, max: 1e6, integer: true }))
    .option('--out <file>', 'write the converted audio to this WAV file (16-bit PCM)')
    .option('--output-device <id>', 'play the converted audio on this output device (ids from `svc devices`)', numberArg('--output-device', { min: 0, max: 1e6, integer: true }))
    .option('--realtime', 'send a file at real-time pace, like a microphone; without it the file goes as fast as the server keeps up', false)
    .option('--token <secret>', 'the server\'s token, if it has one (also read from SVC_TOKEN)')
    .option('--block-ms <ms>', `block length in ms (${PROTOCOL_LIMITS.blockMs.min}-${PROTOCOL_LIMITS.blockMs.max}); default: the voice's, chosen by the server (20 for the built-in voice; for a model the smallest block it converts in time there, measured when it loads)`, numberArg('--block-ms', { min: PROTOCOL_LIMITS.blockMs.min, max: PROTOCOL_LIMITS.blockMs.max }))
    .option('--pitch <semitones>', `pitch shift in semitones (${PROTOCOL_LIMITS.pitch.min}..${PROTOCOL_LIMITS.pitch.max}; 12 = an octave up)`, numberArg('--pitch', { min: PROTOCOL_LIMITS.pitch.min, max: PROTOCOL_LIMITS.pitch.max }), 0)
    .option('--formant <ratio>', `formant scale (${PROTOCOL_LIMITS.formant.min}..${PROTOCOL_LIMITS.formant.max}; 1 keeps the timbre, >1 smaller/brighter)`, numberArg('--formant', { min: PROTOCOL_LIMITS.formant.min, max: PROTOCOL_LIMITS.formant.max }), 1)
    .addOption(new Option('--format <format>', 'sample format on the wire: f32 (32-bit float) or s16 (16-bit integer, half the bandwidth)').choices([...SAMPLE_FORMATS]).default('f32'))
    .option('--rate <hz>', 'sample rate for --input-device, in Hz', numberArg('--rate', { min: 8000, max: 48000, integer: true }), 48000)
    .option('--duration-s <seconds>', 'with --input-device: stop after this many seconds (default: until Ctrl-C)', numberArg('--duration-s', { min: 0.1, max: 86400 }))
    .option('--model <name[:speaker]>', 'voice to convert with: "builtin" (the DSP voice), or a So-VITS model installed on the server (`svc models` there), optionally NAME:SPEAKER. Sent right after the session starts; audio flows once the server confirms it. Default: the server\'s default voice')
    .option('--quiet', 'no progress or latency report on stderr', false)
    .action(async (options: StreamOptions) => {
      if ((options.in === undefined) === (options.inputDevice === undefined)) {
        throw new SvcError('INVALID_ARGUMENT', 'give exactly one input: --in FILE or --input-device ID', { hint: 'e.g. svc stream --url ws://127.0.0.1:8080/ws --in voice.wav --out converted.wav' });
      }
      if ((options.out === undefined) === (options.outputDevice === undefined)) {
        throw new SvcError('INVALID_ARGUMENT', 'give exactly one output: --out FILE or --output-device ID');
      }
      const token = options.token ?? process.env.SVC_TOKEN;
      const voice = { pitch: options.pitch, formant: options.formant };
      if (options.in !== undefined && options.out !== undefined) {
        await fileToFile(options.in, options.out, { url: options.url, token, voice, blockMs: options.blockMs, format: options.format, realtime: options.realtime, quiet: options.quiet, model: options.model });
        return;
      }
      await withDevices(options, token, voice);
    });
}

async function fileToFile(inPath: string, outPath: string, o: { url: string; token?: string; voice: { pitch: number; formant: number }; blockMs?: number; format: SampleFormat; realtime: boolean; quiet: boolean; model?: string }): Promise<void> {
  const input = await readAudio(inPath);
  if (input.channels.length > 2) throw new SvcError('INVALID_ARGUMENT', `${inPath} has ${input.channels.length} channels; svc stream sends 1 or 2`, { hint: 'mix it down first, e.g. `sox in.wav -c 2 out.wav`' });
  // Rates outside the protocol's list are resampled to 48 kHz for the trip and back afterwards.
  const wireRate = (SUPPORTED_SAMPLE_RATES as readonly number[]).includes(input.sampleRate) ? input.sampleRate : 48000;
  const wire: AudioData = wireRate === input.sampleRate ? input : { sampleRate: wireRate, channels: await Promise.all(input.channels.map((c) => resample(c, input.sampleRate, wireRate))) };
  let lastReport = 0;
  if (!o.quiet && o.model !== undefined) process.stderr.write(`svc: switching the session to model ${o.model}\n`);
  const result = await streamAudio(wire, {
    url: o.url,
    token: o.token,
    voice: o.voice,
    blockMs: o.blockMs,
    format: o.format,
    realtime: o.realtime,
    model: o.model,
    onProgress: o.quiet
      ? undefined
      : (sent, total) => {
          const now = Date.now();
          if (now - lastReport < 1000 && sent < total) return;
          lastReport = now;
          process.stderr.write(`svc: streamed ${sent.toFixed(1)} / ${total.toFixed(1)} s\r`);
        },
  });
  if (!o.quiet) warnIgnoredFormant(result.ready.controls, o.voice.formant, result.ready.model);
  let output = result.audio;
  if (wireRate !== input.sampleRate) {
    const length = input.channels[0].length;
    const channels = await Promise.all(output.channels.map(async (c) => {
      const back = await resample(c, wireRate, input.sampleRate);
      const exact = new Float32Array(length);
      exact.set(back.subarray(0, length));
      return exact;
    }));
    output = { sampleRate: input.sampleRate, channels };
  }
  await writeWav(outPath, output);
  const s = result.stats;
  const verdict = conversionVerdict(s, result.ready.model);
  if (!o.quiet) {
    const latency = result.ready.latency;
    process.stderr.write(
      `\nsvc: wrote ${outPath} (${(output.channels[0].length / output.sampleRate).toFixed(2)} s, ${output.sampleRate} Hz, ${output.channels.length} ch); ${verdict.text}; ` +
        `algorithmic latency ${latency.algorithmicMs} ms (block ${latency.blockMs} ms${o.blockMs === undefined ? ", the voice's" : ''} + delay ${latency.delayMs} ms, trimmed)` +
        (s ? `; compute ${s.latency.computeMsMean} ms mean / ${s.latency.computeMsP95} ms p95 per block` : '') +
        '\n',
    );
  }
  if (verdict.mostlyUnconverted) {
    throw new SvcError('NOT_CONVERTED', `most of the audio was not converted by ${result.ready.model} (${verdict.text}); ${outPath} holds it anyway`, {
      hint: 'the server could not keep up: try a larger --block-ms, a lighter model, or a server with a larger --max-queue-ms',
    });
  }
}

/**
 * What the server's last stats say about conversion: "voice X converted N of M blocks (…)", and whether
 * most blocks were not converted (then `svc stream` fails: the output is mostly not the voice asked for).
 */
export function conversionVerdict(stats: StatsMessage | null, model: string): { text: string; mostlyUnconverted: boolean } {
  if (!stats?.blocks) return { text: `voice ${model}`, mostlyUnconverted: false };
  const { converted, notConverted } = stats.blocks;
  const total = converted + notConverted;
  if (notConverted === 0) return { text: `voice ${model} converted all ${total} blocks`, mostlyUnconverted: false };
  const d = stats.dropped;
  const how = [d.dryBlocks && `${d.dryBlocks} dry`, d.silencedBlocks && `${d.silencedBlocks} silenced`, d.skippedBlocks && `${d.skippedBlocks} skipped`].filter(Boolean).join(', ');
  const failed = notConverted - d.dryBlocks - d.silencedBlocks - d.skippedBlocks;
  return {
    text: `voice ${model} converted ${converted} of ${total} blocks; ${notConverted} NOT converted (${[how, failed > 0 && `${failed} failed`].filter(Boolean).join(', ')})`,
    mostlyUnconverted: notConverted > converted,
  };
}

/** Live mode: a microphone and/or speakers through the server (the device module is svc live's). */
async function withDevices(options: StreamOptions, token: string | undefined, voice: { pitch: number; formant: number }): Promise<void> {
  let devices: typeof import('../../audio/devices.js');
  try {
    devices = await import('../../audio/devices.js');
  } catch (error) {
    throw new SvcError('DEVICE_UNAVAILABLE', `audio devices are not available in this build: ${errorMessage(error)}`, { hint: 'use --in FILE / --out FILE' });
  }
  const fileInput = options.in !== undefined ? await readAudio(options.in) : undefined;
  const sampleRate = fileInput?.sampleRate ?? options.rate;
  if (!(SUPPORTED_SAMPLE_RATES as readonly number[]).includes(sampleRate)) {
    throw new SvcError('UNSUPPORTED_RATE', `sample rate ${sampleRate} Hz is not one the protocol carries`, { hint: `use one of ${SUPPORTED_SAMPLE_RATES.join(', ')}` });
  }
  const channels = 1 as const;
  const client = await StreamClient.connect({ url: options.url, token, sampleRate, channels, format: options.format, blockMs: options.blockMs, voice, model: options.model });
  const ready = client.ready!;
  if (!options.quiet) warnIgnoredFormant(ready.controls, voice.formant, ready.model);
  const block = ready.blockSamples;
  const recorded: Float32Array[] = [];
  let output: InstanceType<typeof devices.AudioOutputStream> | undefined;
  let input: InstanceType<typeof devices.AudioInputStream> | undefined;
  let failure: unknown;
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const fail = (error: unknown) => {
    failure = error;
    stop();
  };
  const onSignal = () => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (options.outputDevice !== undefined) {
      output = new devices.AudioOutputStream({ deviceId: options.outputDevice, sampleRate, channels, framesPerBuffer: block }, fail);
      output.start();
    }
    client.onAudio = (samples) => {
      if (output) output.write(samples);
      else recorded.push(samples);
    };
    void client.closed.then(() => stop());
    if (!options.quiet) process.stderr.write(`svc: streaming with voice ${ready.model}, ${ready.latency.blockMs} ms blocks (algorithmic latency ${ready.latency.algorithmicMs} ms); Ctrl-C to stop\n`);
    if (fileInput) {
      // A file played live: real-time pace, then wait for the tail.
      const mono = fileInput.channels.length === 1 ? fileInput.channels[0] : fileInput.channels[0].map((x, i) => (x + fileInput.channels[1][i]) / 2);
      const startMs = performance.now();
      for (let sent = 0; sent < mono.length && failure === undefined; sent += block) {
        client.send(mono.subarray(sent, Math.min(mono.length, sent + block)));
        const waitMs = startMs + ((sent + block) / sampleRate) * 1000 - performance.now();
        if (waitMs > 0) await Promise.race([new Promise((r) => setTimeout(r, waitMs)), stopped]);
      }
      await Promise.race([new Promise((r) => setTimeout(r, ready.latency.algorithmicMs + 300)), stopped]);
    } else {
      input = new devices.AudioInputStream({ deviceId: options.inputDevice!, sampleRate, channels, framesPerBuffer: block }, (samples) => client.send(samples), fail);
      input.start();
      const timer = options.durationS !== undefined ? setTimeout(stop, options.durationS * 1000) : undefined;
      await stopped;
      if (timer) clearTimeout(timer);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await input?.stop();
    await output?.stop(500);
    await client.close();
  }
  if (failure !== undefined) throw failure;
  if (options.out !== undefined) {
    const all = concatFloat32(recorded);
    const total = all.length;
    const delay = Math.min(total, ready.latency.delaySamples);
    await writeWav(options.out, { sampleRate, samples: all.slice(delay) });
    if (!options.quiet) process.stderr.write(`svc: wrote ${options.out} (${((total - delay) / sampleRate).toFixed(2)} s)\n`);
  }
}

/** Neural models take the pitch only: say so when --formant was asked for (the server keeps it unused). */
function warnIgnoredFormant(controls: string[] | undefined, formant: number, model: string): void {
  if (formant !== 1 && controls && !controls.includes('formant')) process.stderr.write(`svc: note: model ${model} keeps its speaker's timbre; --formant ${formant} has no effect\n`);
}
