"""Follow a recipe's config through the code: which modules receive it (or one of its sections), in which order.

A "stop" is a call, in a multigan or recipe module, whose arguments include the recipe's config object or one
of its section dataclasses (``cfg.data``, ``cfg.train``, ...); consecutive stops in one module count once.
"returns" counts stops in a module the walk had already left: a high number means the config's reading is
spread over modules that call back and forth.

    python benchmarks/config_walk.py --recipe ljspeech_hifigan --out benchmarks/results/config_walk.json

The recipe runs for 2 steps on the real data subsets in ``../shared/data`` (a temporary run directory).
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
QUICK = ["--max-steps", "2", "train.progress=false", "train.cpu_threads=1"]
RECIPES = {
    "ljspeech_hifigan": ["--preset", "cpu", "--data", str(DATA / "ljspeech-mini" / "wavs"), "eval.griffin_lim=false",
                         "train.val_every=2", "train.adv_start_step=1"],
    "ljspeech_vocos": ["--preset", "vocos-cpu", "--data", str(DATA / "ljspeech-mini" / "wavs"),
                       "eval.griffin_lim=false", "train.val_every=2", "train.adv_start_step=1"],
    "coco_relgan": ["--preset", "cpu", "--data", str(DATA / "coco-captions" / "image_coco.txt"),
                    "data.max_sentences=200", "mle.epochs=1", "train.val_every=2", "eval.samples=20",
                    "eval.final_samples=20"],
}


def _load(recipe: str):
    spec = importlib.util.spec_from_file_location(f"_walk_{recipe}", ROOT / "recipes" / f"{recipe}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _config_class(module) -> type:
    """The recipe's top-level config dataclass: the one whose fields include a ``train`` section."""
    for value in vars(module).values():
        if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__ \
                and "train" in {f.name for f in dataclasses.fields(value)}:
            return value
    raise SystemExit(f"{module.__name__}: no config dataclass with a train section")


def walk(recipe: str) -> dict:
    """Run ``recipe`` briefly under a tracer; returns the stops (module names, in order) and their counts."""
    module = _load(recipe)
    top = _config_class(module)
    section_types = {top}
    probe = top()
    for f in dataclasses.fields(top):
        value = getattr(probe, f.name)
        if dataclasses.is_dataclass(value):
            section_types.add(type(value))
    watched = tuple(section_types)
    roots = (str(ROOT / "multigan"), str(ROOT / "recipes"))
    stops: list[str] = []

    def tracer(frame, event, arg):
        if event != "call":
            return None
        filename = frame.f_code.co_filename
        if not filename.startswith(roots):
            return None
        code = frame.f_code
        names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
        if any(isinstance(frame.f_locals.get(n), watched) for n in names):
            where = str(Path(filename).relative_to(ROOT).with_suffix("")).replace("/", ".")
            if not stops or stops[-1] != where:
                stops.append(where)
        return None

    with tempfile.TemporaryDirectory() as tmp:
        sys.settrace(tracer)
        try:
            args = ["--out", str(Path(tmp) / "run"), *RECIPES[recipe], *QUICK]
            overrides = [a for a in args if "=" in a and not a.startswith("-")]  # last: older recipes need it
            module.main([a for a in args if a not in overrides] + overrides)
        finally:
            sys.settrace(None)
    seen: set[str] = set()
    returns = 0
    for i, where in enumerate(stops):
        if where in seen and stops[i - 1] != where:
            returns += 1
        seen.add(where)
    return {"recipe": recipe, "stops": len(stops), "modules": len(seen), "returns": returns,
            "recipe_entries": sum(1 for s in stops if s.startswith("recipes.")), "walk": stops}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", action="append", choices=list(RECIPES), help="repeatable; default: all")
    p.add_argument("--out", help="write the walks as JSON here")
    args = p.parse_args(argv)
    rows = [walk(r) for r in (args.recipe or list(RECIPES))]
    for row in rows:
        print(json.dumps({k: v for k, v in row.items() if k != "walk"}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"command": " ".join(sys.argv), "walks": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
