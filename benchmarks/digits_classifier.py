"""Train the FSDD spoken-digit classifier from scratch and measure what the evaluator relies on.

Reports: accuracy on the FSDD test split (takes 0-4 of the 5 speakers, per speaker too), training time,
leave-one-speaker-out accuracy (train on every clip of 4 speakers, test on all 500 clips of the 5th;
5 trainings), the real-data anchors (real train / real test / white-noise IS, FID and D_self/D_train at
N samples) and the time ``DigitEvaluator.evaluate`` takes on 500 clips.

Usage::

    nice -n 19 .venv/bin/python benchmarks/digits_classifier.py [--data DIR] [--out FILE] [--threads 2]
        [--anchors 500,2000] [--no-loso] [--fill-cache]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from any directory, without installing

import torch  # noqa: E402

from multigan.audio.spoken_digits import (  # noqa: E402
    DigitClassifierConfig,
    DigitEvaluator,
    classifier_accuracy,
    fsdd_split,
    load_fsdd,
    real_anchors,
    train_classifier,
)
from multigan.audio.spoken_digits.cache import cache_entry, save_classifier  # noqa: E402

DEFAULT_DATA = "../shared/data/fsdd/recordings"
DEFAULT_OUT = "benchmarks/results/digits_classifier.json"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options; relative paths are taken from the repository root."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="FSDD recordings folder")
    parser.add_argument("--out", default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--anchors", default="500,2000", help="comma-separated sample counts for the anchors")
    parser.add_argument("--no-loso", action="store_true", help="skip the 5 leave-one-speaker-out trainings")
    parser.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    parser.add_argument("--fill-cache", action="store_true",
                        help="store the trained classifier in the default cache (saves the first recipe run)")
    return parser.parse_args(argv)


def resolve(path: str) -> Path:
    """``path`` as given if absolute, else relative to the repository root."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else REPO / candidate


def timed_training(clips, config: DigitClassifierConfig):
    """Train and return ``(model, wall seconds, CPU seconds of this process)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    model = train_classifier(clips, config)
    return model, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark, write the JSON file and return its content."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    data = resolve(args.data)
    config = DigitClassifierConfig() if args.epochs is None else replace(DigitClassifierConfig(), epochs=args.epochs)
    clips = load_fsdd(data, sample_rate=config.sample_rate)
    train = clips.where(lambda name, _: fsdd_split(name) == "train")
    test = clips.where(lambda name, _: fsdd_split(name) == "test")
    speakers = sorted(set(clips.speakers))
    result: dict = {
        "data": str(data),
        "clips": {"train": len(train), "test": len(test), "speakers": speakers},
        "config": config.to_dict(),
        "torch": torch.__version__,
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
    }

    print(f"training on the train split ({len(train)} clips, {args.threads} threads)...", flush=True)
    model, wall, cpu = timed_training(train, config)
    per_speaker = {s: classifier_accuracy(model, test.where(lambda _, spk, s=s: spk == s)) for s in speakers}
    result["test"] = {"accuracy": classifier_accuracy(model, test), "per_speaker": per_speaker,
                      "train_seconds_wall": round(wall, 1), "train_seconds_cpu": round(cpu, 1)}
    print(json.dumps(result["test"]), flush=True)
    if args.fill_cache:
        folder = cache_entry(data, None, config)
        save_classifier(model, folder, {"data_dir": str(data), "train_clips": len(train),
                                        "train_seconds": round(wall, 1), "torch_threads": args.threads,
                                        "test_clips": len(test), "test_accuracy": result["test"]["accuracy"]})
        result["cache"] = str(folder)

    with tempfile.TemporaryDirectory() as cache:
        evaluator = DigitEvaluator(data, cache_dir=cache, classifier=model)
        wavs = test.canvas(config.canvas)
        evaluator.evaluate(wavs[:50])  # warm-up
        started = time.perf_counter()
        metrics = evaluator.evaluate(wavs, test.labels)
        result["evaluate_500"] = {"seconds": round(time.perf_counter() - started, 3), **metrics}
        result["anchors"] = {}
        for n in (int(x) for x in args.anchors.split(",") if x.strip()):
            result["anchors"][str(n)] = real_anchors(model, data, n, reference=evaluator.reference, cache_dir=cache)
            print(f"anchors at N={n}: {json.dumps(result['anchors'][str(n)])}", flush=True)

    if not args.no_loso:
        loso: dict = {}
        for held_out in speakers:
            print(f"leave-one-speaker-out: {held_out}...", flush=True)
            fold_model, wall, cpu = timed_training(clips.where(lambda _, spk: spk != held_out), config)
            held = clips.where(lambda _, spk: spk == held_out)
            loso[held_out] = {"accuracy": classifier_accuracy(fold_model, held), "clips": len(held),
                              "train_seconds_wall": round(wall, 1), "train_seconds_cpu": round(cpu, 1)}
            print(f"  {held_out}: {json.dumps(loso[held_out])}", flush=True)
        accuracies = [v["accuracy"] for v in loso.values()]
        result["leave_one_speaker_out"] = {"per_speaker": loso, "mean_accuracy": sum(accuracies) / len(accuracies),
                                           "min_accuracy": min(accuracies)}

    out = resolve(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
