#!/usr/bin/env -S /usr/bin/python3
"""Ascan against PyTorch on the same model, the same weights and the same CPU, timed interleaved in one run.

    /usr/bin/python3 bench/compare_torch.py --model ascan_t --batch 16                 # one case, printed
    /usr/bin/python3 bench/compare_torch.py --model ascan_nano --image-size 64 --batch 32 --train --json-out r.jsonl
    /usr/bin/python3 bench/compare_torch.py --render r.jsonl [--update-readme bench/README.md]

One case:
1. Builds the model in PyTorch (tools/ascan_torch.py for ascan_*, torchvision for resnet50 / convnext_tiny /
   vit_b_16) from --seed, redraws the constant-initialised tensors (norm affines, BN statistics, biases, ViT class
   token and head, ConvNeXt layer scale) so every weight matters, and writes its state dict as safetensors.
2. Parity: `./ascan infer` on those weights and a random input (batch min(B, 2)); its logits must be within
   1e-4 of PyTorch's float64 logits, relative to the largest |logit| (PyTorch's own float32 error is shown too).
3. Timing: long-lived worker processes, each timing its own steps with a monotonic clock:
     ascan           `./ascan bench --serve` with the same weights (same protocol as the torch workers)
     torch-best      OpenBLAS with OPENBLAS_CORETYPE=SkylakeX, torch.set_num_threads(T), OPENBLAS_NUM_THREADS=T,
                     inference under torch.inference_mode() (no_grad and more), denormals flushed, and the fastest of
                     NCHW / channels_last × OpenMP's default wait policy / OMP_WAIT_POLICY=PASSIVE (all measured
                     first, interleaved; PASSIVE matters on a busy machine, where spinning threads wait for a
                     descheduled partner)
     torch-default   the same script with the environment stripped of every OPENBLAS_* variable and the
                     system's libblas.so.3 (what `import torch` gets out of the box)
   They run in rounds (ascan, best, default, with the order rotated each round), k steps per block, a short pause
   between blocks so one side's spinning threads go to sleep before the next side starts. The ratio of a round is
   PyTorch's median step time / Ascan's median step time (> 1: Ascan is faster); min, median and max over rounds.
   Peak RSS of each worker is its VmHWM (the PyTorch number includes the interpreter: its baseline after
   `import torch` is reported beside it).
A training step on both sides is forward, cross-entropy on random labels, backward, AdamW (torch defaults), and
zero-grad (set_to_none=True on the PyTorch side, its faster form).
Generators (unet_*, vae_*): the twin is tools/unet_reference.py / tools/vae_reference.py (same keys); a step is one
denoiser call on (x, t, y) or the VAE's decoder on latents of an --image-size image (training: MSE on a random
target; encode, sample, decode, L1 + 1e-6 KL); parity is left to the fixture tests (`ascan infer` runs image models).

OpenBLAS: Debian's python3-torch links libblas.so.3, which may be the reference (netlib) BLAS. torch-best needs
OpenBLAS: --openblas DIR, $ASCAN_OPENBLAS, the system's openblas-pthread/openmp directories, or bench/.openblas
(bench/run_compare.sh fetches Debian's libopenblas0-pthread there with `apt-get download`, no install).
The orchestrator re-executes itself with the torch-best environment, so its own PyTorch work uses it too.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

TORCHVISION = ("resnet50", "convnext_tiny", "vit_b_16")
# Generators: a step is one denoiser call (UNet: x, t, y) or the VAE's decoder on latents (the image size is the
# decoded size); training: MSE on a random target (UNet), encode + sample + decode, L1 + KL (VAE), as `ascan bench`.
REEXEC_FLAG = "ASCAN_COMPARE_REEXEC"
ORIG_LD_PATH = "ASCAN_COMPARE_ORIG_LD_LIBRARY_PATH"
PARITY_TOL = 1e-4

# Issue 5's targets: median speed ratio (PyTorch-best time / Ascan time), by (model, mode, batch).
TARGETS = {
    ("ascan_t", "infer", 1): 2.0, ("ascan_t", "infer", 16): 1.5, ("ascan_nano", "infer", 64): 2.0,
    ("ascan_t", "train", 8): 1.5, ("ascan_nano", "train", 32): 1.5,
    **{(m, "infer", b): 1.0 for m in TORCHVISION for b in (1, 16)},
    # The generation issue: paper-scale UNet forward at batch 8 on 32×32×4 latents, the SD VAE decoder at 256×256.
    ("unet_imagenet_256", "infer", 8): 2.0, ("vae_sd", "infer", 1): 2.0,
}


def is_generator(name: str) -> bool:
    return name.startswith(("unet_", "vae_"))


def default_classes(name: str) -> int | None:
    """--num-classes when not given: 1000 for classifiers, the UNet preset's classes, none for a VAE."""
    if name.startswith("unet_"):
        import unet_reference
        return unet_reference.PRESETS[name]["num_classes"] if name in unet_reference.PRESETS else 1000
    return None if name.startswith("vae_") else 1000


def vae_config(name: str) -> dict:
    import vae_reference
    cfgs = {"vae_sd": vae_reference.SD, "vae_shapes": vae_reference.SHAPES}
    if name not in cfgs:
        raise SystemExit(f"compare_torch: no PyTorch twin for '{name}' (have {', '.join(cfgs)})")
    return cfgs[name]


def vae_factor(name: str) -> int:
    return 2 ** (len(vae_config(name)["block_out_channels"]) - 1)


# --------------------------------------------------------------------------- environment

def find_openblas(explicit: str | None) -> str | None:
    """A directory holding OpenBLAS's libblas.so.3, or None."""
    candidates = [explicit, os.environ.get("ASCAN_OPENBLAS"),
                  "/usr/lib/x86_64-linux-gnu/openblas-pthread", "/usr/lib/x86_64-linux-gnu/openblas-openmp",
                  str(ROOT / "bench" / ".openblas" / "usr" / "lib" / "x86_64-linux-gnu" / "openblas-pthread")]
    for c in candidates:
        if c and (Path(c) / "libblas.so.3").exists():
            return str(Path(c).resolve())
    return None


def stripped_env() -> dict[str, str]:
    """The environment the script was started with, minus BLAS/OpenMP tuning variables (they would leak into
    'default'), and with LD_LIBRARY_PATH as it was before the re-exec put OpenBLAS in front."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENBLAS_", "GOTO", "OMP_", "MKL_")) and k not in (REEXEC_FLAG, ORIG_LD_PATH)}
    if ORIG_LD_PATH in os.environ:
        env.pop("LD_LIBRARY_PATH", None)
        if os.environ[ORIG_LD_PATH]:
            env["LD_LIBRARY_PATH"] = os.environ[ORIG_LD_PATH]
    return env


def best_env(threads: int, openblas: str | None) -> dict[str, str]:
    env = stripped_env()
    # SkylakeX kernels need AVX-512; on a CPU without it they die with SIGILL, Haswell's are the AVX2 ones.
    avx512 = "avx512f" in Path("/proc/cpuinfo").read_text()
    env.update(OPENBLAS_CORETYPE="SkylakeX" if avx512 else "Haswell", OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    if openblas:
        env["LD_LIBRARY_PATH"] = openblas + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    return env


def vmhwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def blas_library() -> str:
    """The BLAS shared object mapped into this process (after `import torch`): OpenBLAS's core library when
    present (its libblas.so.3 is a thin wrapper), else the reference libblas."""
    with open("/proc/self/maps") as f:
        libs = sorted({line.split()[-1] for line in f if "blas" in line.rsplit("/", 1)[-1]})
    openblas = [lib for lib in libs if "openblas" in Path(lib).name]
    return (openblas or libs or ["none mapped"])[0]


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


# --------------------------------------------------------------------------- models

def build_torch(name: str, num_classes: int, image_size: int):
    if name.startswith("unet_"):
        import unet_reference  # tools/unet_reference.py: our transcription of UNetModel, same state-dict keys
        if name not in unet_reference.PRESETS:
            raise SystemExit(f"compare_torch: no PyTorch twin for '{name}' (have {', '.join(unet_reference.PRESETS)})")
        return unet_reference.UNet(**dict(unet_reference.PRESETS[name], num_classes=num_classes))
    if name.startswith("vae_"):
        import vae_reference  # tools/vae_reference.py: diffusers' AutoencoderKL transcribed, diffusers' keys
        return vae_reference.AutoencoderKL(vae_config(name))
    if name.startswith("upernet_ascan_"):
        import seg_reference  # tools/seg_reference.py: mmseg's UPerNet transcribed, module names = Ascan's keys
        backbone = name[len("upernet_"):]
        channels, aux = (64, 32) if backbone == "ascan_nano" else (512, 256)
        return seg_reference.upernet_ascan(backbone, num_classes=num_classes, channels=channels, aux_channels=aux)
    if name.startswith("ascan_"):
        import ascan_torch
        return ascan_torch.create(name, num_classes=num_classes)
    import torchvision.models as tvm
    if name == "vit_b_16":
        return tvm.vit_b_16(weights=None, num_classes=num_classes, image_size=image_size)
    if name in TORCHVISION:
        return getattr(tvm, name)(weights=None, num_classes=num_classes)
    raise SystemExit(f"compare_torch: no PyTorch twin for model '{name}' (have ascan_*, {', '.join(TORCHVISION)})")


def randomise(model):
    """Redraws what is initialised to constants, so the parity check sees every tensor (the fixture tool's rule)."""
    from fixtures.torchvision_models import _randomise
    return _randomise(model)


def randomise_generator(model):
    """The generators' constants: GroupNorm affines, biases, and the zero-initialised adaLN modulations and conv_out
    (as tools/fixtures/unet.py does), so the blocks are not identities and the output is not zero."""
    import torch
    import torch.nn as nn
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.GroupNorm, nn.LayerNorm)) and m.weight is not None:
                m.weight.copy_(1 + 0.2 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                m.bias.copy_(0.02 * torch.randn_like(m.bias))
        for p in model.parameters():
            if not p.any():
                p.copy_(0.02 * torch.randn_like(p))
    return model


def generator_inputs(a, g):
    """The random inputs of a generator step, the kinds `ascan bench` feeds: UNet x (B, C, S, S), t (B) float
    timesteps in [0, 1000), y (B) class ids in [0, K] (K = the null class), a random target; VAE latents
    (B, 4, S/f, S/f) for the decoder, images (B, 3, S, S) for a training step."""
    import torch
    if a.model.startswith("unet_"):
        import unet_reference
        c = unet_reference.PRESETS[a.model]["in_channels"]
        x = torch.randn(a.batch, c, a.image_size, a.image_size, generator=g)
        t = torch.randint(0, 1000, (a.batch,), generator=g).float()
        y = torch.randint(0, a.num_classes + 1, (a.batch,), generator=g)
        return {"x": x, "t": t, "y": y, "target": torch.randn(x.shape, generator=g)}
    f, cfg = vae_factor(a.model), vae_config(a.model)
    z = torch.randn(a.batch, cfg["latent_channels"], a.image_size // f, a.image_size // f, generator=g)
    img = torch.randn(a.batch, cfg["in_channels"], a.image_size, a.image_size, generator=g)
    return {"x": z, "img": img}


def load_weights(model, path: str) -> None:
    from fixtures.common import load_safetensors
    state = {k: v for k, v in load_safetensors(path)[0].items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"compare_torch: {path} does not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}")


# --------------------------------------------------------------------------- worker (one side of the race)

def worker_main(a) -> None:
    """A PyTorch worker speaking the same protocol as `ascan bench --serve`."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    baseline = vmhwm_mb()
    model = build_torch(a.model, a.num_classes, a.image_size)
    load_weights(model, a.weights)
    g = torch.Generator().manual_seed(a.seed)
    if is_generator(a.model):
        return serve(generator_step(a, model, generator_inputs(a, g)), a, baseline)
    x = torch.randn(a.batch, 3, a.image_size, a.image_size, generator=g)
    segmenter = a.model.startswith("upernet_")
    # A segmenter trains on label maps (decode + 0.4 aux cross-entropy, as `ascan bench --train` times it).
    labels = torch.randint(0, a.num_classes, (a.batch, a.image_size, a.image_size) if segmenter else (a.batch,), generator=g)
    if a.layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if a.train:
        model.train()
        opt = torch.optim.AdamW(model.parameters())

        def step():
            if segmenter:
                import seg_reference
                loss = seg_reference.loss(model, x, labels)[2]
            else:
                loss = F.cross_entropy(model(x), labels)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    else:
        model.eval()

        def step():
            with torch.inference_mode():
                model(x)

    serve(step, a, baseline)


def generator_step(a, model, inp):
    """One step of a UNet (denoiser call; training: MSE on a random target) or a VAE (decoder on latents; training:
    encode, sample the posterior, decode, mean L1 + 1e-6 · KL), as `ascan bench` times them."""
    import torch
    import torch.nn.functional as F
    cl = a.layout == "channels_last"
    if cl:
        model = model.to(memory_format=torch.channels_last)
        inp = {k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v for k, v in inp.items()}
    unet = a.model.startswith("unet_")
    if not a.train:
        model.eval()
        x = inp["x"]
        if unet:
            t, y = inp["t"], inp["y"]

            def step():
                with torch.inference_mode():
                    model(x, t, y)
        else:
            def step():
                with torch.inference_mode():
                    model.decode(x)
        return step
    model.train()
    opt = torch.optim.AdamW(model.parameters())
    if unet:
        def loss():
            return F.mse_loss(model(inp["x"], inp["t"], inp["y"]), inp["target"])
    else:
        import vae_reference

        def loss():
            mean, logvar = model.encode(inp["img"])
            z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
            return vae_reference.loss(model.decode(z), inp["img"], mean, logvar, 1e-6)

    def step():
        loss().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def serve(step, a, baseline: float) -> None:
    """Warm-up, then the `ascan bench --serve` protocol on stdin/stdout around `step`."""
    import torch

    def timed() -> float:
        t = time.perf_counter()
        step()
        return (time.perf_counter() - t) * 1e3

    warm = [timed() for _ in range(a.warmup)]
    ready = {"model": a.model, "layout": a.layout, "torch": torch.__version__, "blas": blas_library(),
             "threads": torch.get_num_threads(), "rss_baseline_mb": round(baseline, 1),
             "warmup_ms": [round(w, 3) for w in warm],
             "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE")}
    print("ready " + json.dumps(ready), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "quit":
            break
        if parts[0] == "rss":
            print(f"{vmhwm_mb():.1f}", flush=True)
        elif parts[0] == "run":
            n = int(parts[1]) if len(parts) > 1 else 1
            print(" ".join(f"{timed():.3f}" for _ in range(n)), flush=True)
        else:
            print(f"error: unknown command {line.strip()!r}", flush=True)


class Worker:
    """A long-lived side of the race; each answers 'run N' with its own N step times (ms)."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str]):
        self.name = name
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, bufsize=1)
        self.info: dict = {}

    def wait_ready(self) -> "Worker":
        line = self.proc.stdout.readline()
        if not line.startswith("ready "):
            self.proc.kill()
            raise SystemExit(f"compare_torch: worker {self.name} did not start (said {line!r}); see its stderr above")
        self.info = json.loads(line[len("ready "):])
        return self

    def ask(self, command: str) -> str:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer or answer.startswith("error"):
            raise SystemExit(f"compare_torch: worker {self.name} answered {answer!r} to {command!r}")
        return answer

    def run(self, n: int) -> list[float]:
        return [float(t) for t in self.ask(f"run {n}").split()]

    def rss(self) -> float:
        return float(self.ask("rss"))

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()


def classes_args(a) -> list[str]:
    return [] if a.num_classes is None else ["--num-classes", str(a.num_classes)]


def torch_worker(name: str, a, layout: str, weights: Path, env: dict[str, str], warmup: int) -> Worker:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--model", a.model, "--batch", str(a.batch),
           "--image-size", str(a.image_size), "--threads", str(a.threads), *classes_args(a),
           "--seed", str(a.seed), "--layout", layout, "--weights", str(weights), "--warmup", str(warmup)]
    if a.train:
        cmd.append("--train")
    return Worker(name, cmd, env)


def ascan_worker(a, weights: Path) -> Worker:
    cmd = [str(ROOT / "ascan"), "bench", "--serve", "--model", a.model, "--batch-size", str(a.batch),
           "--image-size", str(a.image_size), "--threads", str(a.threads), *classes_args(a),
           "--seed", str(a.seed), "--warmup", str(a.warmup), "--weights", str(weights)]
    if a.train:
        cmd.append("--train")
    return Worker("ascan", cmd, stripped_env())


# --------------------------------------------------------------------------- one case

def parity(a, workdir: Path) -> dict:
    """Writes the shared weights; Ascan's logits (`ascan infer`) against PyTorch's float64 logits."""
    import copy
    import torch
    from fixtures.common import load_safetensors, save_safetensors
    torch.manual_seed(a.seed)
    gen = is_generator(a.model)
    model = (randomise_generator if gen else randomise)(build_torch(a.model, a.num_classes, a.image_size)).eval()
    state = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items() if v.is_floating_point()}
    weights = workdir / "weights.safetensors"
    save_safetensors(weights, state)
    if gen:
        # `ascan infer` runs image models only; the UNet's and VAE's agreement with these transcriptions is what the
        # fixture tests check (tools/fixtures/unet.py, vae.py). Here only the shared weights are written.
        del model
        return {"ascan_rel_err": None, "torch_f32_rel_err": None, "max_abs_logit": None, "same_top1": None,
                "ok": None, "note": "not checked here: fixture tests (unet, vae)", "weights": str(weights)}
    x = torch.randn(min(a.batch, 2), 3, a.image_size, a.image_size)
    save_safetensors(workdir / "input.safetensors", {"input": x})
    with torch.no_grad():
        out32 = model(x).double()
        ref = copy.deepcopy(model).double()(x.double())
    del model
    cmd = [str(ROOT / "ascan"), "infer", "--model", a.model, "--num-classes", str(a.num_classes),
           "--weights", str(weights), "--input", str(workdir / "input.safetensors"), "--output", str(workdir / "out.safetensors")]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=stripped_env())
    got = load_safetensors(workdir / "out.safetensors")[0]["output"].double()
    scale = ref.abs().max().item()
    rel = (got - ref).abs().max().item() / scale
    return {"ascan_rel_err": rel, "torch_f32_rel_err": (out32 - ref).abs().max().item() / scale,
            "max_abs_logit": scale,
            # A classifier's top-1 per image; a segmenter's class per pixel (logits (B, K, H, W)).
            "same_top1": bool((got.argmax(1 if got.dim() == 4 else -1) == ref.argmax(1 if ref.dim() == 4 else -1)).all()), "ok": rel <= PARITY_TOL,
            "weights": str(weights)}


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def interleave(workers: list[Worker], steps: dict[str, int], rounds: int, pause: float) -> dict[str, list[list[float]]]:
    """rounds × (each worker runs its block), order rotated every round; per worker the list of blocks."""
    blocks: dict[str, list[list[float]]] = {w.name: [] for w in workers}
    for r in range(rounds):
        order = workers[r % len(workers):] + workers[:r % len(workers)]
        for w in order:
            time.sleep(pause)  # let the previous side's spinning threads (OpenMP, OpenBLAS) go idle
            blocks[w.name].append(w.run(steps[w.name]))
    return blocks


def run_case(a) -> dict:
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    load_before = os.getloadavg()
    workdir = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="ascan-compare-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return measure(a, workdir, started, load_before)
    finally:
        if not a.workdir:  # the weights alone can be hundreds of MB
            shutil.rmtree(workdir, ignore_errors=True)


def measure(a, workdir: Path, started: str, load_before: tuple[float, float, float]) -> dict:
    mode = "train" if a.train else "infer"
    print(f"== {a.model} {mode} b{a.batch} {a.image_size}px, {a.threads} threads (work dir {workdir})", file=sys.stderr)
    par = parity(a, workdir)
    if par["ok"] is None:
        print(f"   parity: {par['note']}", file=sys.stderr)
    else:
        print(f"   parity: ascan rel err {par['ascan_rel_err']:.2e} (torch f32 {par['torch_f32_rel_err']:.2e}) "
              f"{'ok' if par['ok'] else 'FAILED'}", file=sys.stderr)
    weights = Path(par["weights"])
    openblas = find_openblas(a.openblas)
    benv = best_env(a.threads, openblas)

    # Ascan and every PyTorch variant warm up at once (untimed); then the fastest variant is picked, interleaved.
    # Variants: NCHW or channels_last × OpenMP's default wait policy or PASSIVE (on a busy machine, threads that
    # spin at barriers while their partner is descheduled can make two threads slower than one).
    ascan = ascan_worker(a, weights)
    layouts = {}
    for lay in ("nchw", "channels_last"):
        for policy in a.wait_policies.split(","):
            env = dict(benv, OMP_WAIT_POLICY=policy.upper()) if policy != "default" else benv
            name = lay if policy == "default" else f"{lay}+{policy}"
            layouts[name] = torch_worker(f"torch-{name}", a, lay, weights, env, a.warmup)
    workers = [ascan, *layouts.values()]
    default = None
    try:
        for w in workers:
            w.wait_ready()
        probe = {n: median(b[0]) for n, b in interleave(workers, {w.name: 1 for w in workers}, 1, a.pause).items()}

        def steps_for(ms: float) -> int:  # steps in a block of about --block-seconds
            return max(1, min(64, round(a.block_seconds * 1000 / ms)))

        kc = steps_for(median([probe[w.name] for w in layouts.values()]))
        calib = interleave(list(layouts.values()), {w.name: kc for w in layouts.values()}, a.calibration_rounds, a.pause)
        layout_ms = {lay: median([t for blk in calib[f"torch-{lay}"] for t in blk]) for lay in layouts}
        best_layout = min(layout_ms, key=layout_ms.get)
        best = layouts[best_layout]
        best.name = "torch-best"
        for lay, w in layouts.items():
            if lay != best_layout:
                w.close()
        k = steps_for(max(probe["ascan"], layout_ms[best_layout]))
        print(f"   layouts: {', '.join(f'{l} {t:.1f} ms' for l, t in layout_ms.items())} -> {best_layout}; "
              f"{k} step(s) per block", file=sys.stderr)

        racers, steps = [ascan, best], {"ascan": k, "torch-best": k}
        default_note = None
        if not a.no_default:
            # Started alone, after the others are set up: its one warm-up step runs on an otherwise idle machine,
            # so when it is too slow to interleave (reference BLAS), that step is its figure.
            default = torch_worker("torch-default", a, best_layout.split("+")[0], weights, stripped_env(), 1).wait_ready()
            workers.append(default)
            if default.info["warmup_ms"][0] > a.default_cutoff * 1000:
                default_note = "one step, not interleaved (slower than --default-cutoff)"
            else:
                racers.append(default)
                steps["torch-default"] = 1
        blocks = interleave(racers, steps, a.rounds, a.pause)
        rss = {w.name: w.rss() for w in racers}
        if default is not None and "torch-default" not in rss:
            rss["torch-default"] = default.rss()
    finally:
        for w in workers:
            w.close()

    med = {n: [median(b) for b in bl] for n, bl in blocks.items()}
    ratios = [t / s for t, s in zip(med["torch-best"], med["ascan"])]
    all_ms = {n: sorted(t for b in bl for t in b) for n, bl in blocks.items()}
    result = {
        "model": a.model, "mode": mode, "batch": a.batch, "image_size": a.image_size, "threads": a.threads,
        "num_classes": a.num_classes, "rounds": a.rounds, "steps_per_block": k,
        "ascan_ms": median(all_ms["ascan"]), "ascan_ms_min": all_ms["ascan"][0], "ascan_ms_max": all_ms["ascan"][-1],
        "torch_best_ms": median(all_ms["torch-best"]), "torch_best_layout": best_layout,
        "torch_layout_ms": layout_ms,
        "ratio_median": median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
        "round_medians_ms": {n: [round(x, 3) for x in v] for n, v in med.items()},
        "torch_default_ms": None, "torch_default_note": default_note, "ratio_default_median": None,
        "rss_mb": {"ascan": rss["ascan"], "torch_best": rss["torch-best"], "torch_default": rss.get("torch-default"),
                   "torch_baseline": best.info.get("rss_baseline_mb")},
        "parity": {k2: v for k2, v in par.items() if k2 != "weights"},
        "ascan_gmacs": ascan.info.get("gmacs"), "ascan_params": ascan.info.get("params"),
        "torch_blas_best": best.info.get("blas"), "torch_blas_default": default.info.get("blas") if default else None,
        "torch_version": best.info.get("torch"), "cpu": cpu_name(), "cores": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
        "started": started, "target": TARGETS.get((a.model, mode, a.batch)),
    }
    if "torch-default" in all_ms:
        result["torch_default_ms"] = median(all_ms["torch-default"])
        result["ratio_default_median"] = median([t / s for t, s in zip(med["torch-default"], med["ascan"])])
    elif default is not None:
        result["torch_default_ms"] = default.info["warmup_ms"][0]
        result["ratio_default_median"] = result["torch_default_ms"] / result["ascan_ms"]
    return result


def print_case(r: dict) -> None:
    t = r["target"]
    print(f"{r['model']} {r['mode']} batch {r['batch']} {r['image_size']}px, {r['threads']} threads "
          f"({r['rounds']} rounds × {r['steps_per_block']} steps, load {r['load_before'][0]:.1f} → {r['load_after'][0]:.1f})")
    print(f"  ascan          {r['ascan_ms']:9.2f} ms/step  (min {r['ascan_ms_min']:.2f}, max {r['ascan_ms_max']:.2f})  "
          f"{r['batch'] / r['ascan_ms'] * 1e3:8.2f} samples/s  peak RSS {r['rss_mb']['ascan']:.0f} MB")
    print(f"  torch best     {r['torch_best_ms']:9.2f} ms/step  ({r['torch_best_layout']}; "
          + ", ".join(f"{k} {v:.2f}" for k, v in r["torch_layout_ms"].items())
          + f")  peak RSS {r['rss_mb']['torch_best']:.0f} MB (interpreter + torch alone {r['rss_mb']['torch_baseline']:.0f} MB)")
    if r["torch_default_ms"] is not None:
        note = f"  [{r['torch_default_note']}]" if r["torch_default_note"] else ""
        print(f"  torch default  {r['torch_default_ms']:9.2f} ms/step  (BLAS {r['torch_blas_default']}){note}")
    print(f"  speed ratio torch-best/ascan: median {r['ratio_median']:.2f}× (min {r['ratio_min']:.2f}, max {r['ratio_max']:.2f})"
          + (f", target ≥ {t:.1f}× {'met' if r['ratio_median'] >= t else 'NOT met'}" if t else "")
          + (f"; vs default {r['ratio_default_median']:.2f}×" if r["ratio_default_median"] else ""))
    p = r["parity"]
    if p.get("ok") is None:
        print(f"  parity: {p.get('note', 'not checked')}")
        print(f"  torch-best BLAS: {r['torch_blas_best']}")
        return
    print(f"  parity: max|Δlogit|/max|logit| = {p['ascan_rel_err']:.2e} (PyTorch f32: {p['torch_f32_rel_err']:.2e}), "
          f"same top-1 {p['same_top1']}, {'ok' if p['ok'] else 'FAILED'} (tolerance {PARITY_TOL:g})")
    print(f"  torch-best BLAS: {r['torch_blas_best']}")


# --------------------------------------------------------------------------- table

README_BEGIN, README_END = "<!-- compare:begin -->", "<!-- compare:end -->"


def parity_cell(p: dict) -> str:
    if p.get("ok") is None:
        return "— (fixtures)"
    return f"{p['ascan_rel_err']:.1e}{'' if p['ok'] else ' ✗'}"


def case_label(r: dict) -> str:
    """`model` mode bB S px; the generators say what a step is (a denoiser call on latents, the VAE's decoder)."""
    m, s = r["model"], r["image_size"]
    if m.startswith("vae_") and r["mode"] == "infer":
        return f"`{m}` decoder b{r['batch']} {s}px"
    if m.startswith("unet_"):
        return f"`{m}` {r['mode']} b{r['batch']} {s}×{s} {'latent' if m != 'unet_shapes' else 'px'}"
    return f"`{m}` {r['mode']} b{r['batch']} {s}px"


def render(rows: list[dict]) -> str:
    def fmt(x, spec=".1f"):
        return "—" if x is None else format(x, spec)
    lines = ["| case | Ascan ms | PyTorch best ms (layout) | ratio median [min–max] | target | PyTorch default ms (ratio) "
             "| peak RSS Ascan / PyTorch MB | parity rel. err |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        t = r["target"]
        met = "" if t is None else (" ✓" if r["ratio_median"] >= t else " ✗")
        default = "—" if r["torch_default_ms"] is None else (
            f"{r['torch_default_ms']:.0f}{'*' if r['torch_default_note'] else ''} ({r['ratio_default_median']:.1f}×)")
        rss = r["rss_mb"]
        lines.append(
            f"| {case_label(r)} | {r['ascan_ms']:.1f} | "
            f"{r['torch_best_ms']:.1f} ({r['torch_best_layout'].replace('channels_last', 'CL').replace('nchw', 'NCHW')}) | "
            f"**{r['ratio_median']:.2f}×** [{r['ratio_min']:.2f}–{r['ratio_max']:.2f}] | "
            f"{'—' if t is None else f'≥ {t:.1f}×'}{met} | {default} | "
            f"{rss['ascan']:.0f} / {rss['torch_best']:.0f} (base {fmt(rss['torch_baseline'], '.0f')}) | "
            f"{parity_cell(r['parity'])} |")
    first = rows[0] if rows else {}
    loads = [r["load_before"][0] for r in rows] + [r["load_after"][0] for r in rows]
    lines.append("")
    lines.append(f"Measured {first.get('started', '?')} on {first.get('cpu', '?')} ({first.get('cores', '?')} cores), "
                 f"{first.get('threads', '?')} threads, torch {first.get('torch_version', '?')}; 1-minute load average "
                 f"between {min(loads, default=0):.1f} and {max(loads, default=0):.1f} during the runs. "
                 f"torch-best BLAS: `{Path(first.get('torch_blas_best') or '?').name}`; "
                 f"default BLAS: `{Path(first.get('torch_blas_default') or '?').name}`. "
                 "`*` = one step only (too slow to interleave).")
    return "\n".join(lines)


def update_readme(path: Path, table: str) -> None:
    text = path.read_text()
    if README_BEGIN not in text or README_END not in text:
        raise SystemExit(f"compare_torch: {path} has no {README_BEGIN} … {README_END} markers")
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    path.write_text(head + README_BEGIN + "\n" + table + "\n" + README_END + tail)


# --------------------------------------------------------------------------- main

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="ascan_nano, ascan_t, …, resnet50, convnext_tiny, vit_b_16")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--train", action="store_true", help="time a training step instead of inference")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--num-classes", type=int, default=None,
                   help="1000 for classifiers, the preset's for a UNet (unet_shapes 5), none for a VAE")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=7, help="interleaved rounds (the ratio's min/median/max are over these)")
    p.add_argument("--block-seconds", type=float, default=1.5, help="target length of one side's block of steps")
    p.add_argument("--calibration-rounds", type=int, default=3, help="interleaved rounds to pick NCHW or channels_last")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per worker before the race")
    p.add_argument("--pause", type=float, default=0.3, help="seconds between blocks (OpenBLAS threads spin ~0.1 s)")
    p.add_argument("--no-default", action="store_true", help="skip the torch-default column")
    p.add_argument("--wait-policies", default="default,passive",
                   help="OpenMP wait policies tried for torch-best (comma-separated: default, passive, active)")
    p.add_argument("--default-cutoff", type=float, default=20.0,
                   help="seconds: a default-environment step slower than this is reported from its warm-up, not interleaved")
    p.add_argument("--openblas", help="directory holding OpenBLAS's libblas.so.3 for torch-best")
    p.add_argument("--allow-system-blas", action="store_true", help="run torch-best without OpenBLAS if none is found")
    p.add_argument("--workdir", help="where weights and parity files go (default: a temporary directory)")
    p.add_argument("--json-out", help="append the case's result as one JSON line to this file")
    p.add_argument("--render", help="print the markdown table of a JSON-lines file and exit")
    p.add_argument("--update-readme", help="with --render: replace the table between the markers in this file")
    # worker mode (internal)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--layout", default="nchw", choices=["nchw", "channels_last"], help=argparse.SUPPRESS)
    p.add_argument("--weights", help=argparse.SUPPRESS)
    a = p.parse_args()

    if a.worker:
        worker_main(a)
        return
    if a.render:
        rows = [json.loads(line) for line in Path(a.render).read_text().splitlines() if line.strip()]
        table = render(rows)
        if a.update_readme:
            update_readme(Path(a.update_readme), table)
        print(table)
        return
    if not a.model:
        p.error("--model is required (or --render FILE)")
    if a.num_classes is None:
        a.num_classes = default_classes(a.model)
    if a.model.startswith("vae_") and a.image_size % vae_factor(a.model):
        p.error(f"{a.model} needs --image-size a multiple of {vae_factor(a.model)} (the decoded size)")
    if a.model == "vit_b_16" and a.image_size % 16:
        p.error("vit_b_16 needs --image-size a multiple of 16")

    openblas = find_openblas(a.openblas)
    if openblas is None and not a.allow_system_blas:
        raise SystemExit("compare_torch: no OpenBLAS found for torch-best (Debian's torch may be on the reference BLAS).\n"
                         "  Fetch it without installing:  (cd bench && mkdir -p .openblas && cd .openblas && "
                         "apt-get download libopenblas0-pthread && dpkg-deb -x libopenblas0-pthread_*.deb .)\n"
                         "  or pass --openblas DIR, or --allow-system-blas to compare against the system BLAS.")
    # PyTorch in this process (weights, float64 reference) gets torch-best's environment too: set before Python starts.
    if os.environ.get(REEXEC_FLAG) != "1":
        env = best_env(a.threads, openblas)
        env[REEXEC_FLAG] = "1"
        env[ORIG_LD_PATH] = os.environ.get("LD_LIBRARY_PATH", "")
        os.execve(sys.executable, [sys.executable, *sys.argv], env)

    result = run_case(a)
    print_case(result)
    if a.json_out:
        with open(a.json_out, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
