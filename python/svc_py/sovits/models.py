"""So-VITS-SVC 4.0/4.1 synthesizer (VITS with content features instead of text, an f0-conditioned
prior and an NSF-HiFiGAN decoder) and its HiFi-GAN discriminators, with upstream's names.

Data flow at inference (T frames of hop samples):
  c [B, ssl_dim, T] --pre(conv k5)--> + emb_uv(uv) + emb_vol(vol) -> x [B, hidden, T]
  x + f0_emb(coarse f0) --enc_p (6-layer relative transformer)--> m_p, logs_p; z_p = m_p + noise*exp(logs_p)
  z_p --flow^-1 (residual coupling, conditioned on g = emb_g(sid))--> z --dec (NSF-HiFiGAN, f0)--> audio
Training adds the posterior encoder enc_q (WaveNet over the linear spectrogram) and the f0 predictor."""
import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm, weight_norm

from .modules import FFT, LRELU_SLOPE, WN, Encoder as TransformerEncoder, Flip, ResidualCouplingLayer, get_padding, sequence_mask
from .nsf_hifigan import Generator

F0_BINS = 256
F0_MIN_HZ = 50.0
F0_MAX_HZ = 1100.0
F0_MEL_MIN = 1127.0 * math.log(1.0 + F0_MIN_HZ / 700.0)
F0_MEL_MAX = 1127.0 * math.log(1.0 + F0_MAX_HZ / 700.0)


def f0_to_coarse(f0):
    """Hz -> bin 1..255 on the mel scale between 50 and 1100 Hz (bin 1 = unvoiced and <= 50 Hz).
    f0 above the range is clamped to 255 (upstream's arithmetic sends it to the untrained bin 0)."""
    mel = 1127.0 * torch.log(1.0 + f0 / 700.0)
    scale = (F0_BINS - 2) / (F0_MEL_MAX - F0_MEL_MIN)
    mel = torch.where(mel > 0, (mel - F0_MEL_MIN) * scale + 1.0, mel)
    return torch.clamp(torch.round(mel), 1, F0_BINS - 1).long()


def f0_to_lf0(f0):
    """Hz -> the f0 predictor's scale: mel / 500."""
    return 2595.0 * torch.log10(1.0 + f0 / 700.0) / 500.0


def lf0_to_f0(lf0):
    return 700.0 * (torch.pow(10.0, lf0 * 500.0 / 2595.0) - 1.0)


def normalize_f0(lf0, x_mask, uv, random_scale=True):
    """Subtracts the mean over voiced frames (lf0 [B,1,T], uv [B,T]); training scales by U(0.8,1.2)."""
    voiced = torch.sum(uv, dim=1, keepdim=True)
    voiced = torch.where(voiced == 0, torch.full_like(voiced, 9999.0), voiced)
    means = torch.sum(lf0[:, 0, :] * uv, dim=1, keepdim=True) / voiced
    if random_scale:
        factor = torch.empty(lf0.shape[0], 1, device=lf0.device).uniform_(0.8, 1.2)
    else:
        factor = torch.ones(lf0.shape[0], 1, device=lf0.device)
    return (lf0 - means.unsqueeze(-1)) * factor.unsqueeze(-1) * x_mask


def rand_slice_segments_with_pitch(x, pitch, x_lengths, segment_size):
    """Random training windows of segment_size frames: (x [B,C,seg], pitch [B,seg], starts [B])."""
    b = x.size(0)
    max_start = torch.clamp(x_lengths - segment_size + 1, min=1)
    starts = (torch.rand(b, device=x.device) * max_start).long()
    x_out = torch.stack([x[i, :, s:s + segment_size] for i, s in enumerate(starts.tolist())])
    p_out = torch.stack([pitch[i, s:s + segment_size] for i, s in enumerate(starts.tolist())])
    return x_out, p_out, starts


class TextEncoder(nn.Module):
    """Prior encoder: adds the coarse-f0 embedding, runs the relative transformer and projects to
    the prior's mean and log-std over inter_channels."""

    def __init__(self, out_channels, hidden_channels, kernel_size, n_layers, filter_channels, n_heads, p_dropout):
        super().__init__()
        self.out_channels = out_channels
        self.proj = nn.Conv1d(hidden_channels, out_channels * 2, 1)
        self.f0_emb = nn.Embedding(F0_BINS, hidden_channels)
        self.enc_ = TransformerEncoder(hidden_channels, filter_channels, n_heads, n_layers, kernel_size, p_dropout)

    def forward(self, x, x_mask, f0_coarse, noise=None, noise_scale=1.0):
        """Prior sample z = m + noise * noise_scale * exp(logs); noise [B, inter, T] is N(0,1),
        drawn here when None. Returns z, m, logs, mask."""
        x = x + self.f0_emb(f0_coarse).transpose(1, 2)
        x = self.enc_(x * x_mask, x_mask)
        stats = self.proj(x) * x_mask
        m, logs = torch.split(stats, self.out_channels, dim=1)
        if noise is None:
            noise = torch.randn_like(m)
        if noise_scale != 1.0:  # keeps the exported graph (scale 1) free of a no-op Mul
            noise = noise * noise_scale
        z = (m + noise * torch.exp(logs)) * x_mask
        return z, m, logs, x_mask


class PosteriorEncoder(nn.Module):
    """enc_q: linear spectrogram -> WaveNet (16 layers, k5) -> posterior mean/log-std, sampled z."""

    def __init__(self, in_channels, out_channels, hidden_channels, kernel_size, dilation_rate, n_layers,
                 gin_channels=0, depthwise=False):
        super().__init__()
        self.out_channels = out_channels
        self.pre = nn.Conv1d(in_channels, hidden_channels, 1)
        self.enc = WN(hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels=gin_channels, depthwise=depthwise)
        self.proj = nn.Conv1d(hidden_channels, out_channels * 2, 1)

    def forward(self, x, x_lengths, g=None):
        x_mask = sequence_mask(x_lengths, x.size(2)).unsqueeze(1).to(x.dtype)
        x = self.enc(self.pre(x) * x_mask, x_mask, g=g)
        stats = self.proj(x) * x_mask
        m, logs = torch.split(stats, self.out_channels, dim=1)
        z = (m + torch.randn_like(m) * torch.exp(logs)) * x_mask
        return z, m, logs, x_mask


class ResidualCouplingBlock(nn.Module):
    """n_flows mean-only coupling layers with channel flips in between."""

    def __init__(self, channels, hidden_channels, kernel_size, dilation_rate, n_layers, n_flows=4, gin_channels=0,
                 share_parameter=False, depthwise=False):
        super().__init__()
        self.flows = nn.ModuleList()
        self.wn = WN(hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels=gin_channels,
                     depthwise=depthwise) if share_parameter else None
        for _ in range(n_flows):
            self.flows.append(ResidualCouplingLayer(channels, hidden_channels, kernel_size, dilation_rate, n_layers,
                                                    gin_channels=gin_channels, shared_wn=self.wn, depthwise=depthwise))
            self.flows.append(Flip())

    def forward(self, x, x_mask, g=None, reverse=False):
        if reverse:
            for flow in reversed(self.flows):
                x = flow(x, x_mask, g=g, reverse=True)
            return x
        for flow in self.flows:
            x, _ = flow(x, x_mask, g=g)
        return x


class F0Decoder(nn.Module):
    """Automatic f0 predictor: from the content pre-net output, the normalized input lf0 and the
    speaker, predicts lf0 per frame (used for speech, where the source pitch is not wanted)."""

    def __init__(self, out_channels, hidden_channels, filter_channels, n_heads, n_layers, kernel_size, p_dropout,
                 spk_channels=0):
        super().__init__()
        self.prenet = nn.Conv1d(hidden_channels, hidden_channels, 3, padding=1)
        self.decoder = FFT(hidden_channels, filter_channels, n_heads, n_layers, kernel_size, p_dropout)
        self.proj = nn.Conv1d(hidden_channels, out_channels, 1)
        self.f0_prenet = nn.Conv1d(1, hidden_channels, 3, padding=1)
        self.cond = nn.Conv1d(spk_channels, hidden_channels, 1)

    def forward(self, x, norm_f0, x_mask, spk_emb=None):
        x = torch.detach(x)
        if spk_emb is not None:
            x = x + self.cond(spk_emb)
        x = x + self.f0_prenet(norm_f0)
        x = self.prenet(x) * x_mask
        x = self.decoder(x * x_mask, x_mask)
        return self.proj(x) * x_mask


class SynthesizerTrn(nn.Module):
    """The generator, built from a config's "model" section (see config.model_kwargs)."""

    def __init__(self, spec_channels, segment_size, inter_channels, hidden_channels, filter_channels, n_heads,
                 n_layers, kernel_size, p_dropout, resblock, resblock_kernel_sizes, resblock_dilation_sizes,
                 upsample_rates, upsample_initial_channel, upsample_kernel_sizes, gin_channels, ssl_dim, n_speakers,
                 sampling_rate=44100, vol_embedding=False, vocoder_name="nsf-hifigan", use_depthwise_conv=False,
                 use_automatic_f0_prediction=True, flow_share_parameter=False, n_flow_layer=4,
                 n_layers_trans_flow=3, use_transformer_flow=False, **unused):
        super().__init__()
        if use_transformer_flow:
            raise ValueError("use_transformer_flow is not supported")
        if vocoder_name != "nsf-hifigan":
            raise ValueError(f"vocoder {vocoder_name} is not supported")
        self.segment_size = segment_size
        self.inter_channels = inter_channels
        self.hidden_channels = hidden_channels
        self.gin_channels = gin_channels
        self.ssl_dim = ssl_dim
        self.n_speakers = n_speakers
        self.sampling_rate = sampling_rate
        self.hop_length = int(math.prod(upsample_rates))
        self.vol_embedding = bool(vol_embedding)
        self.use_automatic_f0_prediction = bool(use_automatic_f0_prediction)
        self.emb_g = nn.Embedding(n_speakers, gin_channels)
        if self.vol_embedding:
            self.emb_vol = nn.Linear(1, hidden_channels)
        self.pre = nn.Conv1d(ssl_dim, hidden_channels, kernel_size=5, padding=2)
        self.enc_p = TextEncoder(inter_channels, hidden_channels, kernel_size, n_layers, filter_channels, n_heads, p_dropout)
        self.dec = Generator(sampling_rate, inter_channels, resblock, resblock_kernel_sizes, resblock_dilation_sizes,
                             upsample_rates, upsample_initial_channel, upsample_kernel_sizes, gin_channels)
        self.enc_q = PosteriorEncoder(spec_channels, inter_channels, hidden_channels, 5, 1, 16, gin_channels=gin_channels,
                                      depthwise=use_depthwise_conv)
        self.flow = ResidualCouplingBlock(inter_channels, hidden_channels, 5, 1, n_flow_layer, gin_channels=gin_channels,
                                          share_parameter=flow_share_parameter, depthwise=use_depthwise_conv)
        if self.use_automatic_f0_prediction:
            self.f0_decoder = F0Decoder(1, hidden_channels, filter_channels, n_heads, n_layers, kernel_size, p_dropout,
                                        spk_channels=gin_channels)
        self.emb_uv = nn.Embedding(2, hidden_channels)

    def content_prenet(self, c, x_mask, uv, vol=None):
        """c [B, ssl_dim, T], uv [B, T] (0/1), vol [B, T] -> x [B, hidden, T]."""
        x = self.pre(c) * x_mask + self.emb_uv(uv.long()).transpose(1, 2)
        if self.vol_embedding and vol is not None:
            x = x + self.emb_vol(vol.unsqueeze(-1)).transpose(1, 2)
        return x

    def speaker(self, sid):
        """sid [B] int64 -> g [B, gin, 1]."""
        if sid.dim() == 1:
            sid = sid.unsqueeze(-1)
        return self.emb_g(sid).transpose(1, 2)

    def forward(self, c, f0, uv, spec, g=None, c_lengths=None, spec_lengths=None, vol=None):
        """Training step on content c [B, ssl, T], f0/uv [B, T], linear spec [B, F, T], speaker ids
        g [B]. Returns audio slice, slice starts, spec mask, (z, z_p, m_p, logs_p, m_q, logs_q),
        predicted lf0, normalized lf0, lf0 (zeros without the f0 predictor)."""
        g = self.speaker(g)
        x_mask = sequence_mask(c_lengths, c.size(2)).unsqueeze(1).to(c.dtype)
        x = self.content_prenet(c, x_mask, uv, vol)
        if self.use_automatic_f0_prediction:
            lf0 = f0_to_lf0(f0).unsqueeze(1)
            norm_lf0 = normalize_f0(lf0, x_mask, uv)
            pred_lf0 = self.f0_decoder(x, norm_lf0, x_mask, spk_emb=g)
        else:
            lf0 = norm_lf0 = pred_lf0 = torch.zeros_like(f0).unsqueeze(1)
        _, m_p, logs_p, _ = self.enc_p(x, x_mask, f0_to_coarse(f0))
        z, m_q, logs_q, spec_mask = self.enc_q(spec, spec_lengths, g=g)
        z_p = self.flow(z, spec_mask, g=g)
        z_slice, pitch_slice, ids_slice = rand_slice_segments_with_pitch(z, f0, spec_lengths, self.segment_size)
        audio = self.dec(z_slice, pitch_slice, g=g)
        return audio, ids_slice, spec_mask, (z, z_p, m_p, logs_p, m_q, logs_q), pred_lf0, norm_lf0, lf0

    @torch.no_grad()
    def infer(self, c, f0, uv, g, noise_scale=0.35, predict_f0=False, vol=None, noise=None):
        """c [B, ssl, T], f0/uv [B, T], g [B] -> (audio [B, 1, T*hop], f0 used [B, T]).
        noise: N(0,1) [B, inter, T] to use instead of a fresh draw; scaled by noise_scale."""
        g = self.speaker(g)
        x_mask = torch.ones_like(f0).unsqueeze(1)
        x = self.content_prenet(c, x_mask, uv, vol)
        if self.use_automatic_f0_prediction and predict_f0:
            lf0 = f0_to_lf0(f0).unsqueeze(1)
            norm_lf0 = normalize_f0(lf0, x_mask, uv, random_scale=False)
            f0 = lf0_to_f0(self.f0_decoder(x, norm_lf0, x_mask, spk_emb=g)).squeeze(1)
        z_p, _, _, c_mask = self.enc_p(x, x_mask, f0_to_coarse(f0), noise=noise, noise_scale=noise_scale)
        z = self.flow(z_p, c_mask, g=g, reverse=True)
        return self.dec(z * c_mask, f0, g=g), f0


def _scores_and_features(disc, x):
    """Runs a discriminator's conv stack: (flattened scores [B, N], the activation of every layer)."""
    fmap = []
    for conv in disc.convs:
        x = F.leaky_relu(conv(x), LRELU_SLOPE)
        fmap.append(x)
    x = disc.conv_post(x)
    fmap.append(x)
    return torch.flatten(x, 1, -1), fmap


def scaled_width(channels, scale):
    """A discriminator width at `scale` of upstream's (at least 2 channels); exact at scale 1."""
    return channels if scale == 1.0 else max(2, int(channels * scale))


class DiscriminatorP(nn.Module):
    """HiFi-GAN period discriminator: the waveform folded to [T/p, p], 2-D convs along time.
    `width_scale` multiplies every width (svc's train.discriminator_scale; 1.0 = upstream's layout,
    whose state_dict keys and shapes D_*.pth files hold)."""

    def __init__(self, period, kernel_size=5, stride=3, use_spectral_norm=False, width_scale=1.0):
        super().__init__()
        self.period = period
        norm = spectral_norm if use_spectral_norm else weight_norm
        pad = (get_padding(kernel_size, 1), 0)
        chans = [1] + [scaled_width(c, width_scale) for c in (32, 128, 512, 1024, 1024)]
        self.convs = nn.ModuleList(
            [norm(nn.Conv2d(chans[i], chans[i + 1], (kernel_size, 1), (stride if i < 4 else 1, 1), padding=pad)) for i in range(5)])
        self.conv_post = norm(nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x):
        b, c, t = x.shape
        if t % self.period:
            pad = self.period - t % self.period
            x = F.pad(x, (0, pad), "reflect")
            t += pad
        x = x.view(b, c, t // self.period, self.period)
        return _scores_and_features(self, x)


class DiscriminatorS(nn.Module):
    """HiFi-GAN (MelGAN) scale discriminator on the raw waveform: grouped strided 1-D convs.
    `width_scale` multiplies widths and groups (groups shrink until they divide both widths)."""

    def __init__(self, use_spectral_norm=False, width_scale=1.0):
        super().__init__()
        norm = spectral_norm if use_spectral_norm else weight_norm
        # (width out, kernel, stride, groups, padding) per conv, upstream's at width_scale 1.
        specs = [(16, 15, 1, 1, 7), (64, 41, 4, 4, 20), (256, 41, 4, 16, 20), (1024, 41, 4, 64, 20), (1024, 41, 4, 256, 20), (1024, 5, 1, 1, 2)]
        layers, width_in = [], 1
        for width, kernel, stride, groups, pad in specs:
            width_out = scaled_width(width, width_scale)
            groups = max(1, int(groups * width_scale))
            while width_in % groups or width_out % groups:
                groups -= 1
            layers.append(norm(nn.Conv1d(width_in, width_out, kernel, stride, groups=groups, padding=pad)))
            width_in = width_out
        self.convs = nn.ModuleList(layers)
        self.conv_post = norm(nn.Conv1d(width_in, 1, 3, 1, padding=1))

    def forward(self, x):
        return _scores_and_features(self, x)


class MultiPeriodDiscriminator(nn.Module):
    """Upstream's combined discriminator: one scale discriminator (index 0) and period
    discriminators for periods 2, 3, 5, 7, 11 (indices 1..5)."""

    def __init__(self, use_spectral_norm=False, periods=(2, 3, 5, 7, 11), width_scale=1.0):
        super().__init__()
        self.discriminators = nn.ModuleList(
            [DiscriminatorS(use_spectral_norm, width_scale)]
            + [DiscriminatorP(p, use_spectral_norm=use_spectral_norm, width_scale=width_scale) for p in periods])

    def forward(self, y, y_hat):
        real_scores, fake_scores, real_maps, fake_maps = [], [], [], []
        for disc in self.discriminators:
            r, fr = disc(y)
            f, ff = disc(y_hat)
            real_scores.append(r)
            fake_scores.append(f)
            real_maps.append(fr)
            fake_maps.append(ff)
        return real_scores, fake_scores, real_maps, fake_maps


def build_generator(config):
    from .config import model_kwargs
    return SynthesizerTrn(**model_kwargs(config))


def count_parameters(module):
    """Distinct parameters (a shared flow WN counts once)."""
    return sum(p.numel() for p in module.parameters())


def inference_parameters(net):
    """Parameters the exported inference graph uses (no posterior encoder, no f0 predictor)."""
    unused = count_parameters(net.enc_q)
    if getattr(net, "use_automatic_f0_prediction", False):
        unused += count_parameters(net.f0_decoder)
    return count_parameters(net) - unused
