#!/usr/bin/env -S /usr/bin/python3
"""PyTorch transcription of pytorch-fid's FID (mseitzer/pytorch-fid: src/pytorch_fid/inception.py, fid_score.py).

* fid_inception(divisor): pytorch-fid's InceptionV3 with output_blocks=[3] (pool3), i.e. fid_inception_v3()'s
  torchvision Inception3 layout with FIDInceptionA (Mixed_5b/c/d), InceptionB (6a), FIDInceptionC (6b..6e),
  InceptionD (7a), FIDInceptionE_1 (7b, average pool without padded zeros) and FIDInceptionE_2 (7c, max pool),
  BasicConv2d = conv (no bias) + BatchNorm(eps 0.001) + ReLU, keys as pt_inception-2015-12-05. Every channel count is
  divided by `divisor` (the 3 input channels and the 1008-class fc excepted): divisor 1 is the real network
  (23.9M parameters, ~95 MB, too large for the fixtures), the fixtures use divisor 16 — same blocks, same keys.
  `--check-full` builds divisor 1 and pytorch-fid's own construction (torchvision's Inception3 with the FID blocks
  subclassing torchvision's InceptionA/C/E, as pytorch-fid does), loads one random state dict into both and compares.
* features(model, images): F.interpolate(bilinear, 299, align_corners=False) → 2x − 1 → blocks → adaptive avg pool.
* calculate_frechet_distance: as pytorch-fid's, with scipy.linalg.sqrtm.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from torch import nn
from torchvision.models.inception import BasicConv2d


class FIDInceptionA(nn.Module):
    def __init__(self, c, in_channels, pool_features):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, c(64), kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, c(48), kernel_size=1)
        self.branch5x5_2 = BasicConv2d(c(48), c(64), kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, c(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(c(64), c(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(c(96), c(96), kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        # TF's average pool does not count the padded zeros.
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, c, in_channels):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, c(384), kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, c(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(c(64), c(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(c(96), c(96), kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class FIDInceptionC(nn.Module):
    def __init__(self, c, in_channels, channels_7x7):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, c(192), kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, c(192), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, c(192), kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, c(192), kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for k in range(1, 6):
            bd = getattr(self, f"branch7x7dbl_{k}")(bd)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    def __init__(self, c, in_channels):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, c(192), kernel_size=1)
        self.branch3x3_2 = BasicConv2d(c(192), c(320), kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, c(192), kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(c(192), c(192), kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(c(192), c(192), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(c(192), c(192), kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class FIDInceptionE(nn.Module):
    """max_pool False: FIDInceptionE_1 (Mixed_7b); True: FIDInceptionE_2 (Mixed_7c)."""

    def __init__(self, c, in_channels, max_pool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(in_channels, c(320), kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, c(384), kernel_size=1)
        self.branch3x3_2a = BasicConv2d(c(384), c(384), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(c(384), c(384), kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, c(448), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(c(448), c(384), kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(c(384), c(384), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(c(384), c(384), kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, c(192), kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.max_pool:  # FIDInceptionE_2: the TF graph uses a max pool here
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return torch.cat([b1, b3, bd, self.branch_pool(pooled)], 1)


class FidInception(nn.Module):
    """pytorch-fid's InceptionV3(output_blocks=[3]) at 1/divisor width; forward → pool3 (B, 2048/divisor)."""

    def __init__(self, divisor: int = 1, num_classes: int = 1008):
        super().__init__()
        def c(n):
            assert n % divisor == 0, (n, divisor)
            return n // divisor
        self.Conv2d_1a_3x3 = BasicConv2d(3, c(32), kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(c(32), c(32), kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(c(32), c(64), kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(c(64), c(80), kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(c(80), c(192), kernel_size=3)
        self.Mixed_5b = FIDInceptionA(c, c(192), pool_features=c(32))
        self.Mixed_5c = FIDInceptionA(c, c(256), pool_features=c(64))
        self.Mixed_5d = FIDInceptionA(c, c(288), pool_features=c(64))
        self.Mixed_6a = InceptionB(c, c(288))
        self.Mixed_6b = FIDInceptionC(c, c(768), channels_7x7=c(128))
        self.Mixed_6c = FIDInceptionC(c, c(768), channels_7x7=c(160))
        self.Mixed_6d = FIDInceptionC(c, c(768), channels_7x7=c(160))
        self.Mixed_6e = FIDInceptionC(c, c(768), channels_7x7=c(192))
        self.Mixed_7a = InceptionD(c, c(768))
        self.Mixed_7b = FIDInceptionE(c, c(1280), max_pool=False)
        self.Mixed_7c = FIDInceptionE(c, c(2048), max_pool=True)
        self.fc = nn.Linear(c(2048), num_classes) if num_classes > 0 else None

    def forward(self, images):
        x = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False)  # resize_input
        x = 2 * x - 1                                                                     # normalize_input
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for name in ["5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"]:
            x = getattr(self, f"Mixed_{name}")(x)
        return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)   # pool3 (B, 2048)


def randomise(model: nn.Module) -> nn.Module:
    """Redraws the BatchNorm affine and running statistics (constant at init), so every tensor matters, and the convs
    He-normal (fan_in), so that the signal survives the 20 random layers instead of the BatchNorm shifts taking over."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
                m.running_mean.copy_(0.1 * torch.randn_like(m.running_mean))
                m.running_var.copy_(0.5 + torch.rand_like(m.running_var))
    return model.eval()


# --------------------------------------------------------------------------- FID math (pytorch-fid's fid_score.py)

def activation_statistics(act: np.ndarray):
    """mu, sigma as calculate_activation_statistics, but mu in float64 (pytorch-fid's np.mean of float32
    activations accumulates in float32)."""
    act = np.asarray(act, dtype=np.float64)
    return np.mean(act, axis=0), np.cov(act, rowvar=False)


def calculate_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid's calculate_frechet_distance; returns (fid, whether the eps offset was needed)."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    assert mu1.shape == mu2.shape and sigma1.shape == sigma2.shape
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    offset_used = False
    if not np.isfinite(covmean).all():
        offset_used = True
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"Imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    tr_covmean = np.trace(covmean)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean), offset_used


# --------------------------------------------------------------------------- self-check against pytorch-fid's construction

def _pytorch_fid_model():
    """pytorch-fid's fid_inception_v3() without the download: torchvision's Inception3 with the FID blocks as
    subclasses of torchvision's InceptionA/C/E, each forward as pytorch-fid's."""
    import torchvision.models.inception as tvi

    class A(tvi.InceptionA):
        def forward(self, x):
            b1 = self.branch1x1(x)
            b5 = self.branch5x5_2(self.branch5x5_1(x))
            b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
            return torch.cat([b1, b5, b3, bp], 1)

    class C(tvi.InceptionC):
        def forward(self, x):
            b1 = self.branch1x1(x)
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            bd = self.branch7x7dbl_5(self.branch7x7dbl_4(self.branch7x7dbl_3(self.branch7x7dbl_2(self.branch7x7dbl_1(x)))))
            bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
            return torch.cat([b1, b7, bd, bp], 1)

    class E(tvi.InceptionE):
        def __init__(self, in_channels, max_pool):
            super().__init__(in_channels)
            self.max_pool = max_pool

        def forward(self, x):
            b1 = self.branch1x1(x)
            b3 = self.branch3x3_1(x)
            b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
            bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
            pooled = (F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool
                      else F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
            return torch.cat([b1, b3, bd, self.branch_pool(pooled)], 1)

    m = tvi.Inception3(num_classes=1008, aux_logits=False, init_weights=False)
    m.Mixed_5b, m.Mixed_5c, m.Mixed_5d = A(192, pool_features=32), A(256, pool_features=64), A(288, pool_features=64)
    m.Mixed_6b, m.Mixed_6c = C(768, channels_7x7=128), C(768, channels_7x7=160)
    m.Mixed_6d, m.Mixed_6e = C(768, channels_7x7=160), C(768, channels_7x7=192)
    m.Mixed_7b, m.Mixed_7c = E(1280, False), E(2048, True)
    return m


def _pytorch_fid_pool3(m, images):
    x = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False)
    x = 2 * x - 1
    blocks = [m.Conv2d_1a_3x3, m.Conv2d_2a_3x3, m.Conv2d_2b_3x3, nn.MaxPool2d(kernel_size=3, stride=2),
              m.Conv2d_3b_1x1, m.Conv2d_4a_3x3, nn.MaxPool2d(kernel_size=3, stride=2),
              m.Mixed_5b, m.Mixed_5c, m.Mixed_5d, m.Mixed_6a, m.Mixed_6b, m.Mixed_6c, m.Mixed_6d, m.Mixed_6e,
              m.Mixed_7a, m.Mixed_7b, m.Mixed_7c, nn.AdaptiveAvgPool2d(output_size=(1, 1))]
    for b in blocks:
        x = b(x)
    return x.flatten(1)


def check_full() -> int:
    torch.manual_seed(0)
    ours = randomise(FidInception(1))
    theirs = _pytorch_fid_model().eval()
    sd = ours.state_dict()
    missing, unexpected = theirs.load_state_dict(sd, strict=True), None
    n_params = sum(p.numel() for p in ours.parameters())
    x = torch.rand(1, 3, 64, 80)
    with torch.no_grad():
        a, b = ours(x), _pytorch_fid_pool3(theirs, x)
    err = float((a - b).abs().max())
    print(f"full width: {n_params} parameters, {len(sd)} state-dict keys, pool3 {tuple(a.shape)}, max |diff| {err:.3g}")
    return 0 if err == 0 else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-full", action="store_true", help="compare divisor 1 with pytorch-fid's construction")
    args = ap.parse_args()
    sys.exit(check_full() if args.check_full else 0)
