#!/usr/bin/env -S /usr/bin/python3
"""Regenerates the PyTorch golden fixtures under tests/fixtures/.

    /usr/bin/python3 tools/gen_fixtures.py                 # all families
    /usr/bin/python3 tools/gen_fixtures.py --only conv     # one family (repeatable, or comma-separated)
    /usr/bin/python3 tools/gen_fixtures.py --check         # verify the files on disk, write nothing

Every module in tools/fixtures/ (except common) is imported; it defines cases() yielding Case objects
(see common.case / common.module_case) and/or files() yielding RawFile objects. Each becomes
tests/fixtures/<family>/<name>.safetensors. Output is deterministic: rerunning writes identical bytes
(files whose bytes are unchanged are not touched).
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))

import torch  # noqa: E402

from fixtures import common  # noqa: E402


def discover():
    """(module name, module) for every fixture module, sorted by name."""
    import fixtures
    for info in sorted(pkgutil.iter_modules(fixtures.__path__), key=lambda i: i.name):
        if info.name == "common" or info.name.startswith("_"):
            continue
        yield info.name, importlib.import_module(f"fixtures.{info.name}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=[], metavar="FAMILY", help="generate only these families")
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures", help="output folder (default tests/fixtures)")
    ap.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args(argv)
    only = {f for arg in args.only for f in arg.split(",") if f}

    # Single-threaded so float reductions happen in the same order on every machine.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    seen: dict[str, str] = {}
    families: set[str] = set()
    written = unchanged = bad = 0
    for module_name, module in discover():
        for item in common.iter_items(module):
            if only and item.family not in only:
                continue
            if item.path in seen:
                raise SystemExit(f"duplicate fixture {item.path} (from {seen[item.path]} and {module_name})")
            seen[item.path] = module_name
            families.add(item.family)
            path = args.out / f"{item.path}.safetensors"
            rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            if args.list:
                print(f"{item.path}  ({module_name})")
                continue
            data = common.render(item)
            if args.check:
                if not path.exists() or path.read_bytes() != data:
                    print(f"DIFFERS  {rel}")
                    bad += 1
                else:
                    unchanged += 1
            elif common.write_bytes_if_changed(path, data):
                print(f"wrote    {rel} ({len(data)} bytes)")
                written += 1
            else:
                unchanged += 1

    if only - families:
        print(f"no fixtures for: {', '.join(sorted(only - families))}", file=sys.stderr)
        return 2
    # Files nobody produces any more: report, never delete silently.
    for family in sorted(families):
        for path in sorted((args.out / family).glob("*.safetensors")):
            if f"{family}/{path.stem}" not in seen:
                print(f"stale    {path} (no case produces it; delete it if intended)")
    if not args.list:
        verb = "differ" if args.check else "written"
        print(f"{len(seen)} fixtures: {bad if args.check else written} {verb}, {unchanged} unchanged")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
