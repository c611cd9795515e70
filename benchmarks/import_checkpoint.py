"""Time ``multigan import-checkpoint hifigan`` on full-size reference files (published V1 G, MPD, MSD, AdamW states).

No published checkpoint can be downloaded here, so the files are built in the reference layout
(``tests/fixtures/make_hifigan_layout.py``) with random tensors and AdamW states after one step, saved with
``torch.save`` as the reference's ``train.py`` does, imported, and loaded back. Writes JSON:

    python benchmarks/import_checkpoint.py --out benchmarks/results/import_checkpoint.json
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
import time
from pathlib import Path

import torch

from multigan.audio.vocoders.imports.hifigan import import_hifigan
from multigan.audio.vocoders.imports.reference import parameter_keys

ROOT = Path(__file__).resolve().parents[1]


def _layout_script():
    spec = importlib.util.spec_from_file_location("layout", ROOT / "tests" / "fixtures" / "make_hifigan_layout.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tensors(layout: list) -> dict[str, torch.Tensor]:
    return {k: (torch.rand(s) + 0.5 if k.endswith("weight_g") else torch.randn(s) * 0.05) for k, s in layout}


def _adamw(tensors: list[torch.Tensor]) -> dict:
    params = [torch.nn.Parameter(t) for t in tensors]
    opt = torch.optim.AdamW(params, 2e-4, betas=[0.8, 0.99])
    for p in params:
        p.grad = torch.zeros_like(p)
    opt.step()
    return opt.state_dict()


def main() -> None:
    """Build, import, load; print and write the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/import_checkpoint.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lay = _layout_script()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        g = _tensors(lay.generator(lay.CONFIGS["v1"]))
        mpd, msd = _tensors(lay.mpd()), _tensors(lay.msd())
        torch.save({"generator": g}, tmp / "g_02500000")
        torch.save({"mpd": mpd, "msd": msd, "optim_g": _adamw([g[k] for k in parameter_keys(g)]),
                    "optim_d": _adamw([msd[k] for k in parameter_keys(msd)] + [mpd[k] for k in parameter_keys(mpd)]),
                    "steps": 2500000, "epoch": 3100}, tmp / "do_02500000")
        (tmp / "config.json").write_text(json.dumps({**lay.CONFIGS["v1"], **lay.MEL}))
        t0 = time.perf_counter()
        result = import_hifigan(tmp / "g_02500000", tmp / "config.json", tmp / "run", tmp / "do_02500000")
        seconds = time.perf_counter() - t0
        import multigan

        t0 = time.perf_counter()
        voc = multigan.load(tmp / "run")
        load_seconds = time.perf_counter() - t0
        report = {"device": "CPU, 1 thread (shared 2-core machine)", "config": "v1 + published MPD/MSD + AdamW states",
                  "g_file_mb": round((tmp / "g_02500000").stat().st_size / 2**20, 1),
                  "do_file_mb": round((tmp / "do_02500000").stat().st_size / 2**20, 1),
                  "import_seconds": round(seconds, 2), "load_export_seconds": round(load_seconds, 2),
                  "generator_params_m": round(sum(p.numel() for p in voc.parameters()) / 1e6, 2),
                  "optimizers": result.optimizers, "reference_steps": result.reference_steps}
    print(json.dumps(report))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
