"""The package's shape, kept by tests: no import cycle (function-level imports included), small files, the
core free of modalities, recipes that hold wiring only.

Each was once wrong here: cycles re-grew behind function-level imports, and the core's command line imported
the audio and text packages at module level.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "multigan"
MAX_LIBRARY_LINES = 500
MAX_RECIPE_LINES = 250
#: Words that mark vocoder work; such modules live in multigan/audio/vocoders/, not in multigan/audio/'s root.
VOCODER_WORDS = ("vocoder", "hifigan", "vocos", "bigvgan", "stft_discriminator", "gta", "mel_input",
                 "checkpoint_import", "imported_init", "lazy_audio")


def module_name(path: Path) -> str:
    """``multigan/audio/io.py`` -> ``multigan.audio.io``; a package's ``__init__.py`` -> the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> dict[str, bool]:
    """multigan modules that ``module`` imports -> whether the import is at module level (False: inside a
    function or class body). ``from pkg import name`` counts as importing ``pkg.name`` when that is a module."""
    tree = ast.parse(path.read_text())
    top_level = {id(n) for n in tree.body}
    for node in tree.body:  # imports under a module-level if/try are module level too
        if isinstance(node, (ast.If, ast.Try)):
            top_level.update(id(n) for n in ast.walk(node))
    found: dict[str, bool] = {}

    def add(name: str, at_top: bool) -> None:
        if name in modules:
            found[name] = found.get(name, False) or at_top

    for node in ast.walk(tree):
        at_top = id(node) in top_level
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, at_top)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, path.name == "__init__.py")
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    add(f"{base}.{alias.name}", at_top)
                else:
                    add(base, at_top)
    found.pop(module, None)
    return found


def import_graph() -> dict[str, dict[str, bool]]:
    modules = all_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, dict[str, bool]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_graph_reader_sees_function_level_imports(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import os\nfrom . import b\n\ndef f():\n    from .c import x\n")
    modules = {"p.m": path, "p.b": path, "p.c": path}
    assert imports_of("p.m", path, modules) == {"p.b": True, "p.c": False}
    assert cycles({"a": {"b": False}, "b": {"a": True}, "c": {}}) == [["a", "b"]]


def test_no_import_cycle_lazy_imports_included():
    found = cycles(import_graph())
    assert not found, "import cycles (function-level imports counted): " + "; ".join(" <-> ".join(c) for c in found)


def test_the_core_imports_no_modality_at_module_level():
    graph = import_graph()
    modality = ("multigan.audio", "multigan.text")
    core = [m for m in graph if not m.startswith(modality)]
    offenders = {m: sorted(d for d, top in graph[m].items() if top and d.startswith(modality)) for m in core}
    assert not {m: d for m, d in offenders.items() if d}


@pytest.mark.parametrize("kind", ["library", "recipes"])
def test_files_stay_small(kind):
    files = sorted(PACKAGE.rglob("*.py")) if kind == "library" else sorted((ROOT / "recipes").glob("*.py"))
    limit = MAX_LIBRARY_LINES if kind == "library" else MAX_RECIPE_LINES
    long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text().splitlines())) > limit}
    assert not long, f"over {limit} lines: {long}"


def test_no_vocoder_module_in_the_audio_root():
    root_files = [p.stem for p in (PACKAGE / "audio").glob("*.py")]
    assert not [name for name in root_files if any(word in name for word in VOCODER_WORDS)]
