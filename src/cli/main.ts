// The `svc` command. Each file in ./commands exports `register(program)` and adds one subcommand;
// main discovers them, so subcommands stay independent of each other.
import { Command, CommanderError } from 'commander';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { errorMessage, isSvcError } from '../errors.js';
import { repoRoot } from '../paths.js';

export interface CommandModule {
  register(program: Command): void;
}

async function loadCommands(program: Command): Promise<void> {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
  const files = readdirSync(dir)
    .filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
    .sort();
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as Partial<CommandModule>;
    if (typeof mod.register === 'function') mod.register(program);
  }
}

export async function main(argv: string[]): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const program = new Command('svc')
    .description('Streaming, real-time voice changer: live conversion over WebSocket, file conversion, datasets and training')
    .version(pkg.version)
    .showHelpAfterError()
    .exitOverride();
  await loadCommands(program);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    console.error(`svc: ${errorMessage(error)}`);
    if (!isSvcError(error) && process.env.SVC_DEBUG) console.error(error);
    process.exitCode = isSvcError(error) ? 1 : 70;
  }
}

await main(process.argv);
