#!/usr/bin/env bash
# Ascan against an earlier Ascan build on the same machine, interleaved: did a change move any speed case?
#   bench/ab_compare.sh OLD_CLI_DLL [ROUNDS]      # OLD_CLI_DLL: ascan.dll built from the earlier commit
# Runs every case of bench/run_compare.sh with `ascan bench --json`, alternating old and new each round, and prints
# per case the median ms/step of each and the ratio old/new (> 1: the new build is faster), min and max over rounds.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
old="${1:?usage: bench/ab_compare.sh OLD_CLI_DLL [ROUNDS]}"; rounds="${2:-5}"
"$here/../ascan" --help >/dev/null
new="$here/../out/cli/ascan.dll"
cases=(
  "--model ascan_t --batch 1 --steps 20"
  "--model ascan_t --batch 16 --steps 8"
  "--model ascan_nano --image-size 64 --batch 64 --steps 20"
  "--model ascan_t --batch 8 --train --steps 5"
  "--model ascan_nano --image-size 64 --batch 32 --train --steps 20"
  "--model resnet50 --batch 1 --steps 20"
  "--model resnet50 --batch 16 --steps 5"
  "--model convnext_tiny --batch 1 --steps 20"
  "--model convnext_tiny --batch 16 --steps 5"
  "--model vit_b_16 --batch 1 --steps 10"
  "--model vit_b_16 --batch 16 --steps 3"
)
# "ms_per_step,peak_rss_mb" of one run
ms() { dotnet "$1" bench $2 --json 2>/dev/null | python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(str(d["ms_per_step"]) + "," + str(d["peak_rss_mb"]))'; }
printf '| case | old ms | new ms | old/new median [min–max] | peak RSS old / new MB |\n|---|---:|---:|---:|---:|\n'
for c in "${cases[@]}"; do
  if [ -n "${ONLY:-}" ] && ! grep -qE -- "$ONLY" <<<"$c"; then continue; fi
  o=(); n=()
  for ((r = 0; r < rounds; r++)); do
    # shellcheck disable=SC2086
    if (( r % 2 == 0 )); then o+=("$(ms "$old" "$c")"); n+=("$(ms "$new" "$c")"); else n+=("$(ms "$new" "$c")"); o+=("$(ms "$old" "$c")"); fi
  done
  python3 - "$c" "${o[*]}" "${n[*]}" <<'PY'
import statistics as st, sys
c = sys.argv[1]
o = [tuple(map(float, v.split(","))) for v in sys.argv[2].split()]
n = [tuple(map(float, v.split(","))) for v in sys.argv[3].split()]
om, nm = [v[0] for v in o], [v[0] for v in n]
r = [a / b for a, b in zip(om, nm)]
print(f"| {c.replace(' --steps', ' steps').strip()} | {st.median(om):.1f} | {st.median(nm):.1f} | {st.median(om)/st.median(nm):.3f} [{min(r):.2f}–{max(r):.2f}] | {max(v[1] for v in o):.0f} / {max(v[1] for v in n):.0f} |")
PY
done
