"""Runs the toy ring recipe once per adversarial loss and prints a table (modes, quality, seconds).

    python benchmarks/toy_ring.py [--out benchmarks/results/toy_ring.json] [--runs-dir runs/bench_toy]

Every run uses the recipe's default preset (R1 + R2 = 0.1, EMA 0.99, best-checkpoint export) and changes only
``train.loss``; a last row shows a plain non-saturating GAN without EMA or checkpoint selection, for contrast.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = {
    "ns": ["train.loss=ns"],
    "hinge": ["train.loss=hinge"],
    "lsgan": ["train.loss=lsgan"],
    "wgan": ["train.loss=wgan"],
    "rpgan": ["train.loss=rpgan"],
    "ns, no EMA, last step": ["train.loss=ns", "train.ema_decay=0", "train.r2_gamma=0",
                              "train.early_stop_metric=", "train.val_every=0"],
}


def load_recipe():
    spec = importlib.util.spec_from_file_location("toy_ring_recipe", ROOT / "recipes" / "toy_ring.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "toy_ring.json"))
    parser.add_argument("--runs-dir", default="runs/bench_toy")
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    args = parser.parse_args()
    recipe = load_recipe()
    rows = []
    for name, overrides in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        out = Path(args.runs_dir) / name.replace(",", "").replace(" ", "_")
        start = time.perf_counter()
        m = recipe.main(["--out", str(out), "--overwrite", "train.progress=false", *overrides])
        rows.append({"variant": name, "modes_covered": m["modes_covered"], "high_quality": round(m["high_quality"], 4),
                     "export_step": m["export_step"], "seconds": round(time.perf_counter() - start, 1)})
    print(f"\n{'variant':<24}{'modes':>7}{'quality':>9}{'export step':>13}{'seconds':>9}")
    for r in rows:
        print(f"{r['variant']:<24}{r['modes_covered']:>7.0f}{r['high_quality']:>9.3f}{r['export_step']:>13}"
              f"{r['seconds']:>9.1f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"machine": platform.processor() or platform.machine(), "rows": rows},
                                         indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
