"""Digit-classifier metrics of a trained SpecGAN inverted by Griffin-Lim and by a trained neural vocoder.

    python benchmarks/specgan_vocoder.py --specgan runs/fsdd_specgan --vocoder runs/fsdd_vocoder \
        [--data ../shared/data/fsdd/recordings] [-n 1000]

The same latents and labels (seed 0, classes cycling 0-9) are inverted both ways; each set is scored by the
cached digit classifier (share recognised as the asked digit, inception score, FID against the real train
clips). The vocoder must have been trained on the SpecGAN's mel features (see the README); the JSON goes to
``benchmarks/results/specgan_vocoder.json``.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import multigan  # noqa: E402
from multigan.audio.spoken_digits import DigitEvaluator  # noqa: E402

KEYS = ("label_accuracy", "inception_score", "inception_score_std", "fid", "d_self", "d_train")


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specgan", required=True, help="run directory of a log-mel SpecGAN")
    parser.add_argument("--vocoder", required=True, help="run directory of a vocoder trained on its features")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fsdd" / "recordings"))
    parser.add_argument("-n", type=int, default=1000, help="samples per inversion (classes cycle 0-9)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "specgan_vocoder.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    g = multigan.load(args.specgan)
    voc = multigan.load(args.vocoder)
    evaluator = DigitEvaluator(args.data)
    labels = g.labels_for(args.n, None)
    report: dict = {"benchmark": "specgan_vocoder", "specgan": args.specgan, "vocoder": args.vocoder,
                    "n_samples": args.n, "vocoder_meta": voc.export_meta, "inversions": {}}
    for name, inverter in (("griffin_lim", None), ("vocoder", voc)):
        g.use_vocoder(inverter)
        t0 = time.perf_counter()
        wavs = g.generate(args.n, seed=0)
        seconds = time.perf_counter() - t0
        metrics = evaluator.evaluate(wavs, labels)
        report["inversions"][name] = {**{k: round(float(metrics[k]), 4) for k in KEYS},
                                      "generate_seconds": round(seconds, 2)}
        print(name, json.dumps(report["inversions"][name]))
    report.update(torch=torch.__version__, machine=platform.machine(), threads=args.threads)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
