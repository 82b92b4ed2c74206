#!/usr/bin/env -S /usr/bin/python3
"""pytorch-fid's pt_inception-2015-12-05-6726825d.pth (downloaded elsewhere) → safetensors for FidInceptionV3.
    /usr/bin/python3 tools/fid_convert_weights.py pt_inception-2015-12-05-6726825d.pth pt_inception.safetensors"""
import sys, torch
sys.path.insert(0, __file__.rsplit("/", 1)[0]); from fixtures.common import save_safetensors
sd = torch.load(sys.argv[1], map_location="cpu")
save_safetensors(sys.argv[2], {k: v.contiguous() for k, v in sd.items() if not k.endswith("num_batches_tracked")})
print(f"{len(sd)} tensors → {sys.argv[2]}")
