"""Where a new voice starts when fine-tuning from a multi-speaker base: the base speaker that sounds
closest to it.

A base's speaker table (emb_g) holds one trained row per base speaker; a fine-tune's speaker ids
are its own (0, 1, ...), so without a choice the new voice simply inherits whichever base speaker
had the same id (in the small base, id 0 is a male CMU ARCTIC speaker: a female target started
as him and 150 steps did not undo it). Instead each new speaker starts from the base speaker whose
conversion of the new speaker's own clips (content, f0, volume -> the inference path, no noise) is
closest in log-mel L1 to the real clips, and the fine-tune's steps go to the remaining difference.
Measured with the shipped base (step 2000): the base's own speakers are told apart clearly (six
slt clips under another name pick slt, L1 0.809 against 0.856 for the next); for unseen VCC 2016
speakers the closest distances are nearly equal (TF1, a woman: ls1688, a man, 0.947; p259 0.955; p244 0.959): the
base's speaker conditioning moves its output little yet, so for new voices the choice is close to
arbitrary until the base trains longer. A speaker the base already knows by name (more
training on one of its voices) starts from that speaker's row."""
import torch

from .data import spectrogram

CLIPS_PER_SPEAKER = 6  # enough clips to average out sentence content; 28 candidates x 6 clips ~ 10-30 s on one core
MAX_FRAMES = 150  # 3 s at 16 kHz / hop 320


@torch.no_grad()
def closest_base_speaker(net_g, clips, candidates, mel, data):
    """clips: Dataset clips of one new speaker; candidates: {name: base row}. Returns (name,
    {name: mean log-mel L1})."""
    hop = data["hop_length"]
    device = next(net_g.parameters()).device
    distances = {name: 0.0 for name in candidates}
    for clip in clips[:CLIPS_PER_SPEAKER]:
        frames = min(len(clip["f0"]), MAX_FRAMES)
        c = torch.from_numpy(clip["content"][:frames].T.copy())[None].to(device)  # [1, D, T]
        f0, uv, vol = (torch.from_numpy(clip[key][:frames].copy())[None].to(device) for key in ("f0", "uv", "vol"))
        audio = torch.from_numpy(clip["audio"][: frames * hop].copy())[None].to(device)
        real = mel(spectrogram(audio, data["filter_length"], hop, data["win_length"]))
        noise = torch.zeros(1, net_g.inter_channels, frames, device=device)
        for name, row in candidates.items():
            converted, _ = net_g.infer(c, f0, uv, torch.tensor([row], device=device), vol=vol, noise=noise)
            fake = mel(spectrogram(converted[:, 0, : frames * hop], data["filter_length"], hop, data["win_length"]))
            distances[name] += float(torch.mean(torch.abs(fake - real))) / min(len(clips), CLIPS_PER_SPEAKER)
    return min(distances, key=distances.get), distances


def start_new_voices(net_g, base_speakers, manifest, train_set, mel, data):
    """Copies into each dataset speaker's row of emb_g the base's row of the same name, or else the
    closest base speaker's row. Only when the base knows two or more speakers (with one, there
    is nothing to choose). Returns report lines."""
    if not base_speakers or len(base_speakers) < 2:
        return []
    was_training = net_g.training
    net_g.eval()
    lines = []
    try:
        rows = net_g.emb_g.weight.data
        base_rows = {name: row for name, row in base_speakers.items() if row < rows.shape[0]}
        chosen = {}
        for name, sid in manifest["speakers"].items():
            if name in base_rows:  # a voice the base knows: more training on it
                chosen[sid] = rows[base_rows[name]].clone()
                lines.append(f"voice {name} starts from base speaker {name} (same name)")
                continue
            clips = [clip for clip in train_set.clips if clip["sid"] == sid]
            if not clips:
                continue
            best, distances = closest_base_speaker(net_g, clips, base_rows, mel, data)
            chosen[sid] = rows[base_rows[best]].clone()
            ranked = sorted(distances.items(), key=lambda item: item[1])[:3]
            lines.append(f"voice {name} starts from base speaker {best} (log-mel L1 {', '.join(f'{n} {d:.3f}' for n, d in ranked)})")
        for sid, row in chosen.items():  # after every search, so all searches saw the base's table
            rows[sid] = row
    finally:
        net_g.train(was_training)
    return lines
