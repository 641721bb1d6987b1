"""Building blocks of the So-VITS-SVC generator, written from the VITS paper (Kim et al. 2021) and
its published architecture. Attribute names follow upstream so-vits-svc so state-dict keys match
(e.g. `in_layers.3.weight_v`, `emb_rel_k`, `norm_layers_1.0.gamma`).

Shapes: channels-first, x [B, C, T], masks [B, 1, T] of 0/1."""
import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import weight_norm

LRELU_SLOPE = 0.1


def get_padding(kernel_size, dilation=1):
    """'same' padding of an odd kernel with dilation."""
    return (kernel_size * dilation - dilation) // 2


def init_normal_(module, std=0.01):
    """HiFi-GAN's init for conv weights: N(0, std)."""
    if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
        module.weight.data.normal_(0.0, std)


def sequence_mask(lengths, max_length):
    """[B] lengths -> [B, max_length] bool, True inside each sequence."""
    positions = torch.arange(max_length, dtype=lengths.dtype, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


def gated_tanh_sigmoid(x_plus_g, half_channels):
    """WaveNet gate: tanh(first half) * sigmoid(second half) over channels."""
    return torch.tanh(x_plus_g[:, :half_channels]) * torch.sigmoid(x_plus_g[:, half_channels:])


class DepthwiseSeparableConv1d(nn.Module):
    """4.1 `use_depthwise_conv`: a per-channel conv (`depth_conv`) then a 1x1 mix (`point_conv`)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1):
        super().__init__()
        self.depth_conv = nn.Conv1d(in_channels, in_channels, kernel_size, stride=stride, padding=padding,
                                    dilation=dilation, groups=in_channels)
        self.point_conv = nn.Conv1d(in_channels, out_channels, 1)

    def apply_weight_norm(self):
        self.depth_conv = weight_norm(self.depth_conv)
        self.point_conv = weight_norm(self.point_conv)
        return self

    def forward(self, x):
        return self.point_conv(self.depth_conv(x))


def make_conv1d(depthwise, in_channels, out_channels, kernel_size, **kwargs):
    if depthwise:
        return DepthwiseSeparableConv1d(in_channels, out_channels, kernel_size, **kwargs)
    return nn.Conv1d(in_channels, out_channels, kernel_size, **kwargs)


def with_weight_norm(module):
    if isinstance(module, DepthwiseSeparableConv1d):
        return module.apply_weight_norm()
    return weight_norm(module)


class LayerNorm(nn.Module):
    """Layer norm over channels of [B, C, T] (parameters named gamma/beta as in VITS)."""

    def __init__(self, channels, eps=1e-5):
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        y = F.layer_norm(x.transpose(1, -1), (self.channels,), self.gamma, self.beta, self.eps)
        return y.transpose(1, -1)


class WN(nn.Module):
    """Non-causal WaveNet stack (gated dilated convs, residual + skip), optionally conditioned on a
    global vector g [B, gin, 1] through one 1x1 `cond_layer` split across layers."""

    def __init__(self, hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels=0, p_dropout=0.0,
                 depthwise=False):
        super().__init__()
        assert kernel_size % 2 == 1, "WN needs an odd kernel"
        self.hidden_channels = hidden_channels
        self.n_layers = n_layers
        self.gin_channels = gin_channels
        self.in_layers = nn.ModuleList()
        self.res_skip_layers = nn.ModuleList()
        self.drop = nn.Dropout(p_dropout)
        if gin_channels:
            self.cond_layer = weight_norm(nn.Conv1d(gin_channels, 2 * hidden_channels * n_layers, 1))
        for i in range(n_layers):
            dilation = dilation_rate ** i
            conv = make_conv1d(depthwise, hidden_channels, 2 * hidden_channels, kernel_size, dilation=dilation,
                               padding=get_padding(kernel_size, dilation))
            self.in_layers.append(with_weight_norm(conv))
            # The last layer only feeds the skip sum.
            out = 2 * hidden_channels if i < n_layers - 1 else hidden_channels
            self.res_skip_layers.append(weight_norm(nn.Conv1d(hidden_channels, out, 1)))

    def forward(self, x, x_mask, g=None):
        hidden = self.hidden_channels
        skip = torch.zeros_like(x)
        if g is not None:
            g = self.cond_layer(g)
        for i in range(self.n_layers):
            h = self.in_layers[i](x)
            if g is not None:
                h = h + g[:, i * 2 * hidden:(i + 1) * 2 * hidden]
            acts = self.drop(gated_tanh_sigmoid(h, hidden))
            res_skip = self.res_skip_layers[i](acts)
            if i < self.n_layers - 1:
                x = (x + res_skip[:, :hidden]) * x_mask
                skip = skip + res_skip[:, hidden:]
            else:
                skip = skip + res_skip
        return skip * x_mask


class Flip(nn.Module):
    """Reverses the channel order between coupling layers (volume-preserving)."""

    def forward(self, x, x_mask, g=None, reverse=False):
        x = torch.flip(x, [1])
        if reverse:
            return x
        return x, torch.zeros(x.size(0), dtype=x.dtype, device=x.device)


class ResidualCouplingLayer(nn.Module):
    """Mean-only affine coupling: x1 += WN(x0) (VITS flow). `shared_wn` is 4.1's
    flow_share_parameter (one WN for all layers, still listed under every layer's `enc`)."""

    def __init__(self, channels, hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels=0,
                 shared_wn=None, depthwise=False):
        super().__init__()
        self.half_channels = channels // 2
        self.pre = nn.Conv1d(self.half_channels, hidden_channels, 1)
        self.enc = shared_wn if shared_wn is not None else WN(
            hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels=gin_channels, depthwise=depthwise)
        self.post = nn.Conv1d(hidden_channels, self.half_channels, 1)
        # Start as identity so the flow does not disturb early training.
        self.post.weight.data.zero_()
        self.post.bias.data.zero_()

    def forward(self, x, x_mask, g=None, reverse=False):
        x0, x1 = torch.split(x, [self.half_channels, self.half_channels], 1)
        h = self.enc(self.pre(x0) * x_mask, x_mask, g=g)
        mean = self.post(h) * x_mask
        if reverse:
            return torch.cat([x0, (x1 - mean) * x_mask], 1)
        x1 = mean + x1 * x_mask
        return torch.cat([x0, x1], 1), torch.zeros(x.size(0), dtype=x.dtype, device=x.device)


class MultiHeadAttention(nn.Module):
    """Multi-head attention over [B, C, T] with 1x1 conv projections; with `window_size`, Shaw-style
    relative position embeddings shared across heads (`emb_rel_k`, `emb_rel_v` [1, 2w+1, C/h])."""

    def __init__(self, channels, out_channels, n_heads, p_dropout=0.0, window_size=None, proximal_init=False):
        super().__init__()
        assert channels % n_heads == 0
        self.n_heads = n_heads
        self.k_channels = channels // n_heads
        self.window_size = window_size
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, out_channels, 1)
        self.drop = nn.Dropout(p_dropout)
        if window_size is not None:
            std = self.k_channels ** -0.5
            self.emb_rel_k = nn.Parameter(torch.randn(1, 2 * window_size + 1, self.k_channels) * std)
            self.emb_rel_v = nn.Parameter(torch.randn(1, 2 * window_size + 1, self.k_channels) * std)
        for conv in (self.conv_q, self.conv_k, self.conv_v):
            nn.init.xavier_uniform_(conv.weight)
        if proximal_init:
            with torch.no_grad():
                self.conv_k.weight.copy_(self.conv_q.weight)
                self.conv_k.bias.copy_(self.conv_q.bias)

    def _relative_embeddings(self, table, length):
        """[1, 2w+1, d] -> [1, 2L-1, d]: offsets -(L-1)..(L-1), zero outside the window. The table
        is always padded by L on both sides so one graph serves every length (no branch on L,
        which ONNX tracing would freeze)."""
        w = self.window_size
        table = F.pad(table, [0, 0, length, length])
        return table[:, w + 1:w + 2 * length]

    @staticmethod
    def _relative_to_absolute(x):
        """[B, H, L, 2L-1] logits by offset -> [B, H, L, L] by key position (skewing trick)."""
        b, h, length, _ = x.size()
        x = F.pad(x, [0, 1])
        x = x.reshape(b, h, length * 2 * length)
        x = F.pad(x, [0, length - 1])
        return x.reshape(b, h, length + 1, 2 * length - 1)[:, :, :length, length - 1:]

    @staticmethod
    def _absolute_to_relative(x):
        """[B, H, L, L] weights by key position -> [B, H, L, 2L-1] by offset."""
        b, h, length, _ = x.size()
        x = F.pad(x, [0, length - 1])
        x = x.reshape(b, h, length * length + length * (length - 1))
        x = F.pad(x, [length, 0])
        return x.reshape(b, h, length, 2 * length)[:, :, :, 1:]

    def forward(self, x, c, attn_mask=None):
        q, k, v = self.conv_q(x), self.conv_k(c), self.conv_v(c)
        b, d, t_s = k.size()
        t_t = q.size(2)
        q = q.view(b, self.n_heads, self.k_channels, t_t).transpose(2, 3) / math.sqrt(self.k_channels)
        k = k.view(b, self.n_heads, self.k_channels, t_s).transpose(2, 3)
        v = v.view(b, self.n_heads, self.k_channels, t_s).transpose(2, 3)
        scores = torch.matmul(q, k.transpose(-2, -1))
        if self.window_size is not None:
            rel_k = self._relative_embeddings(self.emb_rel_k, t_s)
            scores = scores + self._relative_to_absolute(torch.matmul(q, rel_k.unsqueeze(0).transpose(-2, -1)))
        if attn_mask is not None:
            scores = scores.masked_fill(attn_mask == 0, -1e4)
        weights = self.drop(F.softmax(scores, dim=-1))
        out = torch.matmul(weights, v)
        if self.window_size is not None:
            rel_v = self._relative_embeddings(self.emb_rel_v, t_s)
            out = out + torch.matmul(self._absolute_to_relative(weights), rel_v.unsqueeze(0))
        out = out.transpose(2, 3).contiguous().view(b, d, t_t)
        return self.conv_o(out)


class FFN(nn.Module):
    """Position-wise conv feed-forward (conv_1 -> ReLU -> conv_2), 'same' or causal padding."""

    def __init__(self, in_channels, out_channels, filter_channels, kernel_size, p_dropout=0.0, causal=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.causal = causal
        self.conv_1 = nn.Conv1d(in_channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, out_channels, kernel_size)
        self.drop = nn.Dropout(p_dropout)

    def _pad(self, x):
        if self.kernel_size == 1:
            return x
        if self.causal:
            return F.pad(x, [self.kernel_size - 1, 0])
        return F.pad(x, [(self.kernel_size - 1) // 2, self.kernel_size // 2])

    def forward(self, x, x_mask):
        x = torch.relu(self.conv_1(self._pad(x * x_mask)))
        x = self.conv_2(self._pad(self.drop(x) * x_mask))
        return x * x_mask


class Encoder(nn.Module):
    """The prior encoder's transformer: n_layers of relative self-attention + FFN, post-norm."""

    def __init__(self, hidden_channels, filter_channels, n_heads, n_layers, kernel_size=1, p_dropout=0.0,
                 window_size=4):
        super().__init__()
        self.n_layers = n_layers
        self.drop = nn.Dropout(p_dropout)
        self.attn_layers = nn.ModuleList()
        self.norm_layers_1 = nn.ModuleList()
        self.ffn_layers = nn.ModuleList()
        self.norm_layers_2 = nn.ModuleList()
        for _ in range(n_layers):
            self.attn_layers.append(MultiHeadAttention(hidden_channels, hidden_channels, n_heads, p_dropout=p_dropout,
                                                       window_size=window_size))
            self.norm_layers_1.append(LayerNorm(hidden_channels))
            self.ffn_layers.append(FFN(hidden_channels, hidden_channels, filter_channels, kernel_size, p_dropout=p_dropout))
            self.norm_layers_2.append(LayerNorm(hidden_channels))

    def forward(self, x, x_mask):
        attn_mask = x_mask.unsqueeze(2) * x_mask.unsqueeze(-1)
        x = x * x_mask
        for i in range(self.n_layers):
            x = self.norm_layers_1[i](x + self.drop(self.attn_layers[i](x, x, attn_mask)))
            x = self.norm_layers_2[i](x + self.drop(self.ffn_layers[i](x, x_mask)))
        return x * x_mask


class FFT(nn.Module):
    """The f0 predictor's causal transformer (FastSpeech-style 'FFT' block): causal self-attention
    without relative positions, causal FFN."""

    def __init__(self, hidden_channels, filter_channels, n_heads, n_layers=1, kernel_size=1, p_dropout=0.0):
        super().__init__()
        self.n_layers = n_layers
        self.drop = nn.Dropout(p_dropout)
        self.self_attn_layers = nn.ModuleList()
        self.norm_layers_0 = nn.ModuleList()
        self.ffn_layers = nn.ModuleList()
        self.norm_layers_1 = nn.ModuleList()
        for _ in range(n_layers):
            self.self_attn_layers.append(MultiHeadAttention(hidden_channels, hidden_channels, n_heads,
                                                            p_dropout=p_dropout, proximal_init=True))
            self.norm_layers_0.append(LayerNorm(hidden_channels))
            self.ffn_layers.append(FFN(hidden_channels, hidden_channels, filter_channels, kernel_size,
                                       p_dropout=p_dropout, causal=True))
            self.norm_layers_1.append(LayerNorm(hidden_channels))

    def forward(self, x, x_mask):
        length = x_mask.size(2)
        causal = torch.tril(torch.ones(length, length, device=x.device, dtype=x.dtype))[None, None]
        x = x * x_mask
        for i in range(self.n_layers):
            x = self.norm_layers_0[i](x + self.drop(self.self_attn_layers[i](x, x, causal)))
            x = self.norm_layers_1[i](x + self.drop(self.ffn_layers[i](x, x_mask)))
        return x * x_mask
