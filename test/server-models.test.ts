// Hostile model requests (issue 16, findings 2 and 5) against a real server with real bundles (the tiny
// reference, built by `svc make-reference`): a bundle with a truncated encoder asked for twenty times is
// loaded once (failures are remembered until the bundle changes on disk, then it loads again); one
// client's burst of switches is rate-limited; names resolve only inside the model folders (not the
// working folder, not paths); a manifest cannot point outside its bundle; errors carry no server paths.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeReference } from '../src/voices/sovits/bundle.js';
import { loadBuiltinStageFactory, startServer, type SvcServer } from '../src/server/server.js';
import { ModelWorkers } from '../src/voices/worker/model-host.js';
import type { StageFactory } from '../src/voices/stage.js';
import { makeTempDir, useModelsDir } from './helpers/index.js';
import { askModel, helloClient, type RawClient } from './stream-utils.js';

const temp = makeTempDir('svc-server-models-');
const root = join(temp.dir, 'models');
let restoreModelsDir: (() => void) | undefined;
let models: ModelWorkers;
let server: SvcServer;
let resolverCalls: string[] = [];

/** A server path in a client-facing text: an absolute path with at least one folder. */
const SERVER_PATH = /(^|[\s'"(=])\/[\w.-]+\//;

function copyBundle(from: string, name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const file of readdirSync(from)) copyFileSync(join(from, file), join(dir, file));
  return dir;
}

test.before(async () => {
  const tiny = join(temp.dir, 'tiny-src');
  await makeReference('tiny', tiny, { seed: 7 });
  copyBundle(tiny, 'tiny');
  const truncated = copyBundle(tiny, 'truncated');
  const manifest = JSON.parse(readFileSync(join(truncated, 'manifest.json'), 'utf8'));
  const encoderFile = manifest.encoder?.file ?? manifest.generator.file;
  truncateSync(join(truncated, encoderFile), 100);
  const escape = copyBundle(tiny, 'escape');
  writeFileSync(join(escape, 'manifest.json'), JSON.stringify({ ...manifest, generator: { ...manifest.generator, file: '../../../../../../../etc/passwd' } }));
  // A bundle-looking folder in the working folder: not installed, so never a model name.
  copyBundle(tiny, join('..', 'cwd', 'cwdbundle'));
  restoreModelsDir = useModelsDir(root);
  models = new ModelWorkers({ builtin: loadBuiltinStageFactory, f0Method: 'dsp' });
  const resolveModel = (name: string): Promise<StageFactory> => {
    resolverCalls.push(name);
    return models.resolve(name);
  };
  server = await startServer({ port: 0, resolveModel });
});

test.after(async () => {
  await server?.close();
  await models?.close();
  restoreModelsDir?.();
  temp.cleanup();
});

async function converting(): Promise<RawClient> {
  return (await helloClient(server.url)).c;
}

test('2: a truncated bundle asked for twenty times by four clients is loaded once, and again once fixed', async () => {
  const clients = await Promise.all([0, 1, 2, 3].map(() => converting()));
  try {
    resolverCalls = [];
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(clients.map((c) => askModel(c, 'truncated')));
      for (const a of answers) {
        assert.is(a.type, 'error');
        assert.is(a.code, 'MODEL_NOT_FOUND');
        assert.is(a.fatal, false);
        assert.match(a.message, /keeping "builtin"/);
        assert.not.match(a.message, SERVER_PATH, a.message);
      }
    }
    assert.equal(resolverCalls, ['truncated'], 'one load for twenty requests');
    // The bundle is repaired on disk: the next request loads it again, and it works.
    copyBundle(join(temp.dir, 'tiny-src'), 'truncated');
    const fixed = await askModel(clients[0], 'truncated');
    assert.is(fixed.type, 'model', JSON.stringify(fixed));
    assert.is(fixed.name, 'truncated');
    assert.equal(resolverCalls, ['truncated', 'truncated']);
  } finally {
    for (const c of clients) c.ws.close();
  }
});

test('2: one client\'s burst of switches: one at a time, then RATE_LIMITED, and the session stays', async () => {
  const c = await converting();
  try {
    const before = c.messages.length;
    for (let i = 0; i < 12; i++) c.sendJson({ type: 'model', name: i % 2 ? 'tiny' : 'builtin' });
    for (let i = 0; i < 600 && c.messages.slice(before).filter((m) => m.type === 'model' || m.type === 'error').length < 12; i++) await new Promise((r) => setTimeout(r, 50));
    const answers = c.messages.slice(before).filter((m) => m.type === 'model' || m.type === 'error');
    assert.is(answers.length, 12, 'every request answered');
    const limited = answers.filter((m) => m.code === 'RATE_LIMITED');
    assert.ok(limited.length >= 3, `${limited.length} of 12 rate-limited`);
    assert.ok(limited.every((m) => m.fatal === false));
    c.sendJson({ type: 'ping', t: 1 });
    assert.is((await c.next('pong')).t, 1);
  } finally {
    c.ws.close();
  }
});

test('5: names resolve only inside the model folders; manifests stay inside their bundle; no server paths', async () => {
  let c = await converting();
  const cwd = process.cwd();
  try {
    process.chdir(join(temp.dir, 'cwd')); // where "cwdbundle" is a bundle folder
    for (const name of ['cwdbundle', 'src', 'node_modules', '../models/tiny', '/etc', 'tiny/../tiny']) {
      const answer = await askModel(c, name);
      assert.is(answer.code, 'MODEL_NOT_FOUND', `${name}: ${JSON.stringify(answer)}`);
      assert.not.match(answer.message, SERVER_PATH, answer.message);
    }
    process.chdir(cwd); // the repository: src and node_modules are folders here
    c.ws.close();
    c = await converting(); // a fresh client: the first made 6 switches of its 8
    for (const name of ['src', 'node_modules']) assert.match((await askModel(c, name)).message, /no model named/);
    const escape = await askModel(c, 'escape');
    assert.is(escape.code, 'MODEL_NOT_FOUND');
    assert.match(escape.message, /MODEL_INVALID.*points outside the bundle/);
    assert.not.match(escape.message, SERVER_PATH, escape.message);
    const good = await askModel(c, 'tiny');
    assert.is(good.type, 'model', JSON.stringify(good));
  } finally {
    process.chdir(cwd);
    c.ws.close();
  }
});

test.run();
