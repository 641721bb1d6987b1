// Model audio settings that dataset preprocessing must match: the sampling rate, hop and STFT sizes
// the features are made at, and the content width (ssl_dim) the generator takes. `tiny`, `small` and
// `standard` mirror python/svc_py (make_reference.py's tiny_config() and STANDARD_CONFIG,
// train/config.py's small_config()); a FILE is
// a so-vits-svc config.json. Only what preprocessing needs is read here; the trainer validates the
// whole config again (python/svc_py/sovits/config.py).
import { existsSync, readFileSync } from 'node:fs';
import { SvcError, errorMessage } from '../errors.js';

export interface ModelAudioSettings {
  /** 'tiny' | 'small' | 'standard' | the config file's path. */
  name: string;
  samplingRate: number;
  hopLength: number;
  filterLength: number;
  winLength: number;
  /** Width of one content-encoder row the generator takes. */
  sslDim: number;
  speechEncoder: string;
}

export type ConfigPreset = 'tiny' | 'small' | 'standard';

export const CONFIG_PRESETS: Readonly<Record<ConfigPreset, ModelAudioSettings>> = {
  tiny: { name: 'tiny', samplingRate: 16000, hopLength: 320, filterLength: 1024, winLength: 1024, sslDim: 256, speechEncoder: 'vec256l9' },
  // The default: svc's own phone encoder (models/svc_phone_encoder) at 16 kHz, one model frame per row.
  small: { name: 'small', samplingRate: 16000, hopLength: 320, filterLength: 1024, winLength: 1024, sslDim: 40, speechEncoder: 'svcphone40' },
  standard: { name: 'standard', samplingRate: 44100, hopLength: 512, filterLength: 2048, winLength: 2048, sslDim: 768, speechEncoder: 'vec768l12' },
};

function positiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/** 'tiny' | 'small' | 'standard' | path of a so-vits-svc config.json → the settings preprocessing needs. */
export function resolveModelConfig(nameOrPath: string): ModelAudioSettings {
  if (Object.hasOwn(CONFIG_PRESETS, nameOrPath)) return { ...CONFIG_PRESETS[nameOrPath as ConfigPreset] };
  if (!existsSync(nameOrPath)) {
    throw new SvcError('FILE_NOT_FOUND', `--config ${nameOrPath}: not 'tiny', 'small', 'standard' or an existing config.json`, {
      hint: 'use --config small (the default: 16 kHz, svc\'s phone encoder), --config tiny (16 kHz test model), --config standard (so-vits-svc 4.1, 44.1 kHz) or a so-vits-svc config.json path',
    });
  }
  let parsed: { data?: Record<string, unknown>; model?: Record<string, unknown> };
  try {
    parsed = JSON.parse(readFileSync(nameOrPath, 'utf8')) as typeof parsed;
  } catch (error) {
    throw new SvcError('MODEL_INVALID', `--config ${nameOrPath} is not JSON (${errorMessage(error)})`, { hint: 'pass a so-vits-svc config.json' });
  }
  const data = parsed.data ?? {};
  const model = parsed.model ?? {};
  const samplingRate = data.sampling_rate;
  const hopLength = data.hop_length;
  const filterLength = data.filter_length;
  const winLength = data.win_length ?? filterLength;
  const sslDim = model.ssl_dim;
  for (const [key, value] of [['data.sampling_rate', samplingRate], ['data.hop_length', hopLength], ['data.filter_length', filterLength], ['data.win_length', winLength], ['model.ssl_dim', sslDim]] as const) {
    if (!positiveInteger(value)) {
      throw new SvcError('MODEL_INVALID', `--config ${nameOrPath}: ${key} must be a positive integer, found ${JSON.stringify(value)}`, {
        hint: 'pass a so-vits-svc 4.x config.json (configs_template/config_template.json lists the keys)',
      });
    }
  }
  return {
    name: nameOrPath,
    samplingRate: samplingRate as number,
    hopLength: hopLength as number,
    filterLength: filterLength as number,
    winLength: winLength as number,
    sslDim: sslDim as number,
    speechEncoder: typeof model.speech_encoder === 'string' ? model.speech_encoder : (sslDim === 256 ? 'vec256l9' : 'vec768l12'),
  };
}
