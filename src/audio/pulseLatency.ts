// What PulseAudio (or PipeWire's pulse server) holds for this process's sound streams, which PortAudio
// cannot see. Through ALSA's `pulse` plugin each PortAudio stream is a PulseAudio stream; the sound server
// buffers it (the capture side: audio not yet read; playback: audio not yet rendered) and its sink or
// source adds its own latency. `pactl list sink-inputs|source-outputs` reports both per stream, with the
// owning process id, so `svc live` can add them to the latency it reports (measured: 60–100 ms that the
// report left out, bench/live-latency.ts).
import { pactl } from './pactl.js';

/** One PulseAudio stream of a process: its buffer and its device's latency, ms, and the device's index. */
export interface PulseStream {
  bufferMs: number;
  deviceMs: number;
  /** The sink (playback) or source (capture) it is connected to, as `pactl list short sinks|sources` numbers them. */
  deviceIndex: number | null;
}

export interface PulseStreams {
  /** Playback streams (sink inputs): bufferMs = queued in the server, deviceMs = the sink's latency. */
  playback: PulseStream[];
  /** Capture streams (source outputs): bufferMs = recorded, not yet read; deviceMs = the source's latency. */
  capture: PulseStream[];
}

/** The streams of process `pid` in `pactl list sink-inputs` / `source-outputs` text. */
export function parsePactlStreams(text: string, pid: number): PulseStream[] {
  const streams: PulseStream[] = [];
  for (const block of text.split(/\n(?=\S)/)) {
    if (!new RegExp(`application\\.process\\.id = "${pid}"`).test(block)) continue;
    const buffer = /Buffer Latency: (\d+) usec/.exec(block);
    const device = /(?:Sink|Source) Latency: (\d+) usec/.exec(block);
    if (!buffer || !device) continue;
    const index = /^\s*(?:Sink|Source): (\d+)$/m.exec(block);
    streams.push({ bufferMs: Number(buffer[1]) / 1000, deviceMs: Number(device[1]) / 1000, deviceIndex: index ? Number(index[1]) : null });
  }
  return streams;
}

/**
 * This process's PulseAudio streams now, or null when there is no PulseAudio (no pactl, no server, or the
 * devices are not PulseAudio's: then there are no streams of ours).
 */
export async function pulseStreams(pid = process.pid, env: NodeJS.ProcessEnv = process.env): Promise<PulseStreams | null> {
  // Two listings, one pactl call each (in English: pactl.ts runs it with LC_ALL=C).
  const [sinkInputs, sourceOutputs] = await Promise.all([pactl(['list', 'sink-inputs'], env), pactl(['list', 'source-outputs'], env)]);
  if (sinkInputs.status !== 0 || sourceOutputs.status !== 0) return null;
  const streams = { playback: parsePactlStreams(sinkInputs.stdout, pid), capture: parsePactlStreams(sourceOutputs.stdout, pid) };
  return streams.playback.length + streams.capture.length > 0 ? streams : null;
}

/** The latency `pactl list sinks` lists for the sink named `sinkName` (what it rendered ahead of its monitor), ms; null if not listed. */
export function parseSinkLatencyMs(listing: string, sinkName: string): number | null {
  const block = listing.split('\n\n').find((b) => b.split('\n').some((line) => line.trim() === `Name: ${sinkName}`));
  const latency = block && /\tLatency: (\d+) usec/.exec(block);
  return latency ? Number(latency[1]) / 1000 : null;
}

/** The sound server's name from `pactl info` text ("PulseAudio (on PipeWire 0.3.65)", "pulseaudio"), or null. */
export function parseServerName(infoText: string): string | null {
  return /^Server Name: (.+)$/m.exec(infoText)?.[1]?.trim() ?? null;
}

/** The sound server's name (`pactl info`), or null without one. */
export async function soundServerName(env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  const info = await pactl(['info'], env);
  return info.status === 0 ? parseServerName(info.stdout) : null;
}

/**
 * Whether a sound server's listings leave this process's stream latencies out: PipeWire's PulseAudio server
 * (pipewire-pulse 0.3.65, Debian 12) lists 0 µs for every stream's buffer and device, while the click
 * through it measured 70–100 ms more than the rest of svc's figure (bench/README.md, session 11). Only
 * PipeWire is judged so: on PulseAudio a zero is a reading.
 */
export function latenciesUnlisted(serverName: string | null, streams: PulseStreams): boolean {
  const all = [...streams.playback, ...streams.capture];
  return serverName !== null && /PipeWire/i.test(serverName) && all.length > 0 && all.every((s) => s.bufferMs === 0 && s.deviceMs === 0);
}
