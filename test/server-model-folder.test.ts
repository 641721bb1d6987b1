// `svc serve --model FOLDER` (issue 15, point 8) on a real server on port 0: a bundle folder given on the
// command line that is not installed is listed by GET /api/models under its folder name, is the default,
// and can be selected by that name again after switching to builtin and to an installed model. Errors for
// unknown names list what can be chosen, never show server paths, never advise a client to pass a folder
// path, and never say a name is unknown while keeping a session on that same name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeReference } from '../src/voices/sovits/bundle.js';
import { serverModelOptions } from '../src/server/models.js';
import { loadBuiltinStageFactory, startServer, type SvcServer } from '../src/server/server.js';
import { modelDisplayName } from '../src/voices/registry.js';
import { ModelWorkers } from '../src/voices/worker/model-host.js';
import { makeTempDir, useModelsDir } from './helpers/index.js';
import { askModel, helloClient } from './stream-utils.js';

const temp = makeTempDir('svc-server-model-folder-');
const root = join(temp.dir, 'models');
const folder = join(temp.dir, 'my bundles', 'tiny');
let restoreModelsDir: (() => void) | undefined;
let models: ModelWorkers;
let server: SvcServer;

/** A server path in a client-facing text: an absolute path with at least one folder. */
const SERVER_PATH = /(^|[\s'"(=])\/[\w.-]+\//;

test.before(async () => {
  await makeReference('tiny', folder, { seed: 7 });
  // An installed bundle besides the command-line folder.
  mkdirSync(join(root, 'other'), { recursive: true });
  for (const file of readdirSync(folder)) copyFileSync(join(folder, file), join(root, 'other', file));
  restoreModelsDir = useModelsDir(root);
  // What `svc serve --model FOLDER` wires up (src/cli/commands/serve.ts).
  models = new ModelWorkers({ builtin: loadBuiltinStageFactory, f0Method: 'dsp' });
  server = await startServer({ port: 0, stageFactory: await models.defaultFactory(folder), modelName: modelDisplayName(folder), ...serverModelOptions(models) });
});

test.after(async () => {
  await server?.close();
  await models?.close();
  restoreModelsDir?.();
  temp.cleanup();
});

test('GET /api/models lists the --model folder by its folder name, usable, as the default', async () => {
  const list = (await (await fetch(`${server.url}/api/models`)).json()) as { default: string; models: Array<Record<string, any>> };
  assert.is(list.default, 'tiny');
  const names = list.models.map((m) => m.name);
  assert.equal(names, ['builtin', 'tiny', 'other']);
  const tiny = list.models.find((m) => m.name === 'tiny')!;
  assert.is(tiny.error, undefined, JSON.stringify(tiny));
  assert.is(tiny.type, 'sovits');
  assert.not.match(JSON.stringify(list), SERVER_PATH);
});

test('the --model folder is selectable by name, also after switching to builtin and to an installed model', async () => {
  const { c, ready } = await helloClient(server.url);
  try {
    assert.is(ready.model, 'tiny');
    for (const name of ['builtin', 'tiny', 'other', 'tiny', 'builtin', 'tiny']) {
      const answer = await askModel(c, name);
      assert.is(answer.type, 'model', `${name}: ${JSON.stringify(answer)}`);
      assert.is(answer.name, name);
    }
  } finally {
    c.ws.close();
  }
});

test('unknown names and paths: the choices, no server paths, no advice to pass a path, no contradiction', async () => {
  const { c } = await helloClient(server.url);
  try {
    assert.is((await askModel(c, 'builtin')).name, 'builtin');
    for (const name of ['nosuch', folder, join('..', 'tiny'), 'tiny/']) {
      const answer = await askModel(c, name);
      assert.is(answer.type, 'error', `${name}: ${JSON.stringify(answer)}`);
      assert.is(answer.code, 'MODEL_NOT_FOUND');
      assert.is(answer.fatal, false);
      // The name the client sent comes back as it was sent; the rest must hold no server path.
      assert.not.match(answer.message.split(JSON.stringify(name)).join('"…"'), SERVER_PATH, answer.message);
      assert.not.match(answer.message, /pass a (bundle )?folder|folder path/i, answer.message);
      assert.match(answer.message, /keeping "builtin"/, answer.message);
    }
    const unknown = await askModel(c, 'nosuch');
    assert.match(unknown.message, /installed: tiny, other; also builtin/, unknown.message);
    // The session still has a voice and may go back to the folder's model.
    assert.is((await askModel(c, 'tiny')).type, 'model');
    const again = await askModel(c, 'nosuch');
    const named = /no model named '([^']+)'/.exec(again.message)?.[1];
    const kept = /keeping "([^"]+)"/.exec(again.message)?.[1];
    assert.is(kept, 'tiny', again.message);
    assert.is.not(named, kept, again.message);
  } finally {
    c.ws.close();
  }
});

test.run();
