"""Two groups of seed-aggregated COCO frontiers in one figure (e.g. RelGAN-style and ScratchGAN-style runs).

    python benchmarks/text_seeds_compare.py benchmarks/results/text_seeds_cpu.json=RelGAN \
        benchmarks/results/text_seeds_scratchgan_cpu.json=ScratchGAN --out benchmarks/results/text_seeds_compare_cpu.png

Each ``JSON=NAME`` is a ``benchmarks/text_seeds.py`` result; its temperature curves of the kinds ``--kinds``
(default: the GAN, the MLE it started from and the matched-compute MLE) are drawn with ``NAME:`` before their
label, means with 95 % t-intervals over the training seeds, beside the real-text point of the first JSON. The
groups must share the held-out references and the sample count (checked): otherwise they are not comparable.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from multigan.text.frontier_plot import save_frontier_plot  # noqa: E402


def merge(groups: list[tuple[str, dict]], kinds: list[str]) -> dict:
    """One report whose curves are every group's selected temperature curves, labels prefixed by the group."""
    first = groups[0][1]
    for name, report in groups[1:]:
        for key in ("num_references", "samples", "temperatures"):
            if report[key] != first[key]:
                raise SystemExit(f"error: {name}: {key} {report[key]} differs from {groups[0][0]}'s {first[key]}")
    curves = [{**c, "label": f"{name}: {c['label']}"} for name, report in groups for c in report["curves"]
              if c.get("kind", "gan") in kinds and c.get("sampler", "temperature") == "temperature"]
    return {**{k: first[k] for k in ("samples", "num_references", "references", "real") if k in first},
            "seeds": min(r["seeds"] for _, r in groups), "curves": curves}


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("groups", nargs="+", help="RESULT.json=NAME, two or more")
    p.add_argument("--kinds", default="gan,mle,mle_matched", help="curve kinds to draw")
    p.add_argument("--out", required=True, help="the PNG")
    args = p.parse_args(argv)
    groups = []
    for item in args.groups:
        path, sep, name = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"error: {item!r}: expected RESULT.json=NAME")
        groups.append((name, json.loads((ROOT / path).read_text())))
    out = save_frontier_plot(merge(groups, args.kinds.split(",")), ROOT / args.out)
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
