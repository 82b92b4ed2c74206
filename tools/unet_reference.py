#!/usr/bin/env -S /usr/bin/python3
"""PyTorch transcription of SPEC §4's class-conditional diffusion UNet, module names = Ascan checkpoint keys.

Mirrors src/Ascan.Models/Generation/UNetModel.cs:
  conv_in 3x3 -> down.{i}: blocks (C/T string at width w_i), downsample = conv3x3/2 (w_i -> w_{i+1}), none after the last
  -> mid.blocks -> up.{k} (k = 0 at the lowest resolution, mirrors down level i = L-1-k): skip_proj = conv1x1 on
  cat(h, skip_i) (2 w_i -> w_i), blocks, upsample = nearest x2 -> upsample.conv 3x3 (w_i -> w_{i-1}), none after level 0
  -> norm_out GroupNorm -> SiLU -> conv_out 3x3 (zero-initialised).
Conditioning as DiT: t_embedder.mlp.{0,2} on [cos, sin] sinusoids (256, max period 10000), y_embedder.embedding_table
with a null row (id = num_classes); cond = t_emb + y_emb feeds every block.
C block: x + GN(conv1x1(SiLU(GN(conv3x3(x))*(1+s)+b))), (s, b) = emb_proj(SiLU(cond)) (ADM scale-shift).
T block: DiT's adaLN-Zero block (LayerNorm without affine, eps 1e-6), attention/MLP of tools/ascan_torch.py.

Run directly to print the presets' parameter counts and GMACs:  /usr/bin/python3 tools/unet_reference.py
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import ascan_torch as A

PRESETS = {
    "unet_shapes": dict(widths=(32, 64, 128), levels=("CC", "CT", "TT"), middle="TT", in_channels=3, num_classes=5, embed_dim=128),
    "unet_imagenet_256": dict(widths=(256, 512, 768), levels=("CC", "CTT", "TTTTT"), middle="TTTT", in_channels=4, num_classes=1000, embed_dim=1024),
}


def timestep_embedding(t, dim, max_period=10000):
    """DiT's sinusoids: cos half first, then sin (computed in t's dtype)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=t.dtype) / half)
    args = t[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class TimestepEmbedder(nn.Module):
    def __init__(self, dim, freq=256, max_period=10000):
        super().__init__()
        self.freq, self.max_period = freq, max_period
        self.mlp = nn.Sequential(nn.Linear(freq, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t):
        return self.mlp(timestep_embedding(t, self.freq, self.max_period))


class LabelEmbedder(nn.Module):
    def __init__(self, num_classes, dim):
        super().__init__()
        self.embedding_table = nn.Embedding(num_classes + 1, dim)

    def forward(self, y):
        return self.embedding_table(y)


class CBlock(nn.Module):
    def __init__(self, w, expansion, groups, cond):
        super().__init__()
        e = w * expansion
        self.conv_exp = nn.Conv2d(w, e, 3, 1, 1, bias=False)
        self.norm1 = nn.GroupNorm(groups, e, eps=1e-5)
        self.conv_proj = nn.Conv2d(e, w, 1, bias=False)
        self.norm2 = nn.GroupNorm(groups, w, eps=1e-5)
        self.emb_proj = nn.Linear(cond, 2 * e)

    def forward(self, x, c):
        scale, shift = self.emb_proj(F.silu(c))[:, :, None, None].chunk(2, dim=1)
        h = self.norm1(self.conv_exp(x)) * (1 + scale) + shift
        return x + self.norm2(self.conv_proj(F.silu(h)))


def modulate(x, shift, scale):
    return x * (1 + scale[:, None]) + shift[:, None]


class TBlock(nn.Module):
    def __init__(self, w, head_dim, mlp_ratio, cond):
        super().__init__()
        self.norm1 = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.attn = A.Attention(w, head_dim)
        self.norm2 = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.mlp = A.Mlp(w, mlp_ratio)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(cond, 6 * w))
        nn.init.zeros_(self.adaLN_modulation[1].weight)
        nn.init.zeros_(self.adaLN_modulation[1].bias)

    def forward(self, x, c):  # x: (B, C, H, W)
        b, ch, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        sh1, sc1, g1, sh2, sc2, g2 = self.adaLN_modulation(c).chunk(6, dim=1)
        t = t + g1[:, None] * self.attn(modulate(self.norm1(t), sh1, sc1))
        t = t + g2[:, None] * self.mlp(modulate(self.norm2(t), sh2, sc2))
        return t.transpose(1, 2).reshape(b, ch, h, w)


def blocks(layout, w, cfg):
    return nn.ModuleList(CBlock(w, cfg["expansion"], cfg["groups"], cfg["cond"]) if k == "C"
                         else TBlock(w, cfg["head_dim"], cfg["mlp_ratio"], cfg["cond"]) for k in layout)


class Level(nn.Module):
    pass


class UNet(nn.Module):
    def __init__(self, widths, levels, middle, in_channels=3, num_classes=1000, embed_dim=None, expansion=4,
                 head_dim=32, mlp_ratio=4, groups=32, freq=256, out_channels=None):
        super().__init__()
        n = len(widths)
        cond = embed_dim or 4 * widths[0]
        cfg = dict(expansion=expansion, head_dim=head_dim, mlp_ratio=mlp_ratio, groups=groups, cond=cond)
        self.widths, self.levels = list(widths), list(levels)
        self.conv_in = nn.Conv2d(in_channels, widths[0], 3, 1, 1)
        self.t_embedder = TimestepEmbedder(cond, freq)
        self.y_embedder = LabelEmbedder(num_classes, cond)
        self.down = nn.ModuleList()
        for i in range(n):
            lv = Level()
            lv.blocks = blocks(levels[i], widths[i], cfg)
            lv.downsample = nn.Conv2d(widths[i], widths[i + 1], 3, 2, 1) if i < n - 1 else None
            self.down.append(lv)
        self.mid = Level()
        self.mid.blocks = blocks(middle, widths[-1], cfg)
        self.up = nn.ModuleList()
        for k in range(n):
            i = n - 1 - k
            lv = Level()
            lv.skip_proj = nn.Conv2d(2 * widths[i], widths[i], 1)
            lv.blocks = blocks(levels[i], widths[i], cfg)
            if i > 0:
                lv.upsample = Level()
                lv.upsample.conv = nn.Conv2d(widths[i], widths[i - 1], 3, 1, 1)
            else:
                lv.upsample = None
            self.up.append(lv)
        self.norm_out = nn.GroupNorm(groups, widths[0], eps=1e-5)
        self.conv_out = nn.Conv2d(widths[0], out_channels or in_channels, 3, 1, 1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x, t, y):
        c = self.t_embedder(t) + self.y_embedder(y)
        h = self.conv_in(x)
        skips = []
        for lv in self.down:
            for b in lv.blocks:
                h = b(h, c)
            skips.append(h)
            if lv.downsample is not None:
                h = lv.downsample(h)
        for b in self.mid.blocks:
            h = b(h, c)
        for lv in self.up:
            h = lv.skip_proj(torch.cat([h, skips.pop()], dim=1))
            for b in lv.blocks:
                h = b(h, c)
            if lv.upsample is not None:
                h = lv.upsample.conv(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


def gmacs(model, size, in_channels):
    """Multiply-adds of one image by SPEC §2's rule (conv, linear, the two attention matmuls)."""
    total = [0]

    def conv_hook(m, i, o):
        total[0] += o.numel() // o.shape[0] * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]

    def lin_hook(m, i, o):
        total[0] += o.numel() // o.shape[0] * m.in_features

    def attn_hook(m, i, o):
        _, n, c = i[0].shape
        total[0] += 2 * n * n * c

    hs = [mod.register_forward_hook(conv_hook if isinstance(mod, nn.Conv2d) else lin_hook if isinstance(mod, nn.Linear) else attn_hook)
          for mod in model.modules() if isinstance(mod, (nn.Conv2d, nn.Linear, A.Attention))]
    with torch.no_grad():
        model(torch.zeros(1, in_channels, size, size), torch.zeros(1), torch.zeros(1, dtype=torch.long))
    for h in hs:
        h.remove()
    return total[0] / 1e9


if __name__ == "__main__":
    for name, kw in PRESETS.items():
        m = UNet(**kw)
        print(f"{name}: {sum(p.numel() for p in m.parameters()):,} parameters, {gmacs(m, 32, kw['in_channels']):.3f} GMACs at 32x32")
