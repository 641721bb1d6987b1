// Consensus clustering of speaker windows, and the speaker count of `--speakers auto`.
// A count K is labelled by ten clusterings that vote (consensusRuns / consensusLabels). With 'auto' each
// candidate K = 2..AUTO_MAX_SPEAKERS is labelled that way and judged by how its clusters behave in time:
// two real speakers take turns, so a window and the next one (overlapping, same speech region) almost
// always have the same speaker, while a voice split in two by what it says or how it says it flips
// between its halves inside a turn (turnSwitchRatio). The largest K whose clusters all take turns, and
// whose centroids are not one voice (SAME_SPEAKER_COSINE), wins; K = 1 when none does and the two clusters of
// K = 2 do not take turns either and sound like one voice: alike by cosine, or no further apart (splitFisherRatio)
// than a held-out training speaker's own halves (the projection's oneVoiceSplitFisher, by window count).
// Shapes: projected [window][outputDim], labels Int32Array [window].
import type { Cluster } from 'ml-hclust';
import { closestCentroidCosine, clusterEmbeddings, consensusLabels, kMeans, SAME_SPEAKER_COSINE, SPECTRAL_MAX_WINDOWS, speakerTree } from './cluster.js';
import { spectralDecomposition, spectralLabelsFrom, type SpectralDecomposition } from './spectral.js';
import { normalizeEmbeddings, type SpeakerProjection, type SpeakerWindow } from './embedding.js';

export interface ProjectedWindows {
  projection: SpeakerProjection;
  /** Each window through the projection, before centring and normalising. */
  projected: Float32Array[];
}

export interface ConsensusOptions {
  /** A speaker needs this share of the windows. */
  minShare: number;
  maxSpeakers: number;
}

/**
 * Cosine above which the two clusters of K = 2 may be one voice (with the turn test failing too): stricter than
 * SAME_SPEAKER_COSINE because calling a conversation one speaker costs half its speech. Calibration speakers
 * (LDAs retrained without them): real pairs up to 0.82 (ARCTIC clb + slt), one speaker's two halves 0.71–0.96
 * (those that also fail the turn test: 0.90 and above).
 */
export const ONE_VOICE_COSINE = 0.86;

/** Most speakers `auto` considers (the count rule was measured on 2, 3 and 4 speakers with candidates up to 6). */
export const AUTO_MAX_SPEAKERS = 6;

/**
 * The worst pair's switch ratio a speaker count may have (see turnSwitchRatio): 0 = the two clusters never
 * alternate inside a speech region, 1 = they alternate as often as a coin would. Chosen on the calibration
 * conversations of CMU ARCTIC / Kathleen speakers with LDAs retrained without them (docs/say-diarize.md,
 * session 6: best pooled DER at 0.18–0.20, the smaller kept), then checked on a second calibration set.
 */
export const MAX_TURN_SWITCH_RATIO = 0.18;

/**
 * N speakers by consensus of clusterings of the windows, five per projection: the tree + k-means clusterer
 * on the full embedding and on its first 8 and 12 LDA dimensions (the later ones carry little speaker
 * variance), and spectral clustering keeping 15 % and 25 % of the affinities (up to SPECTRAL_MAX_WINDOWS
 * windows). The projections: the shipped LDA and the one trained on speed-perturbed pseudo-speakers.
 * Chosen on calibration sets of other speakers (docs/say-diarize.md): the five members helped there and
 * on VCC 2016 4 speakers; the second projection's five lowered the 4-speaker calibration DER (5.5 -> 4.7 %
 * on 10 conversations) and VCTK 4 speakers (6.7 -> 5.2 %).
 * With exactly two speakers the embeddings are centred on the recording's mean first: the mean then lies
 * between the two voices, which point in opposite directions, and what every window shares (room,
 * microphone, the words' average) no longer pulls them together. Better on both calibration sets
 * (2 speakers: 3.4 -> 2.9 % on 10 conversations) and on the scored ones (VCC 2016 10.3 -> 5.9 %); with
 * more speakers the mean is no such midpoint and centring was measured worse (4 speakers 5.5 -> 9.6 %).
 */
export function consensusRuns(projections: readonly ProjectedWindows[], speakers: number, options: ConsensusOptions): Int32Array[] {
  return new ConsensusMembers(projections, options).runs(speakers);
}

/**
 * The ten members' views of one recording, prepared once: each member's embeddings (centred or not), its
 * agglomerative tree and the spectral decompositions (the O(n³) parts), so that several counts cost only
 * the cuts and k-means runs. `auto` asks for up to AUTO_MAX_SPEAKERS counts.
 */
class ConsensusMembers {
  /** Per centring, per projection: its views (full embedding first, then its first 8 and 12 dimensions). */
  private readonly views = new Map<boolean, View[][]>();

  constructor(
    private readonly projections: readonly ProjectedWindows[],
    private readonly options: ConsensusOptions,
  ) {}

  runs(speakers: number): Int32Array[] {
    const centre = speakers === 2;
    let views = this.views.get(centre);
    if (!views) {
      views = this.projections.map(({ projection, projected }) =>
        [projection.outputDim, ...[8, 12].filter((dims) => dims < projection.outputDim)].map((dims) => ({ embeddings: normalizeEmbeddings(projected, dims, centre), spectral: new Map() })),
      );
      this.views.set(centre, views);
    }
    const runs: Int32Array[] = [];
    for (const projectionViews of views) {
      for (const view of projectionViews) {
        if (view.embeddings.length > 1) view.tree ??= speakerTree(view.embeddings);
        runs.push(clusterEmbeddings(view.embeddings, { speakers, minShare: this.options.minShare }, view.tree));
      }
      const full = projectionViews[0]!;
      const n = full.embeddings.length;
      if (n > SPECTRAL_MAX_WINDOWS || n <= speakers) continue;
      for (const keep of [0.15, 0.25]) {
        let decomposition = full.spectral.get(keep);
        if (!decomposition) full.spectral.set(keep, (decomposition = spectralDecomposition(full.embeddings, keep, Math.max(speakers, this.options.maxSpeakers))));
        runs.push(spectralLabelsFrom(decomposition, speakers, kMeans));
      }
    }
    return runs;
  }
}

interface View {
  embeddings: Float32Array[];
  tree?: Cluster;
  spectral: Map<number, SpectralDecomposition>;
}

/** The consensus labels of `runs` (fewer groups than asked, a speaker below the minimum share, stays so). */
function labelsOf(runs: readonly Int32Array[]): Int32Array {
  return runs.length === 1 ? runs[0]! : consensusLabels(runs, Math.max(...runs[0]!) + 1);
}

/** Window labels for a given number of speakers. */
export function consensusClustering(projections: readonly ProjectedWindows[], speakers: number, options: ConsensusOptions): Int32Array {
  return labelsOf(consensusRuns(projections, speakers, options));
}

/**
 * How much the two most intermixed clusters of a labelling alternate in time, 0..~1: for each pair (a, b),
 * the share of neighbouring windows of one speech region (consecutive windows that overlap, both in a or b)
 * whose labels differ, over the share two labels drawn at random in the pair's proportions would differ
 * (2 p_a p_b). Two speakers change only at their turns (a few percent of the window pairs); one voice
 * split in two by its phones, words or loudness flips between the halves inside a turn. Window pairs across
 * a pause are not counted: a new turn may start there.
 */
export function turnSwitchRatio(labels: Int32Array, windows: readonly SpeakerWindow[]): number {
  const count = Math.max(-1, ...labels) + 1;
  if (count < 2) return 0;
  const sizes = new Float64Array(count);
  for (const l of labels) sizes[l]++;
  // pairs[a][b]: neighbouring pairs with labels in {a, b}; switches[a][b]: those with a on one side and b on the other.
  const pairs = Array.from({ length: count }, () => new Float64Array(count));
  const switches = Array.from({ length: count }, () => new Float64Array(count));
  for (let i = 1; i < labels.length; i++) {
    if (windows[i]!.startFrame >= windows[i - 1]!.endFrame) continue;
    const a = labels[i]!;
    const b = labels[i - 1]!;
    if (a !== b) {
      switches[a]![b]++;
      switches[b]![a]++;
      pairs[a]![b]++;
      pairs[b]![a]++;
    } else {
      for (let c = 0; c < count; c++) if (c !== a) { pairs[a]![c]++; pairs[c]![a]++; }
    }
  }
  let worst = 0;
  for (let a = 0; a < count; a++) {
    for (let b = a + 1; b < count; b++) {
      if (pairs[a]![b]! === 0) continue;
      const share = sizes[a]! / (sizes[a]! + sizes[b]!);
      worst = Math.max(worst, switches[a]![b]! / pairs[a]![b]! / (2 * share * (1 - share)));
    }
  }
  return worst;
}

/** Median of the members' switch ratios: one member's odd split does not decide. */
function medianSwitchRatio(runs: readonly Int32Array[], windows: readonly SpeakerWindow[]): number {
  const ratios = runs.map((r) => turnSwitchRatio(r, windows)).sort((a, b) => a - b);
  return ratios[Math.floor(ratios.length / 2)]!;
}

/**
 * `--speakers auto`: the count and its consensus labels. Every K from 2 to AUTO_MAX_SPEAKERS is clustered by
 * the consensus of the N-given path; K qualifies when the median member's turnSwitchRatio is at most
 * MAX_TURN_SWITCH_RATIO and no two of its consensus centroids are one voice (cosine above
 * SAME_SPEAKER_COSINE on the uncentred first projection). The largest qualifying K wins (K = 2 when none
 * does); K = 1 when no K >= 3 qualifies and the two clusters of K = 2 alternate inside turns and are alike:
 * cosine above ONE_VOICE_COSINE, or a splitFisherRatio within the first projection's oneVoiceLimit for this
 * many windows (session 7 of docs/say-diarize.md: calibration single speakers 3/6 -> 4/6, no pair merged) — unless a
 * K >= 3 alternates less than K = 2 and nearly passes (moreVoicesThanOne, session 8): then that K.
 * `embeddings`: the first projection's unit-length windows.
 */
export function autoConsensus(projections: readonly ProjectedWindows[], windows: readonly SpeakerWindow[], embeddings: readonly Float32Array[], options: ConsensusOptions): Int32Array {
  const members = new ConsensusMembers(projections, options);
  const twoRuns = members.runs(2);
  const two = labelsOf(twoRuns);
  const twoCount = Math.max(...two) + 1;
  if (twoCount < 2) return new Int32Array(windows.length);
  // Every K >= 3 once: its consensus labels, its members' median switch ratio, its closest centroid pair.
  const candidates: Array<CountCandidate & { labels: Int32Array }> = [];
  for (let k = 3; k <= Math.min(AUTO_MAX_SPEAKERS, options.maxSpeakers); k++) {
    const runs = members.runs(k);
    const labels = labelsOf(runs);
    if (Math.max(...labels) + 1 < k) continue;
    candidates.push({ speakers: k, labels, switchRatio: medianSwitchRatio(runs, windows), closestCosine: closestCentroidCosine(embeddings, labels, k).cosine });
  }
  const passing = candidates.filter((c) => c.switchRatio <= MAX_TURN_SWITCH_RATIO && c.closestCosine <= SAME_SPEAKER_COSINE);
  if (passing.length > 0) return passing[passing.length - 1]!.labels;
  // One voice when the halves alternate inside turns and either sound alike or are no further apart than the
  // halves of a held-out training speaker's own windows (as many of them as here).
  const twoSwitch = medianSwitchRatio(twoRuns, windows);
  if (twoSwitch <= MAX_TURN_SWITCH_RATIO) return two;
  const { projection, projected } = projections[0]!;
  const limit = oneVoiceLimit(projection, windows.length);
  const alike = closestCentroidCosine(embeddings, two, twoCount).cosine > ONE_VOICE_COSINE || splitFisherRatio(projected, two) <= limit;
  if (!alike) return two;
  const more = moreVoicesThanOne(twoSwitch, candidates);
  return more ? candidates.find((c) => c.speakers === more)!.labels : new Int32Array(windows.length);
}

/** A speaker count `auto` considers: its members' median turnSwitchRatio and its closest pair of centroids (cosine). */
export interface CountCandidate {
  speakers: number;
  switchRatio: number;
  closestCosine: number;
}

/**
 * Switch ratio up to which a count that alternates less than two clusters do is taken over one voice (1.25 ×
 * MAX_TURN_SWITCH_RATIO). Splitting one voice into more clusters makes them alternate more; splitting several
 * voices along the right lines makes them alternate less. Calibration (docs/say-diarize.md, session 8): three
 * women (ARCTIC clb, slt, Kathleen, LDAs without them) whose K = 3 nearly passed (0.19, K = 2 0.22) were called
 * one voice (DER 63 %, 3.1 % with this rule); the one-voice recordings this rule could touch stay above it
 * (Kathleen alone: K = 3..6 at 0.29–0.34 against K = 2's 0.33), and no other calibration or scored recording changed.
 */
export const NEAR_PASS_SWITCH_RATIO = 0.225;

/**
 * When `auto` would call a recording one voice (its two-way split alternates at `twoSwitchRatio` and looks like one
 * voice's halves): the count with the lowest switch ratio below both twoSwitchRatio and NEAR_PASS_SWITCH_RATIO whose
 * centroids are not one voice (cosine ≤ SAME_SPEAKER_COSINE), or undefined (one voice it is).
 */
export function moreVoicesThanOne(twoSwitchRatio: number, candidates: readonly CountCandidate[]): number | undefined {
  let best: CountCandidate | undefined;
  for (const c of candidates) {
    if (c.switchRatio >= twoSwitchRatio || c.switchRatio > NEAR_PASS_SWITCH_RATIO || c.closestCosine > SAME_SPEAKER_COSINE) continue;
    if (!best || c.switchRatio < best.switchRatio) best = c;
  }
  return best?.speakers;
}

/** The projection's one-voice splitFisherRatio limit for `count` windows, interpolated (0, no test, when not calibrated). */
export function oneVoiceLimit(projection: SpeakerProjection, count: number): number {
  const table = projection.oneVoiceSplitFisher;
  if (!table || table.windows.length === 0 || table.windows.length !== table.limit.length) return 0;
  const { windows, limit } = table;
  if (count <= windows[0]!) return limit[0]!;
  for (let i = 1; i < windows.length; i++) {
    if (count <= windows[i]!) return limit[i - 1]! + ((limit[i]! - limit[i - 1]!) * (count - windows[i - 1]!)) / (windows[i]! - windows[i - 1]!);
  }
  return limit[limit.length - 1]!;
}

/**
 * How far apart the two groups of a split are along the line through their means, in units of the groups'
 * own spread along that line: |m_a − m_b|² / (pooled within-group variance along m_a − m_b). A split of one
 * voice (by sentences, loudness, phones) cuts a single cloud: the halves touch (about 7 for a Gaussian; 6–13
 * for held-out training speakers over all their windows, more with fewer windows); two voices are two clouds
 * (20 and more for the calibration pairs). Labels other than 0 and 1 are ignored. Shapes: projected [window][dims].
 */
export function splitFisherRatio(projected: readonly Float32Array[], labels: Int32Array): number {
  const dims = projected[0]?.length ?? 0;
  const means = [new Float64Array(dims), new Float64Array(dims)];
  const sizes = [0, 0];
  projected.forEach((y, i) => {
    const l = labels[i]!;
    if (l > 1) return;
    sizes[l]++;
    for (let k = 0; k < dims; k++) means[l]![k] += y[k]!;
  });
  if (!sizes[0] || !sizes[1]) return 0;
  for (const l of [0, 1]) for (let k = 0; k < dims; k++) means[l]![k] /= sizes[l]!;
  const delta = means[0]!.map((m, k) => m - means[1]![k]!);
  const distance = Math.hypot(...delta);
  if (distance === 0) return 0;
  let along = 0;
  projected.forEach((y, i) => {
    const l = labels[i]!;
    if (l > 1) return;
    let t = 0;
    for (let k = 0; k < dims; k++) t += ((y[k]! - means[l]![k]!) * delta[k]!) / distance;
    along += t * t;
  });
  along /= sizes[0]! + sizes[1]!;
  return along > 0 ? (distance * distance) / along : Infinity;
}
