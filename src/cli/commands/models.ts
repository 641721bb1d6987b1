// `svc models [--json] [--check]`: lists the installed So-VITS model bundles (repo models/ and the user
// folder, see src/voices/registry.ts) with what each needs and offers; --check also loads every model
// (ONNX sessions, graph checks, a warm-up run) and reports the first problem of each.
import type { Command } from 'commander';
import { errorMessage } from '../../errors.js';
import { listModels, loadModel, loadRvcModel, modelRoots, type InstalledModel } from '../../voices/registry.js';
import { describeRvc } from '../../voices/rvc/bundle.js';
import { rvcSpeechEncoder } from '../../voices/rvc/model.js';

interface ModelsCliOptions {
  json: boolean;
  check: boolean;
}

function describe(model: InstalledModel): string {
  if (model.rvc) {
    const encoder = model.encoder === 'bundle' ? 'own encoder' : model.encoder === 'missing' ? `NO ${rvcSpeechEncoder(model.rvc)} encoder (put one at <models>/encoders/${rvcSpeechEncoder(model.rvc)}.onnx)` : `shared encoder ${model.encoder}`;
    return `${model.name}  ${describeRvc(model.rvc)}; ${encoder}\n    speakers: ids 0..${model.rvc.n_speakers - 1}\n    ${model.dir}`;
  }
  const m = model.manifest;
  if (!m) return `${model.name}  INVALID: ${model.error}\n    ${model.dir}`;
  const speakers = Object.keys(m.speakers);
  const speakerText = speakers.length ? speakers.join(', ') : `ids 0..${m.n_speakers - 1}`;
  const encoder = model.encoder === 'bundle' ? `${m.encoder?.kind ?? 'own'} encoder` : model.encoder === 'missing' ? `NO ${m.speech_encoder} encoder (put one at <models>/encoders/${m.speech_encoder}.onnx)` : `shared encoder ${model.encoder}`;
  const random = m.source?.random_weights ? ' [random weights: reference only]' : '';
  // What the bundle can do beyond one speaker: a mix graph blends speakers per frame (--speaker a:0.7,b:0.3).
  const mix = m.speaker_mix ? `speaker mix: yes (per-frame graph over ${m.speaker_mix.columns.join(', ')})` : speakers.length > 1 ? 'speaker mix: no (one sid per call; re-import from the checkpoint)' : 'speaker mix: -';
  const c = m.cluster;
  const cluster = !c
    ? 'cluster: no; index: no'
    : c.kind === 'kmeans'
      ? `cluster: kmeans, ${c.clusters} centres for ${c.speakers.join(', ')}; index: no (--cluster-ratio)`
      : `cluster: no; index: yes, ${c.speakers.map((name, i) => `${name} ${c.vectors[i]} vectors`).join(', ')} (--cluster-ratio)`;
  return `${model.name}  so-vits-svc ${m.sovits_version}, ${m.sampling_rate} Hz, hop ${m.hop_length}, ${m.ssl_dim}-d ${m.speech_encoder}${m.vol_embedding ? ', vol' : ''}; ${encoder}${random}\n    speakers: ${speakerText}; ${mix}; ${cluster}\n    ${model.dir}`;
}

export function register(program: Command): void {
  program
    .command('models')
    .description(`List installed So-VITS-SVC and RVC model bundles: folders with a manifest.json in the repository's models/ and in the user folder ($SVC_MODELS_DIR, else ~/.local/share/svc/models). Use a listed name with \`svc convert --model NAME\` or \`svc serve --model NAME\`.`)
    .option('--json', 'print the list as JSON (name, dir, manifest or error, encoder source, check result)', false)
    .option('--check', 'also load each model (ONNX sessions on the CPU, input/output checks, a warm-up run) and report problems', false)
    .action(async (options: ModelsCliOptions) => {
      const models = listModels();
      const checks = new Map<string, string>();
      if (options.check) {
        for (const model of models) {
          if (model.error) continue;
          try {
            const loaded = model.rvc ? await loadRvcModel(model.dir) : await loadModel(model.dir);
            await loaded.dispose();
            checks.set(model.name, 'ok');
          } catch (error) {
            checks.set(model.name, errorMessage(error));
          }
        }
      }
      if (options.json) {
        console.log(JSON.stringify(models.map((m) => ({ ...m, ...(checks.has(m.name) ? { check: checks.get(m.name) } : {}) })), null, 2));
        return;
      }
      if (models.length === 0) {
        console.log(`no models installed (searched ${modelRoots().join(', ')})`);
        console.log('make one with `svc import-sovits --checkpoint G.pth --config config.json --out DIR` into one of those folders');
        return;
      }
      for (const model of models) {
        console.log(describe(model));
        if (checks.has(model.name)) console.log(`    check: ${checks.get(model.name)}`);
      }
      console.log(`(searched ${modelRoots().join(', ')})`);
    });
}
