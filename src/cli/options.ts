// Numeric command-line options, parsed once at the boundary. Every command uses these, so a bad value
// reads the same everywhere: `svc: --port must be an integer from 0 to 65535, got "http"`.
import { Option } from 'commander';
import { SvcError } from '../errors.js';
import { RIGHT_CONTEXT_FRAMES } from '../voices/sovits/stage.js';

export interface NumberRule {
  min?: number;
  max?: number;
  integer?: boolean;
  /** Unit named in the error, e.g. 'ms', 'semitones'. */
  unit?: string;
}

/** `raw` as a number within `rule`, or SvcError('INVALID_ARGUMENT') naming the option and the allowed range. */
export function parseNumberOption(name: string, raw: string, rule: NumberRule = {}): number {
  const value = raw.trim() === '' ? NaN : Number(raw);
  const { min, max, integer = false, unit } = rule;
  const outOfRange = (min !== undefined && value < min) || (max !== undefined && value > max);
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || outOfRange) {
    const range = min !== undefined && max !== undefined ? ` from ${min} to ${max}` : min !== undefined ? ` ≥ ${min}` : max !== undefined ? ` ≤ ${max}` : '';
    throw new SvcError('INVALID_ARGUMENT', `${name} must be ${integer ? 'an integer' : 'a number'}${range}${unit ? ` ${unit}` : ''}, got "${raw}"`);
  }
  return value;
}

/** The same check as a commander option parser: `.option('--port <n>', '...', numberArg('--port', { min: 0 }))`. */
export function numberArg(name: string, rule: NumberRule = {}): (raw: string) => number {
  return (raw: string) => parseNumberOption(name, raw, rule);
}

/** `raw` if it is one of `allowed`, else an INVALID_ARGUMENT error naming the choices. */
export function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new SvcError('INVALID_ARGUMENT', `${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

/**
 * `--right-context-frames` of `svc serve` and `svc live`: one definition (RIGHT_CONTEXT_FRAMES), so both take the
 * same range and say the same.
 */
export function rightContextFramesOption(): Option {
  const { min, max } = RIGHT_CONTEXT_FRAMES;
  return new Option(
    '--right-context-frames <n>',
    `So-VITS model voices: generator frames after each block's last one that must be final before the block leaves, ${min}-${max} (default: 0 for svc's own voices, 2 for HuBERT/ContentVec models). Each frame fewer is one frame less latency (20 ms for the small model, 11.6 ms at 44.1 kHz); the generator still sees 2 frames ahead, fed what is known so far (docs/models.md, Latency)`,
  ).argParser(numberArg('--right-context-frames', { min, max, integer: true }));
}
