// `svc devices`: the sound cards PortAudio can see, as a table (or JSON), with the ids that
// `svc live --input/--output` take.
import type { Command } from 'commander';
import { probeAudioDevices, type AudioDevice } from '../../audio/devices.js';

function formatTable(devices: AudioDevice[], direction: 'input' | 'output'): string {
  const rows = devices
    .filter((d) => (direction === 'input' ? d.inputChannels : d.outputChannels) > 0)
    .map((d) => {
      const isDefault = direction === 'input' ? d.isDefaultInput : d.isDefaultOutput;
      const channels = direction === 'input' ? d.inputChannels : d.outputChannels;
      const latencyMs = direction === 'input' ? d.defaultLowInputLatencyMs : d.defaultLowOutputLatencyMs;
      return [
        `${isDefault ? '*' : ' '}${d.id}`,
        d.name,
        d.hostApi,
        String(channels),
        `${d.defaultSampleRate}`,
        latencyMs > 0 ? latencyMs.toFixed(1) : '-',
      ];
    });
  const title = direction === 'input' ? 'Inputs (microphones)' : 'Outputs (speakers)';
  if (rows.length === 0) return `${title}: none\n`;
  const header = ['id', 'name', 'host api', 'channels', 'default Hz', 'low latency ms'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [`${title}:`, line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

export function register(program: Command): void {
  program
    .command('devices')
    .description('List audio input and output devices (ids for `svc live --input/--output`); * marks the system default. Exits 1 when there is no device at all (--json: prints [] and exits 0)')
    .option('--json', 'print the device list as JSON (an array of {id, name, hostApi, inputChannels, outputChannels, defaultSampleRate, ...})', false)
    .option('--verbose', "also print the audio system's own diagnostics (ALSA/JACK probing messages)", false)
    .action((options: { json: boolean; verbose: boolean }) => {
      const { devices, diagnostics } = probeAudioDevices();
      if (options.verbose && diagnostics) process.stderr.write(diagnostics + '\n');
      if (options.json) {
        process.stdout.write(JSON.stringify(devices, null, 2) + '\n');
        return;
      }
      if (devices.length === 0) {
        process.stdout.write(
          'No audio devices found.\n' +
            'PortAudio sees no sound card. On a desktop check `arecord -l` / `aplay -l`; in a container or CI,\n' +
            'define a virtual device in ~/.asoundrc (see scripts/virtual-audio/README.md).\n',
        );
        process.exitCode = 1;
        return;
      }
      process.stdout.write(formatTable(devices, 'input') + '\n' + formatTable(devices, 'output'));
    });
}
