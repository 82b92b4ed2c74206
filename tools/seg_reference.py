#!/usr/bin/env -S /usr/bin/python3
"""PyTorch transcription of SPEC §3 (UPerNet as mmsegmentation), module names = Ascan checkpoint keys.

Follows mmseg's EncoderDecoder + UPerHead + FCNHead and mmcv's ConvModule (formulas, defaults, module names; no
mmseg code): conv (no bias) -> BN -> ReLU under ``conv``/``bn``; ``decode_head.psp_modules.{i}.1``,
``bottleneck``, ``lateral_convs.{i}``, ``fpn_convs.{i}``, ``fpn_bottleneck``, ``conv_seg``; ``auxiliary_head.convs.0``,
``conv_seg``. Every resize is bilinear with align_corners=False. The backbone is tools/ascan_torch.py's AsCAN built
features-only (no final norm, no head), returning its four stage outputs.

The fixtures it backs are tools/fixtures/segmentation.py (tests/fixtures/segmentation/README.md says what they hold).
Run directly to print the parameter counts of the upernet_ascan_* presets and regenerate those fixtures:

    /usr/bin/python3 tools/seg_reference.py            # counts, then tools/gen_fixtures.py --only segmentation
"""
import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ascan_torch as A  # noqa: E402


def resize(x, size):
    """mmseg's resize as the heads call it: bilinear, align_corners=False."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ConvModule(nn.Module):
    """mmcv ConvModule with norm_cfg BN and act_cfg ReLU: bias='auto' gives no conv bias because a norm follows."""

    def __init__(self, cin, cout, k, padding=None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=k // 2 if padding is None else padding, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.activate = nn.ReLU()

    def init_weights(self):
        # mmcv: kaiming_init(conv, a=0, nonlinearity='relu') -> kaiming normal, mode fan_out; norm constant 1 / 0.
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")
        nn.init.ones_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def forward(self, x):
        return self.activate(self.bn(self.conv(x)))


class BaseDecodeHead(nn.Module):
    """conv_seg (1x1, bias) and optional Dropout2d, registered first as in mmseg's BaseDecodeHead.__init__."""

    def __init__(self, channels, num_classes, dropout_ratio):
        super().__init__()
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None

    def init_weights(self):
        # init_cfg=dict(type='Normal', std=0.01, override=dict(name='conv_seg')): mean 0, std 0.01, bias 0.
        nn.init.normal_(self.conv_seg.weight, 0, 0.01)
        nn.init.zeros_(self.conv_seg.bias)
        for m in self.modules():
            if isinstance(m, ConvModule):
                m.init_weights()

    def cls_seg(self, x):
        if self.dropout is not None:
            x = self.dropout(x)
        return self.conv_seg(x)


class UPerHead(BaseDecodeHead):
    def __init__(self, in_channels, channels, num_classes, pool_scales=(1, 2, 3, 6), dropout_ratio=0.1):
        super().__init__(channels, num_classes, dropout_ratio)
        last = in_channels[-1]
        # mmseg's PPM: a ModuleList of Sequential(AdaptiveAvgPool2d(s), ConvModule 1x1).
        self.psp_modules = nn.ModuleList(nn.Sequential(nn.AdaptiveAvgPool2d(s), ConvModule(last, channels, 1)) for s in pool_scales)
        self.bottleneck = ConvModule(last + len(pool_scales) * channels, channels, 3)
        self.lateral_convs = nn.ModuleList(ConvModule(c, channels, 1) for c in in_channels[:-1])
        self.fpn_convs = nn.ModuleList(ConvModule(channels, channels, 3) for _ in in_channels[:-1])
        self.fpn_bottleneck = ConvModule(len(in_channels) * channels, channels, 3)

    def psp_forward(self, x):
        outs = [x] + [resize(ppm(x), x.shape[2:]) for ppm in self.psp_modules]
        return self.bottleneck(torch.cat(outs, dim=1))

    def forward(self, inputs):
        laterals = [conv(inputs[i]) for i, conv in enumerate(self.lateral_convs)]
        laterals.append(self.psp_forward(inputs[-1]))
        n = len(laterals)
        for i in range(n - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + resize(laterals[i], laterals[i - 1].shape[2:])
        outs = [self.fpn_convs[i](laterals[i]) for i in range(n - 1)] + [laterals[-1]]
        for i in range(n - 1, 0, -1):
            outs[i] = resize(outs[i], outs[0].shape[2:])
        return self.cls_seg(self.fpn_bottleneck(torch.cat(outs, dim=1)))


class FCNHead(BaseDecodeHead):
    """num_convs 3x3 ConvModules, concat_input=False, on inputs[in_index]."""

    def __init__(self, in_channels, channels, num_classes, in_index=2, num_convs=1, dropout_ratio=0.1):
        super().__init__(channels, num_classes, dropout_ratio)
        self.in_index = in_index
        self.convs = nn.Sequential(*[ConvModule(in_channels if i == 0 else channels, channels, 3) for i in range(num_convs)])

    def forward(self, inputs):
        return self.cls_seg(self.convs(inputs[self.in_index]))


class AsCANFeatures(A.AsCAN):
    """AsCAN features-only: no final norm, no head; forward returns the four stage outputs (strides 4..32)."""

    def __init__(self, widths, stages, **kw):
        super().__init__(widths, stages, **kw)
        del self.norm
        del self.head

    def forward(self, x):
        x = self.stem(x)
        outs = []
        for s in self.stages:
            x = s(x)
            outs.append(x)
        return outs


class EncoderDecoder(nn.Module):
    def __init__(self, backbone, in_channels, num_classes=150, channels=512, aux_channels=256, dropout_ratio=0.1, pool_scales=(1, 2, 3, 6)):
        super().__init__()
        self.backbone = backbone
        self.decode_head = UPerHead(in_channels, channels, num_classes, pool_scales, dropout_ratio)
        self.auxiliary_head = FCNHead(in_channels[2], aux_channels, num_classes, 2, 1, dropout_ratio) if aux_channels else None
        self.decode_head.init_weights()
        if self.auxiliary_head is not None:
            self.auxiliary_head.init_weights()

    def forward_train(self, x):
        """(decode logits at stride 4, aux logits at stride 16), NCHW."""
        feats = self.backbone(x)
        aux = self.auxiliary_head(feats) if self.auxiliary_head is not None else None
        return self.decode_head(feats), aux

    def forward(self, x):
        """mmseg inference: decode logits resized to the input size."""
        return resize(self.decode_head(self.backbone(x)), x.shape[2:])


def loss(model, x, labels, aux_weight=0.4, ignore_index=255):
    """Cross-entropy of both heads' logits resized to the label size (torch's mean over non-ignored pixels)."""
    dec, aux = model.forward_train(x)
    size = labels.shape[1:]
    total = F.cross_entropy(resize(dec, size), labels, ignore_index=ignore_index)
    if aux is not None:
        total = total + aux_weight * F.cross_entropy(resize(aux, size), labels, ignore_index=ignore_index)
    return dec, aux, total


def upernet_ascan(name, num_classes=150, channels=512, aux_channels=256):
    widths, stages = A.PRESETS[name]
    return EncoderDecoder(AsCANFeatures(widths, stages), list(widths), num_classes, channels, aux_channels)


if __name__ == "__main__":
    for name in A.PRESETS:
        c, a = (64, 32) if name == "ascan_nano" else (512, 256)
        m = upernet_ascan(name, channels=c, aux_channels=a)
        print(f"upernet_{name} (decode {c}, aux {a}): params {sum(p.numel() for p in m.parameters()):,}")
    import gen_fixtures
    sys.exit(gen_fixtures.main(["--only", "segmentation"]))
