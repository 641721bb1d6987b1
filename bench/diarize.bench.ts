// Diarization error rate and speed of `svc diarize` on conversations assembled from speakers the
// speaker projection was NOT trained on (VCTK p225–p228, VCC 2016 SF1/SM1/TF1/TM1): 2 and 4
// speakers, turns of 1–10 s, gaps up to 1 s, 20 % of speaker changes overlapping by 0.2–0.8 s.
// DER as md-eval defines it (missed + false alarm + confusion over reference speech, overlap
// included, 0.25 s collar), with the speaker count given and with 'auto' (and how often 'auto' finds the
// true count). Speed: audio seconds
// per processing second for the whole pipeline (VAD, features, clustering, resegmentation).
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { diarizationErrorRate, diarize, SileroVad } from '../src/diarize/index.js';
import { buildConversation, speakerFiles, type SpeakerSource } from './conversations.js';
import type { BenchContext, BenchRow } from './lib.js';

export interface DiarizeCase {
  label: string;
  speakers: SpeakerSource[];
  turns: number;
  seed: number;
}

/** The evaluation conversations: for each corpus, 2-speaker pairs and one 4-speaker set, 3 seeds. */
export function evaluationCases(sharedDir: string, seeds = [1, 2, 3]): DiarizeCase[] {
  const vctk = join(sharedDir, 'speech', 'vctk_autovc_16k');
  const vcc = join(sharedDir, 'speech', 'vcc2016_16k');
  const corpora: Array<{ corpus: string; speakers: SpeakerSource[]; pairs: Array<[number, number]> }> = [
    { corpus: 'VCTK', speakers: ['p225', 'p226', 'p227', 'p228'].map((n) => ({ name: n, files: speakerFiles(join(vctk, n)) })), pairs: [[0, 1], [1, 2], [0, 3]] },
    { corpus: 'VCC2016', speakers: ['SF1', 'SM1', 'TF1', 'TM1'].map((n) => ({ name: n, files: speakerFiles(join(vcc, n)) })), pairs: [[0, 2], [1, 3], [0, 1]] },
  ];
  const cases: DiarizeCase[] = [];
  for (const { corpus, speakers, pairs } of corpora) {
    pairs.forEach(([a, b], i) => cases.push({ label: `${corpus} 2 speakers`, speakers: [speakers[a]!, speakers[b]!], turns: 16, seed: seeds[i % seeds.length]! }));
    for (const seed of seeds) cases.push({ label: `${corpus} 4 speakers`, speakers, turns: 24, seed });
  }
  return cases;
}

export interface CaseScore {
  label: string;
  speakerCount: number;
  audioSeconds: number;
  processingMs: number;
  /** CPU time of this process (all its threads) for the same call: what the pipeline costs, whatever else the machine runs. */
  cpuMs: number;
  /** The same for the `auto` call (it clusters every candidate count). */
  autoCpuMs: number;
  der: number;
  derAuto: number;
  speakersFoundAuto: number;
  overlapShare: number;
  missed: number;
  falseAlarm: number;
  confusion: number;
  referenceSeconds: number;
}

export async function scoreCases(cases: readonly DiarizeCase[], log: (m: string) => void = () => {}): Promise<CaseScore[]> {
  const vad = await SileroVad.load();
  const scores: CaseScore[] = [];
  try {
    for (const c of cases) {
      const conversation = await buildConversation(c.speakers, { turns: c.turns, seed: c.seed });
      const audio = { samples: conversation.samples, sampleRate: conversation.sampleRate };
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const given = await diarize(audio, { speakers: c.speakers.length, vadModel: vad });
      const processingMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const autoCpu0 = process.cpuUsage();
      const auto = await diarize(audio, { speakers: 'auto', vadModel: vad });
      const autoCpu = process.cpuUsage(autoCpu0);
      const d = diarizationErrorRate(conversation.reference, given.turns, 0.25);
      const da = diarizationErrorRate(conversation.reference, auto.turns, 0.25);
      const audioSeconds = conversation.samples.length / conversation.sampleRate;
      const speech = conversation.reference.reduce((s, t) => s + t.endSeconds - t.startSeconds, 0);
      scores.push({
        label: c.label, speakerCount: c.speakers.length, audioSeconds, processingMs, cpuMs, autoCpuMs: (autoCpu.user + autoCpu.system) / 1000, der: d.der, derAuto: da.der, speakersFoundAuto: auto.speakers.length,
        overlapShare: conversation.overlapSeconds / speech, missed: d.missedSeconds, falseAlarm: d.falseAlarmSeconds, confusion: d.confusionSeconds, referenceSeconds: d.referenceSeconds,
      });
      log(`${c.label} seed ${c.seed}: ${audioSeconds.toFixed(0)} s, DER ${(d.der * 100).toFixed(1)} % (miss ${d.missedSeconds.toFixed(1)} fa ${d.falseAlarmSeconds.toFixed(1)} conf ${d.confusionSeconds.toFixed(1)} s), auto ${(da.der * 100).toFixed(1)} % with ${auto.speakers.length} speakers, ${(audioSeconds / (processingMs / 1000)).toFixed(0)}x real time`);
    }
  } finally {
    await vad.dispose();
  }
  return scores;
}

/** Pooled DER (total errors / total reference speech), as md-eval reports a corpus. */
function pooled(scores: readonly CaseScore[], key: 'der' | 'derAuto'): number {
  const total = scores.reduce((s, x) => s + x.referenceSeconds, 0);
  return scores.reduce((s, x) => s + x[key] * x.referenceSeconds, 0) / total;
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const cases = evaluationCases(ctx.sharedDataDir, ctx.quick ? [1] : [1, 2, 3]).filter((c, i, all) => !ctx.quick || all.findIndex((x) => x.label === c.label) === i);
  const scores = await scoreCases(cases, (m) => ctx.log(`diarize: ${m}`));
  const rows: BenchRow[] = [];
  for (const label of [...new Set(scores.map((s) => s.label))]) {
    const group = scores.filter((s) => s.label === label);
    const seconds = group.reduce((s, x) => s + x.audioSeconds, 0);
    const overlap = group.reduce((s, x) => s + x.overlapShare, 0) / group.length;
    const found = group.map((s) => s.speakersFoundAuto).join('/');
    rows.push({ group: 'diarize', name: `DER ${label} (N given)`, value: pooled(group, 'der') * 100, unit: '%', note: `${group.length} conversations, ${seconds.toFixed(0)} s, ${(overlap * 100).toFixed(1)} % overlapped speech, 0.25 s collar` });
    rows.push({ group: 'diarize', name: `DER ${label} (auto)`, value: pooled(group, 'derAuto') * 100, unit: '%', note: `speakers found: ${found}` });
    const right = group.filter((s) => s.speakersFoundAuto === s.speakerCount).length;
    rows.push({ group: 'diarize', name: `auto speaker count right, ${label}`, value: (right / group.length) * 100, unit: '%', note: `${right} of ${group.length} conversations (found ${found}, true ${group[0]!.speakerCount})` });
  }
  const seconds = scores.reduce((s, x) => s + x.audioSeconds, 0);
  const ms = scores.reduce((s, x) => s + x.processingMs, 0);
  const cpuMs = scores.reduce((s, x) => s + x.cpuMs, 0);
  const autoCpuMs = scores.reduce((s, x) => s + x.autoCpuMs, 0);
  const load = loadavg()[0]!.toFixed(1);
  rows.push({ group: 'diarize', name: 'speed (whole pipeline)', value: seconds / (ms / 1000), unit: 'x real time', note: `${seconds.toFixed(0)} s of audio, 16 kHz, one process, wall clock; load average ${load} at the end` });
  rows.push({ group: 'diarize', name: 'speed per CPU second (whole pipeline)', value: seconds / (cpuMs / 1000), unit: 'x (audio s / CPU s)', note: 'process CPU time, all threads: what the wall-clock figure is on an idle core (a lower bound with more cores), far less sensitive to other jobs than wall time' });
  rows.push({ group: 'diarize', name: 'speed per CPU second, --speakers auto (whole pipeline)', value: seconds / (autoCpuMs / 1000), unit: 'x (audio s / CPU s)', note: 'the default: the same pipeline, every candidate count from 2 to 6 clustered by the consensus' });
  return rows;
}
