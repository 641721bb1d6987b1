// `svc serve`: the streaming voice-changer server (WebSocket protocol v1 on /ws, /metrics, the web
// client on /). Runs until SIGINT/SIGTERM, then closes every session cleanly.
import { Command, Option } from 'commander';
import { availableParallelism } from 'node:os';
import { SvcError, ioError } from '../../errors.js';
import { BEHIND_POLICIES, DEFAULT_BEHIND_POLICY, type BehindPolicy } from '../../engine/pipeline.js';
import { PROTOCOL_LIMITS } from '../../stream/protocol.js';
import { isLoopbackHost } from '../../server/access.js';
import { loadBuiltinStageFactory, startServer } from '../../server/server.js';
import { F0_CHOICES, type F0Choice } from '../../dsp/f0/index.js';
import type { OnnxProvider } from '../../onnx/session.js';
import { modelDisplayName } from '../../voices/registry.js';
import { serverModelOptions } from '../../server/models.js';
import { MODEL_PRECISIONS, type ModelPrecision } from '../../voices/sovits/model.js';
import { ModelWorkers } from '../../voices/worker/model-host.js';
import { numberArg, rightContextFramesOption } from '../options.js';

interface ServeOptions {
  host: string;
  port: number;
  token?: string;
  allowOrigin?: string[];
  allowHost?: string[];
  trustProxy?: string[];
  maxListeners: number;
  helloTimeoutS: number;
  maxAudioSpeed: number;
  dspWorkers: number;
  blockMs?: number;
  maxSessions: number;
  idleTimeoutS: number;
  policy: BehindPolicy;
  maxQueueMs?: number;
  maxFrameBytes: number;
  maxMessagesPerSecond: number;
  crossfadeMs: number;
  searchMs?: number;
  contextMs: number;
  quiet: boolean;
  model?: string;
  speaker?: string;
  f0?: string;
  provider?: string;
  threads?: number;
  indexRate?: number;
  protect?: number;
  rmsMixRate?: number;
  clusterRatio?: number;
  precision?: string;
  rightContextFrames?: number;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('Run the real-time voice-changer server: WebSocket streaming on ws://HOST:PORT/ws (protocol v1, docs/protocol.md), Prometheus metrics on /metrics, the voices clients may choose on /api/models, the browser client on / and the OBS page on /obs')
    .option('--host <address>', 'interface to listen on; without --token only loopback addresses (127.0.0.1, ::1, localhost) are allowed; 0.0.0.0 exposes the server to the network and needs --token', '127.0.0.1')
    .option('--port <number>', 'TCP port (0 = any free port)', numberArg('--port', { min: 0, max: 65535, integer: true }), 8080)
    .option('--token <secret>', 'require this token from clients (?token=SECRET in the URL or "token" in hello); default: no token. Also read from SVC_TOKEN')
    .option('--allow-host <name...>', 'without --token the server answers only requests whose Host is a loopback name (DNS-rebinding protection); also answer these host names, e.g. my-pc.local')
    .option('--trust-proxy <cidr...>', 'reverse proxies (CIDR blocks, addresses, or "loopback") whose X-Forwarded-For names the client, so per-address limits count clients and not the proxy; others\' X-Forwarded-For is ignored')
    .option('--allow-origin <origin...>', 'browser origins allowed to connect besides the server\'s own pages, e.g. https://example.org; "*" allows any (clients without an Origin header are always allowed)')
    .option('--block-ms <ms>', `block length for clients that do not choose one, for every voice, in ms (${PROTOCOL_LIMITS.blockMs.min}-${PROTOCOL_LIMITS.blockMs.max}); smaller = lower latency, more CPU. Default: 20 for the built-in voice; for a model the smallest block it converts in time here, measured when it loads`, numberArg('--block-ms', { min: PROTOCOL_LIMITS.blockMs.min, max: PROTOCOL_LIMITS.blockMs.max }))
    .option('--max-sessions <n>', 'most concurrent sessions (converting clients + listeners); more are refused with TOO_MANY_SESSIONS', numberArg('--max-sessions', { min: 1, max: 10000, integer: true }), 64)
    .option('--dsp-workers <n|auto>', 'worker threads running the built-in voice of every session (0 = on the main thread, auto = one per core); on a machine with cores to spare, one per core serves more sessions (npm run bench -- --only server)', (raw: string) => (raw === 'auto' ? availableParallelism() : numberArg('--dsp-workers', { min: 0, max: 256, integer: true })(raw)), 0)
    .option('--max-listeners <n>', 'most listeners following one session', numberArg('--max-listeners', { min: 0, max: 10000, integer: true }), 8)
    .option('--hello-timeout-s <seconds>', 'close a connection that has not sent its hello this long after connecting, in seconds', numberArg('--hello-timeout-s', { min: 1, max: 3600 }), 10)
    .option('--max-audio-speed <x>', 'audio a client may send, as a multiple of real time (after a 10 s burst); frames beyond are dropped with RATE_LIMITED', numberArg('--max-audio-speed', { min: 1, max: 1000 }), 1.5)
    .option('--idle-timeout-s <seconds>', 'close a client that sends nothing for this long, in seconds (listeners excepted)', numberArg('--idle-timeout-s', { min: 1, max: 86400 }), 30)
    .addOption(
      new Option('--policy <policy>', 'what to do with input when conversion falls behind real time: silence = output silence (never the real voice), skip = drop it, dry = pass it through unconverted (your own voice is heard)')
        .choices([...BEHIND_POLICIES])
        .default(DEFAULT_BEHIND_POLICY),
    )
    .option('--max-queue-ms <ms>', 'input queued per session beyond which --policy applies, in ms (default: the larger of 4 blocks and 200 ms)', numberArg('--max-queue-ms', { min: 20, max: 10000 }))
    .option('--max-frame-bytes <bytes>', 'largest binary audio frame a client may send, in bytes', numberArg('--max-frame-bytes', { min: 1024, max: 16 * 1024 * 1024, integer: true }), 262144)
    .option('--max-messages-per-second <n>', 'messages per second a client may send before they are dropped with RATE_LIMITED', numberArg('--max-messages-per-second', { min: 10, max: 100000, integer: true }), 1000)
    .option('--crossfade-ms <ms>', 'SOLA crossfade between blocks of stateless (neural) models, in ms; the built-in DSP voice streams without one', numberArg('--crossfade-ms', { min: 0, max: 100 }), 10)
    .option('--search-ms <ms>', 'SOLA search window for the best-matching splice point (stateless models), in ms; adds half of it to the latency. Default: 0 for models whose windows agree in phase (svc exports), else 10', numberArg('--search-ms', { min: 0, max: 50 }))
    .option('--context-ms <ms>', 'extra past audio given to stateless models with every block, in ms (more context = steadier output, more compute)', numberArg('--context-ms', { min: 0, max: 5000 }), 0)
    .option('--quiet', 'do not log session starts and ends', false)
    .option('--model <name|path>', 'default voice for new sessions: an installed So-VITS or RVC model (`svc models`) or a bundle folder (default: the built-in DSP voice). Clients switch with {"type":"model","name":"NAME"} to any installed model, NAME:SPEAKER, or "builtin"')
    .option('--speaker <name|id>', 'speaker of --model (default: its first speaker)')
    .addOption(new Option('--f0 <method>', 'f0 estimator of model voices, in its low-latency mode: dsp = YIN (70 ms look-ahead, no model), swift/hybrid (115 ms), crepe (40 ms, most compute)').choices([...F0_CHOICES]).default('dsp'))
    .addOption(new Option('--provider <name>', 'ONNX execution provider for model voices (auto: best available, falls back to cpu)').choices(['cpu', 'cuda', 'coreml', 'auto']).default('cpu'))
    .option('--index-rate <r>', 'RVC voices: share of features retrieved from the model\'s .index, 0..1 (default 0.75; clients change it with set {"indexRate"})', numberArg('--index-rate', { min: 0, max: 1 }))
    .option('--protect <p>', 'RVC voices: consonant protection 0..0.5 (default 0.33; 0.5 = off; set {"protect"})', numberArg('--protect', { min: 0, max: 0.5 }))
    .option('--rms-mix-rate <r>', 'RVC voices: 1 keeps the model\'s loudness envelope, 0 takes the input\'s (default 0.25)', numberArg('--rms-mix-rate', { min: 0, max: 1 }))
    .option('--cluster-ratio <r>', 'so-vits-svc cluster_infer_ratio for model voices that have a kmeans cluster model or a feature index (imported with --cluster, or svc train-index --bundle), 0..1', numberArg('--cluster-ratio', { min: 0, max: 1 }))
    .addOption(rightContextFramesOption())
    .option('--threads <n>', 'ONNX threads per operator for model voices (default: 1 for small models such as the tiny reference, else up to 2)', numberArg('--threads', { min: 1, max: 256, integer: true }))
    .addOption(new Option('--precision <p>', 'graphs model voices run: int8 (quantized, ~2.5x less CPU), float32, or auto = int8 when the bundle has it and the provider is cpu').choices([...MODEL_PRECISIONS]).default('auto'))
    .action(async (options: ServeOptions) => {
      const token = options.token ?? process.env.SVC_TOKEN;
      if (token !== undefined && token.length === 0) throw new SvcError('INVALID_ARGUMENT', '--token is empty', { hint: 'give a non-empty secret or leave --token out' });
      if (token === undefined && !isLoopbackHost(options.host)) {
        throw new SvcError('INVALID_ARGUMENT', `without --token svc serve listens on this machine only (127.0.0.1, ::1, localhost), not ${options.host}`, {
          hint: 'set --token SECRET (or SVC_TOKEN) to serve other machines: anyone who can reach the port could otherwise listen to every session',
        });
      }
      const log = options.quiet ? undefined : (line: string) => console.error(`svc: ${line}`);
      // Model voices: each bundle loaded once, on its own worker thread that also runs the stages of every
      // session using it (src/voices/worker/model-host.ts), so a load never stalls other sessions; a bad
      // --model fails here, before listening.
      const models = new ModelWorkers({ builtin: loadBuiltinStageFactory, f0Method: options.f0 as F0Choice, provider: options.provider as OnnxProvider, intraOpThreads: options.threads, clusterRatio: options.clusterRatio, precision: options.precision as ModelPrecision, rightContextFrames: options.rightContextFrames, log,
        rvc: { indexRate: options.indexRate, protect: options.protect, rmsMixRate: options.rmsMixRate } });
      const stageFactory = options.model === undefined ? undefined : await models.defaultFactory(options.model, options.speaker);
      const modelName = options.model === undefined ? undefined : modelDisplayName(options.model) + (options.speaker === undefined ? '' : `:${options.speaker}`);
      let server;
      try {
        server = await startServer({
          stageFactory,
          modelName,
          ...serverModelOptions(models),
          host: options.host,
          port: options.port,
          token,
          allowOrigins: options.allowOrigin,
          allowHosts: options.allowHost,
          trustProxy: options.trustProxy,
          maxListenersPerSession: options.maxListeners,
          helloTimeoutS: options.helloTimeoutS,
          maxAudioSpeed: options.maxAudioSpeed,
          dspWorkers: options.dspWorkers,
          blockMs: options.blockMs,
          maxSessions: options.maxSessions,
          idleTimeoutS: options.idleTimeoutS,
          policy: options.policy,
          maxQueueMs: options.maxQueueMs,
          maxFrameBytes: options.maxFrameBytes,
          maxMessagesPerSecond: options.maxMessagesPerSecond,
          crossfadeMs: options.crossfadeMs,
          searchMs: options.searchMs,
          extraContextMs: options.contextMs,
          log,
        });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        await models.close();
        if (code === 'EADDRINUSE') throw ioError(error, `port ${options.port} on ${options.host}`, 'listen');
        if (code === 'EACCES') throw new SvcError('PERMISSION_DENIED', `cannot listen on ${options.host}:${options.port}: permission denied`, { hint: 'use a port above 1023' });
        if (code === 'EADDRNOTAVAIL') throw new SvcError('INVALID_ARGUMENT', `cannot listen on ${options.host}:${options.port} (${code})`, { hint: 'use an address of this machine' });
        throw error;
      }
      console.log(`svc: listening on ${server.url} (voice: ${modelName === undefined ? 'built-in DSP' : `model ${modelName}`})`);
      console.log(`svc: WebSocket ${server.url.replace(/^http/, 'ws')}/ws, metrics ${server.url}/metrics, OBS page ${server.url}/obs`);
      await new Promise<void>((resolvePromise) => {
        const stop = (signal: string) => {
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
          console.error(`svc: ${signal}: closing sessions`);
          void server.close().then(resolvePromise, resolvePromise);
        };
        const onInt = () => stop('SIGINT');
        const onTerm = () => stop('SIGTERM');
        process.on('SIGINT', onInt);
        process.on('SIGTERM', onTerm);
      });
      await models.close();
      console.error('svc: stopped');
    });
}
