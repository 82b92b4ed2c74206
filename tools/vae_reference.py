#!/usr/bin/env -S /usr/bin/python3
"""PyTorch transcription of diffusers' AutoencoderKL (the Stable Diffusion VAE), module names = diffusers keys.

Follows diffusers' models/autoencoders/autoencoder_kl.py and vae.py (Encoder, Decoder, DiagonalGaussianDistribution),
models/resnet.py (ResnetBlock2D without time embedding), unets/unet_2d_blocks.py (DownEncoderBlock2D,
UpDecoderBlock2D, UNetMidBlock2D with one attention), downsampling.py / upsampling.py (Downsample2D with padding 0:
pad (0, 1, 0, 1) then a 3x3 stride-2 conv; Upsample2D: nearest x2 then a 3x3 conv) and attention_processor.py
(Attention with group_norm, to_q/to_k/to_v/to_out.0, residual connection, rescale_output_factor 1, one head of
width C, scale C^-1/2): formulas, defaults and key names, no diffusers code. GroupNorm eps 1e-6, SiLU everywhere.

The fixtures it backs are tools/fixtures/vae.py. Run directly to print the parameter count of the presets:

    /usr/bin/python3 tools/vae_reference.py            # counts; then tools/gen_fixtures.py --only vae
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

EPS = 1e-6

SD = {"in_channels": 3, "out_channels": 3, "block_out_channels": [128, 256, 512, 512], "layers_per_block": 2,
      "latent_channels": 4, "norm_num_groups": 32, "scaling_factor": 0.18215}
SHAPES = {"in_channels": 3, "out_channels": 3, "block_out_channels": [32, 64], "layers_per_block": 1,
          "latent_channels": 4, "norm_num_groups": 16, "scaling_factor": 1.0}


class ResnetBlock2D(nn.Module):
    """x + conv2(silu(norm2(conv1(silu(norm1(x)))))), with a 1x1 conv_shortcut on x when the width changes."""

    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=EPS)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=EPS)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        s = x if self.conv_shortcut is None else self.conv_shortcut(x)
        return s + h


class Attention(nn.Module):
    """diffusers' Attention as the VAE mid block builds it: one head over the H*W positions, residual added."""

    def __init__(self, c, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, c, eps=EPS)
        self.to_q = nn.Linear(c, c)
        self.to_k = nn.Linear(c, c)
        self.to_v = nn.Linear(c, c)
        self.to_out = nn.ModuleList([nn.Linear(c, c), nn.Dropout(0.0)])

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.group_norm(x).reshape(b, c, h * w).transpose(1, 2)        # (B, HW, C)
        q, k, v = self.to_q(t), self.to_k(t), self.to_v(t)
        p = torch.softmax(q @ k.transpose(1, 2) * c ** -0.5, dim=-1)       # (B, HW, HW)
        o = self.to_out[1](self.to_out[0](p @ v))                          # (B, HW, C)
        return o.transpose(1, 2).reshape(b, c, h, w) + x


class MidBlock(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.attentions = nn.ModuleList([Attention(c, groups)])
        self.resnets = nn.ModuleList([ResnetBlock2D(c, c, groups), ResnetBlock2D(c, c, groups)])

    def forward(self, x):
        x = self.resnets[0](x)
        return self.resnets[1](self.attentions[0](x))


class Downsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownEncoderBlock2D(nn.Module):
    def __init__(self, cin, cout, n, groups, down):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if j == 0 else cout, cout, groups) for j in range(n)])
        self.downsamplers = nn.ModuleList([Downsample2D(cout)]) if down else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        return x if self.downsamplers is None else self.downsamplers[0](x)


class UpDecoderBlock2D(nn.Module):
    def __init__(self, cin, cout, n, groups, up):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if j == 0 else cout, cout, groups) for j in range(n)])
        self.upsamplers = nn.ModuleList([Upsample2D(cout)]) if up else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        return x if self.upsamplers is None else self.upsamplers[0](x)


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, g, n = cfg["block_out_channels"], cfg["norm_num_groups"], cfg["layers_per_block"]
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], 3, padding=1)
        self.down_blocks = nn.ModuleList(
            [DownEncoderBlock2D(ch[max(i - 1, 0)], ch[i], n, g, i < len(ch) - 1) for i in range(len(ch))])
        self.mid_block = MidBlock(ch[-1], g)
        self.conv_norm_out = nn.GroupNorm(g, ch[-1], eps=EPS)
        self.conv_out = nn.Conv2d(ch[-1], 2 * cfg["latent_channels"], 3, padding=1)   # double_z

    def forward(self, x):
        x = self.conv_in(x)
        for blk in self.down_blocks:
            x = blk(x)
        return self.conv_out(F.silu(self.conv_norm_out(self.mid_block(x))))


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, g, n = list(reversed(cfg["block_out_channels"])), cfg["norm_num_groups"], cfg["layers_per_block"]
        self.conv_in = nn.Conv2d(cfg["latent_channels"], ch[0], 3, padding=1)
        self.mid_block = MidBlock(ch[0], g)
        self.up_blocks = nn.ModuleList(
            [UpDecoderBlock2D(ch[max(i - 1, 0)], ch[i], n + 1, g, i < len(ch) - 1) for i in range(len(ch))])
        self.conv_norm_out = nn.GroupNorm(g, ch[-1], eps=EPS)
        self.conv_out = nn.Conv2d(ch[-1], cfg["out_channels"], 3, padding=1)

    def forward(self, z):
        x = self.mid_block(self.conv_in(z))
        for blk in self.up_blocks:
            x = blk(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class AutoencoderKL(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        lc = cfg["latent_channels"]
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quant_conv = nn.Conv2d(2 * lc, 2 * lc, 1)
        self.post_quant_conv = nn.Conv2d(lc, lc, 1)

    def encode(self, x):
        """DiagonalGaussianDistribution's (mean, logvar): moments split along channels, logvar clamped to [-30, 20]."""
        mean, logvar = torch.chunk(self.quant_conv(self.encoder(x)), 2, dim=1)
        return mean, torch.clamp(logvar, -30.0, 20.0)

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))

    def forward(self, x):
        """AutoencoderKL.forward with sample_posterior=False: decode(posterior.mode())."""
        return self.decode(self.encode(x)[0])


def kl(mean, logvar):
    """DiagonalGaussianDistribution.kl(): 0.5 * sum(mean^2 + var - 1 - logvar) over (C, H, W), per sample."""
    return 0.5 * torch.sum(mean ** 2 + torch.exp(logvar) - 1.0 - logvar, dim=[1, 2, 3])


def loss(recon, target, mean, logvar, beta):
    """The training loss Ascan uses: mean L1 reconstruction + beta * batch-mean KL."""
    return (recon - target).abs().mean() + beta * kl(mean, logvar).mean()


if __name__ == "__main__":
    for name, cfg in (("vae_sd", SD), ("vae_shapes", SHAPES)):
        m = AutoencoderKL(cfg)
        print(f"{name}: {sum(p.numel() for p in m.parameters()):,} parameters, {len(m.state_dict())} tensors")
