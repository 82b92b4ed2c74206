#!/usr/bin/env bash
# Regenerates the comparison table of bench/README.md: every case of issue 5, Ascan against PyTorch, interleaved.
#   bench/run_compare.sh                       # all cases (about 30-60 min on 2 cores)
#   ONLY=ascan_nano bench/run_compare.sh       # the cases whose arguments match a pattern (grep -E)
#   bench/run_compare.sh --rounds 11           # extra arguments go to every compare_torch.py call
# Raw results: bench/runs/compare-<time>.jsonl (ignored by git); the last full run is kept in bench/results.jsonl.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# torch-best needs OpenBLAS; Debian's python3-torch may sit on the reference BLAS. Fetch Debian's package into
# bench/.openblas (apt-get download + dpkg-deb -x: nothing is installed system-wide) when the system has none.
if ! ls /usr/lib/x86_64-linux-gnu/openblas-*/libblas.so.3 >/dev/null 2>&1 \
   && [ ! -e "$here/.openblas/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3" ]; then
  echo "run_compare: fetching libopenblas0-pthread into bench/.openblas" >&2
  mkdir -p "$here/.openblas"
  (cd "$here/.openblas" && apt-get download libopenblas0-pthread >&2 && dpkg-deb -x libopenblas0-pthread_*.deb .)
fi

cases=(
  "--model ascan_t --batch 1"
  "--model ascan_t --batch 16"
  "--model ascan_nano --image-size 64 --batch 64"
  "--model ascan_t --batch 8 --train"
  "--model ascan_nano --image-size 64 --batch 32 --train"
  "--model resnet50 --batch 1"
  "--model resnet50 --batch 16"
  "--model convnext_tiny --batch 1"
  "--model convnext_tiny --batch 16"
  "--model vit_b_16 --batch 1"
  "--model vit_b_16 --batch 16"
  "--model upernet_ascan_t --image-size 512 --batch 1 --num-classes 150"
  "--model upernet_ascan_t --image-size 512 --batch 2 --num-classes 150 --train"
  # Generation: one denoiser call of the paper-scale UNet on 32×32×4 latents; the SD VAE's decoder to 256×256;
  # unet_shapes at batch 128 = one classifier-free-guidance step of a batch-64 sampler (images/s = 64 / (20 · ms)).
  # The reference-BLAS default column would take minutes a step: skipped (--no-default).
  "--model unet_imagenet_256 --image-size 32 --batch 8 --no-default --warmup 1 --rounds 3"
  "--model vae_sd --image-size 256 --batch 1 --no-default --warmup 1 --rounds 3"
  "--model unet_shapes --image-size 32 --batch 128 --no-default"
)

mkdir -p "$here/runs"
out="$here/runs/compare-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
echo "run_compare: $(uptime)" >&2
"$here/../ascan" --help >/dev/null  # build the CLI once, before any timing
n=0
for c in "${cases[@]}"; do
  if [ -n "${ONLY:-}" ] && ! grep -qE -- "$ONLY" <<<"$c"; then continue; fi
  # shellcheck disable=SC2086  # the case string is a list of arguments
  /usr/bin/python3 "$here/compare_torch.py" $c --json-out "$out" "$@"
  n=$((n + 1))
done
echo "run_compare: $n case(s) in $out; $(uptime)" >&2
if [ -z "${ONLY:-}" ]; then
  cp "$out" "$here/results.jsonl"
  /usr/bin/python3 "$here/compare_torch.py" --render "$out" --update-readme "$here/README.md"
else
  /usr/bin/python3 "$here/compare_torch.py" --render "$out"
fi
