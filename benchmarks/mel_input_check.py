"""How often the vocoder's mel input check warns on correct mels, and how often it recognises log10 mels.

Statistics as ``train_vocoder`` stores them (64 random 8192-sample crops of the first 20 LJ Speech clips),
then every excerpt of 20, 40 and 100 frames, and every whole clip, of the 8 held-out clips is checked, as it
is and divided by ln(10). Writes JSON:

    python benchmarks/mel_input_check.py --data ../shared/data/ljspeech-mini/wavs --out benchmarks/results/mel_input_check.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from multigan.audio.features import LogMel
from multigan.audio.vocoders.mel_input import diagnose, mel_statistics
from multigan.audio.vocoders.vocoder import DEFAULT_MEL


def main() -> None:
    """Measure and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/ljspeech-mini/wavs")
    parser.add_argument("--out", default="benchmarks/results/mel_input_check.json")
    args = parser.parse_args()
    ext = LogMel.from_settings(DEFAULT_MEL)
    wavs = []
    for path in sorted(Path(args.data).glob("*.wav")):
        y, _ = sf.read(str(path), dtype="float32")
        wavs.append(torch.from_numpy(y * (0.95 / np.abs(y).max())))
    train, held_out = wavs[:20], wavs[20:]
    gen = torch.Generator().manual_seed(0)
    crops = []
    for i in range(64):
        w = train[i % len(train)]
        start = int(torch.randint(0, w.shape[0] - 8192, (1,), generator=gen))
        crops.append(ext(w[start:start + 8192]))
    stats = mel_statistics(crops)
    report = {"train_clips": len(train), "held_out_clips": len(held_out)}
    for length in (20, 40, 100, None):
        for name, scale in (("correct", 1.0), ("log10", 1 / np.log(10))):
            n = flagged = right = 0
            for w in held_out:
                mel = ext(w) * scale
                pieces = [mel] if length is None else [mel[:, a:a + length]
                                                        for a in range(0, mel.shape[1] - length, length)]
                for piece in pieces:
                    message = diagnose(piece, stats)
                    n, flagged = n + 1, flagged + bool(message)
                    right += bool(message and "log10" in message)
            key = f"{name}_{'whole' if length is None else f'{length}_frames'}"
            report[key] = {"pieces": n, "warned": flagged, **({"named_log10": right} if name == "log10" else {})}
    print(json.dumps(report))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
