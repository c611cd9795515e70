"""Trains the spoken-digit recipes' cpu presets and writes their final metrics as one JSON file.

    python benchmarks/fsdd.py [--data ../shared/data/fsdd/recordings] [--runs-dir runs/bench_fsdd]
    python benchmarks/fsdd.py --collect runs/fsdd_specgan runs/fsdd_wavegan   # summarise finished runs

Each recipe runs with ``--preset cpu`` (a 25-minute budget on 2 cores), so the whole benchmark takes about
an hour. The JSON (``benchmarks/results/fsdd.json``) holds every run's ``metrics.json`` (inception score,
FID, D_self, D_train, label accuracy on 1,000 samples, and the real-data anchors at the same count).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ("fsdd_specgan", "fsdd_wavegan")


def run_recipe(name: str, data: str, out: Path) -> None:
    spec = importlib.util.spec_from_file_location(name, ROOT / "recipes" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    module.main(["--preset", "cpu", "--data", data, "--out", str(out), "--overwrite", "train.progress=false"])


def summary_row(run_dir: Path) -> dict:
    m = json.loads((run_dir / "metrics.json").read_text())
    a = m.get("anchors", {})
    return {"recipe": m["recipe"], "run": str(run_dir), "steps": m["steps"], "export_step": m["export_step"],
            "train_seconds": m["train_seconds"], "label_accuracy": m.get("label_accuracy"),
            "inception_score": m.get("inception_score"), "inception_score_std": m.get("inception_score_std"),
            "fid": m.get("fid"), "d_self": m.get("d_self"), "d_train": m.get("d_train"),
            "real_train_is": a.get("real_train_is"), "real_test_is": a.get("real_test_is"),
            "noise_is": a.get("noise_is"), "n_samples": m.get("n_samples")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fsdd" / "recordings"))
    parser.add_argument("--runs-dir", default="runs/bench_fsdd")
    parser.add_argument("--collect", nargs="*", help="summarise these finished run directories instead of training")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fsdd.json"))
    args = parser.parse_args()
    if args.collect:
        runs = [Path(r) for r in args.collect]
    else:
        runs = []
        for name in RECIPES:
            out = Path(args.runs_dir) / name
            run_recipe(name, args.data, out)
            runs.append(out)
    rows = [summary_row(r) for r in runs]
    print(f"\n{'recipe':<15}{'steps':>7}{'minutes':>9}{'recognised':>12}{'IS':>14}{'FID':>8}{'real IS':>9}")
    for r in rows:
        print(f"{r['recipe']:<15}{r['steps']:>7}{r['train_seconds'] / 60:>9.1f}{r['label_accuracy']:>12.3f}"
              f"{r['inception_score']:>8.2f}±{r['inception_score_std']:<5.2f}{r['fid']:>8.2f}{r['real_train_is']:>9.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"machine": platform.machine(), "cpu_count": __import__("os").cpu_count(),
                                          "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
