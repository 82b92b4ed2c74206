#!/usr/bin/env -S /usr/bin/python3
"""PyTorch transcription of SPEC §2 (the AsCAN classifier), module names = Ascan checkpoint keys.

Used by the fixture generator and by bench/compare_torch.py; run directly to print the parameter
counts and GMACs of the presets:  /usr/bin/python3 tools/ascan_torch.py
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    "ascan_nano": ((32, 64, 128, 256), ("C", "CC", "CTT", "T")),
    "ascan_t": ((64, 128, 256, 512), ("CC", "CCC", "CCCTTTTT", "TTT")),
    "ascan_b": ((96, 192, 384, 768), ("CC", "CCC", "CCCTTTTTTT", "TTT")),
    "ascan_l": ((128, 256, 512, 1024), ("CC", "CCC", "CCCTTTTTTTTT", "TTT")),
}


class DropPath(nn.Module):
    def __init__(self, p=0.0):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.p == 0.0 or not self.training:
            return x
        keep = 1 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Stem(nn.Module):
    def __init__(self, w0):
        super().__init__()
        self.conv1 = nn.Conv2d(3, w0 // 2, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w0 // 2)
        self.conv2 = nn.Conv2d(w0 // 2, w0, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(w0)

    def forward(self, x):
        x = F.gelu(self.bn1(self.conv1(x)))
        return F.gelu(self.bn2(self.conv2(x)))


class Downsample(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.conv(x))


class CBlock(nn.Module):
    """FusedMBConv: x + BN(conv1x1(GELU(BN(conv3x3(x, w → 4w))), 4w → w))."""

    def __init__(self, w, expansion=4, drop_path=0.0):
        super().__init__()
        self.conv_exp = nn.Conv2d(w, w * expansion, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w * expansion)
        self.conv_proj = nn.Conv2d(w * expansion, w, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(w)
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        y = self.bn2(self.conv_proj(F.gelu(self.bn1(self.conv_exp(x)))))
        return x + self.drop_path(y)


class Attention(nn.Module):
    def __init__(self, dim, head_dim=32):
        super().__init__()
        self.heads = dim // head_dim
        self.head_dim = head_dim
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, t):
        b, n, c = t.shape
        qkv = self.qkv(t).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.head_dim ** -0.5
        out = attn.softmax(-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, ratio=4):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim * ratio)
        self.fc2 = nn.Linear(dim * ratio, dim)

    def forward(self, t):
        return self.fc2(F.gelu(self.fc1(t)))


class TBlock(nn.Module):
    def __init__(self, dim, head_dim=32, mlp_ratio=4, drop_path=0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = Attention(dim, head_dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = Mlp(dim, mlp_ratio)
        self.drop_path = DropPath(drop_path)

    def forward(self, x):  # x: (B, C, H, W)
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        t = t + self.drop_path(self.attn(self.norm1(t)))
        t = t + self.drop_path(self.mlp(self.norm2(t)))
        return t.transpose(1, 2).reshape(b, c, h, w)


class Stage(nn.Module):
    def __init__(self, cin, cout, blocks, first, head_dim=32, expansion=4, mlp_ratio=4, dprs=None):
        super().__init__()
        self.downsample = None if first else Downsample(cin, cout)
        dprs = dprs or [0.0] * len(blocks)
        self.blocks = nn.ModuleList(
            CBlock(cout, expansion, d) if kind == "C" else TBlock(cout, head_dim, mlp_ratio, d)
            for kind, d in zip(blocks, dprs))

    def forward(self, x):
        if self.downsample is not None:
            x = self.downsample(x)
        for blk in self.blocks:
            x = blk(x)
        return x


class AsCAN(nn.Module):
    def __init__(self, widths, stages, num_classes=1000, head_dim=32, expansion=4, mlp_ratio=4, drop_path=0.0):
        super().__init__()
        self.stem = Stem(widths[0])
        depth = sum(len(s) for s in stages)
        dpr = [drop_path * i / max(depth - 1, 1) for i in range(depth)]
        mods, k = [], 0
        for i, s in enumerate(stages):
            mods.append(Stage(widths[i - 1] if i else widths[0], widths[i], s, i == 0, head_dim, expansion, mlp_ratio, dpr[k:k + len(s)]))
            k += len(s)
        self.stages = nn.ModuleList(mods)
        self.norm = nn.LayerNorm(widths[-1], eps=1e-5)
        self.head = nn.Linear(widths[-1], num_classes)

    def forward_features(self, x):
        x = self.stem(x)
        for s in self.stages:
            x = s(x)
        return x

    def forward(self, x):
        x = self.forward_features(x).mean((2, 3))
        return self.head(self.norm(x))


def create(name, **kw):
    widths, stages = PRESETS[name]
    return AsCAN(widths, stages, **kw)


def gmacs(model, size=224):
    """MACs of conv, linear and the two attention matmuls, one per multiply-add."""
    total = 0

    def conv_hook(m, i, o):
        nonlocal total
        total += o.numel() // o.shape[0] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def lin_hook(m, i, o):
        nonlocal total
        total += o.numel() // o.shape[0] * m.in_features

    def attn_hook(m, i, o):
        nonlocal total
        n = i[0].shape[1]
        total += 2 * n * n * m.heads * m.head_dim

    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            mod.register_forward_hook(conv_hook)
        elif isinstance(mod, nn.Linear):
            mod.register_forward_hook(lin_hook)
        elif isinstance(mod, Attention):
            mod.register_forward_hook(attn_hook)
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size))
    return total / 1e9


if __name__ == "__main__":
    for name in PRESETS:
        m = create(name)
        print(f"{name}: params {sum(p.numel() for p in m.parameters()):,}  GMACs {gmacs(m):.3f}")
