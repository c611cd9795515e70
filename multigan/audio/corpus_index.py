"""A corpus index: what training needs to know about every clip, read once and cached.

:func:`build_index` reads the header of every file of a corpus (frames, sample rate, channels; no
decoding) in parallel worker processes and, when peak normalisation is asked for, decodes each clip once
to store its peak at the training rate, so a crop read later is normalised exactly as the whole clip
would be. The results are cached in a JSON file keyed by each file's path, size and modification time:
a second run or a resume re-reads nothing, and a changed file invalidates only its own entry.

A corpus is a folder (searched with :func:`~multigan.audio.listing.audio_files`), a text file listing
paths (one a line, relative to the list's folder; blank lines and ``#`` comments ignored) or an
LJ-Speech-style ``metadata.csv`` (``id|text|normalized`` lines, clips in ``wavs/`` beside it).

Unusable files (missing, unreadable or truncated, empty, silent when peaks are read, a refused channel
count, too short) are all listed in one :class:`CorpusIndexError` before training starts, or skipped and
named in a warning with ``skip_bad=True``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from ..errors import MultiganError
from ..files import write_atomically
from .io import AudioFileError, _wav_truncation, info, load_audio
from .listing import AUDIO_EXTENSIONS, audio_files, listing

__all__ = ["CACHE_VERSION", "CorpusIndex", "CorpusIndexError", "build_index", "cache_file_for", "corpus_files",
           "default_cache_dir", "file_facts", "frames_at", "peak_key"]

PathLike = Union[str, os.PathLike]
log = logging.getLogger("multigan")

#: Bumped whenever the meaning of a cached entry changes (older caches are then ignored).
CACHE_VERSION = 1


class CorpusIndexError(MultiganError, ValueError):
    """A corpus that cannot be indexed; ``bad`` holds ``(path, reason)`` for every unusable file."""

    def __init__(self, message: str, bad: Sequence[tuple[str, str]] = ()) -> None:
        self.bad = list(bad)
        super().__init__(message)


@dataclass
class CorpusIndex:
    """The usable clips of a corpus, in corpus order, with per-clip facts as arrays.

    ``frames``/``rates``/``channels`` are the file's own; ``target_frames`` is the clip's length after
    resampling to ``sample_rate`` (``ceil(frames * sample_rate / rate)``); ``peaks`` the peak of the mono
    clip at ``sample_rate`` (NaN when peaks were not asked for). ``sizes``/``mtimes`` identify the file
    version that was indexed. ``skipped`` names the files left out with ``skip_bad``; ``probed`` counts the
    files read by this build (the rest came from the cache).
    """

    source: Path
    sample_rate: int
    mono: str
    names: list[str]
    paths: list[str]
    frames: np.ndarray
    rates: np.ndarray
    channels: np.ndarray
    peaks: np.ndarray
    sizes: np.ndarray
    mtimes: np.ndarray
    skipped: list[tuple[str, str]] = field(default_factory=list)
    probed: int = 0

    def __post_init__(self) -> None:
        rates = np.maximum(self.rates, 1).astype(np.float64)
        resampled = np.ceil(self.frames * self.sample_rate / rates).astype(np.int64)
        self.target_frames = np.where(self.rates == self.sample_rate, self.frames, resampled).astype(np.int64)
        self.seconds = float((self.frames / rates).sum())

    def __len__(self) -> int:
        return len(self.names)

    @property
    def has_peaks(self) -> bool:
        """Whether every clip has its peak recorded (peak normalisation possible)."""
        return len(self.peaks) > 0 and not bool(np.isnan(self.peaks).any())


def default_cache_dir() -> Path:
    """``$MULTIGAN_CACHE/corpus-index`` if ``MULTIGAN_CACHE`` is set, else ``~/.cache/multigan/corpus-index``."""
    root = os.environ.get("MULTIGAN_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "multigan") / "corpus-index"


def peak_key(sample_rate: int, mono: str = "mix") -> str:
    """The key of a clip's peak (mono, at ``sample_rate``) in a cache entry's ``peaks``."""
    return f"{int(sample_rate)}/{mono}"


def frames_at(entry: dict, sample_rate: int) -> int:
    """Length in samples of a cached clip once resampled to ``sample_rate`` (as :func:`~multigan.audio.io.resample`)."""
    if entry["rate"] == sample_rate:
        return int(entry["frames"])
    return math.ceil(entry["frames"] * sample_rate / entry["rate"])


# ------------------------------------------------------------------------------------------------ inputs


def corpus_files(source: PathLike, extensions: Iterable[str] = AUDIO_EXTENSIONS
                 ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(name, path)`` of every clip of ``source`` in corpus order, and ``(path, reason)`` of listed
    entries that cannot be clips (duplicates).

    Names are what a run records (``split.json``): paths relative to the folder, to the list file's folder,
    or to ``wavs/`` beside a ``metadata.csv``.

    Raises:
        CorpusIndexError: ``source`` is missing, or holds no clip.
    """
    src = Path(source)
    if not src.exists():
        raise CorpusIndexError(f"{src}: does not exist")
    bad: list[tuple[str, str]] = []
    if src.is_dir():
        prefix = src.as_posix().rstrip("/") + "/"  # string slicing: pathlib's relative_to costs seconds on 10^4 files
        pairs = [(s[len(prefix):] if s.startswith(prefix) else p.relative_to(src).as_posix(), s)
                 for p in audio_files(src, extensions) for s in (p.as_posix(),)]
        what = f"no audio files ({', '.join(extensions)}) found"
    elif src.suffix.lower() == ".csv":
        pairs = _metadata_pairs(src, bad)
        what = "lists no clip (expected id|text|normalized lines)"
    else:
        pairs = _list_pairs(src, bad)
        what = "lists no clip (expected one path a line)"
    if not pairs:
        raise CorpusIndexError(f"{src}: {what}", bad)
    return pairs, bad


def _metadata_pairs(csv: Path, bad: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``id|...`` lines of an LJ-Speech ``metadata.csv``: clip ``wavs/{id}.wav`` beside it."""
    wavs = csv.parent / "wavs"
    ids = [line.split("|", 1)[0].strip() for line in _lines(csv)]
    return _dedupe([(f"{i}.wav", str(wavs / f"{i}.wav")) for i in ids if i], bad, csv)


def _list_pairs(listing: Path, bad: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One path a line, relative to the list file's folder unless absolute."""
    pairs = []
    for line in _lines(listing):
        if line.startswith("#"):
            continue
        p = Path(line)
        pairs.append((line if not p.is_absolute() else str(p), str(p if p.is_absolute() else listing.parent / p)))
    return _dedupe(pairs, bad, listing)


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusIndexError(f"{path}: cannot be read as a UTF-8 text file ({exc})") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _dedupe(pairs: list[tuple[str, str]], bad: list[tuple[str, str]], where: Path) -> list[tuple[str, str]]:
    seen, out = set(), []
    for name, path in pairs:
        if name in seen:
            bad.append((path, f"listed twice in {where}"))
        else:
            seen.add(name)
            out.append((name, path))
    return out


# ------------------------------------------------------------------------------------------------ probing


def _stat(path: str) -> Optional[tuple[int, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return int(st.st_size), int(st.st_mtime_ns)


def _probe(path: str, peak_rate: Optional[int], mono: str) -> dict:
    """Header facts of one file (and its peak at ``peak_rate`` when given); ``{"error": reason}`` if unusable.

    Runs in the index's worker processes.
    """
    try:
        meta = info(path)
        out: dict = {"frames": meta.frames, "rate": meta.sample_rate, "channels": meta.channels}
        if meta.frames == 0:
            return {**out, "error": "empty (0 frames)"}
        if peak_rate is None:
            problem = _wav_truncation(Path(path))
            if problem:
                return {**out, "error": f"truncated or corrupt: {problem}"}
            return out
        wav = load_audio(path, peak_rate, mono=mono).numpy()
        out["peak"] = float(np.abs(wav).max())
        return out
    except AudioFileError as exc:
        return {"error": exc.reason}
    except OSError as exc:  # permissions, I/O errors
        return {"error": f"cannot be read ({exc.strerror or exc})"}


def _probe_task(task: tuple[str, Optional[int], str]) -> dict:
    return _probe(*task)


def _run_probes(tasks: list[tuple[str, Optional[int], str]], workers: int) -> list[dict]:
    """``_probe`` over ``tasks``: in this process for few files or ``workers <= 1``, else in a process pool."""
    if workers <= 1 or len(tasks) < 32:
        return [_probe(*t) for t in tasks]
    ctx = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    chunk = max(1, min(256, len(tasks) // (workers * 8)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        return list(pool.map(_probe_task, tasks, chunksize=chunk))


# ------------------------------------------------------------------------------------------------ cache


def _cache_file(cache_dir: Path, source: Path) -> Path:
    key = hashlib.sha256(str(source.absolute()).encode()).hexdigest()[:20]
    return cache_dir / f"{key}.json"


def _load_cache(path: Path, source: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("corpus index cache %s is unreadable (%s): rebuilding it", path, exc)
        return {}
    if data.get("version") != CACHE_VERSION or data.get("key") != source:
        return {}
    return data.get("entries", {})


def _save_cache(path: Path, source: str, entries: dict) -> None:
    payload = {"version": CACHE_VERSION, "key": source, "entries": entries}

    def write(tmp: Path) -> None:
        tmp.write_text(json.dumps(payload, separators=(",", ":")))

    try:
        write_atomically(path, write)
    except OSError as exc:
        log.warning("could not write the corpus index cache %s (%s): the next run will index again", path, exc)


# ------------------------------------------------------------------------------------------------ build


def cache_file_for(source: PathLike, cache_dir: Optional[PathLike] = None) -> Path:
    """The cache file of the corpus at ``source`` (a folder or list) under ``cache_dir`` (default
    :func:`default_cache_dir`)."""
    return _cache_file(Path(cache_dir) if cache_dir else default_cache_dir(), Path(source))


def file_facts(paths: Sequence[str], sample_rate: int, *, peaks: bool = False, mono: str = "mix",
               cache_file: Optional[Path] = None, workers: int = 0, prune: bool = False) -> tuple[dict, int]:
    """The cached facts of every file of ``paths``, reading (in parallel) only those not cached for this version.

    Returns ``({path: entry}, files read now)``. An entry holds ``size``, ``mtime_ns`` and either ``error`` (why
    the file is unusable) or ``frames``, ``rate``, ``channels`` and ``peaks`` (``{"RATE/MONO": peak}``, the peak
    of the mono clip at ``sample_rate`` when ``peaks``). With ``cache_file`` the cache is read and, when
    something was read, written back (``prune``: keeping only ``paths``; else also other files' entries).
    """
    key = peak_key(sample_rate, mono) if peaks else None
    source = cache_file.stem if cache_file else ""
    entries = _load_cache(cache_file, source) if cache_file else {}
    stats = [_stat(path) for path in paths]
    todo = [i for i, (path, st) in enumerate(zip(paths, stats)) if not _fresh(entries.get(path), st, key)]
    workers = workers if workers > 0 else min(os.cpu_count() or 1, 8)
    results = _run_probes([(paths[i], int(sample_rate) if peaks else None, mono) for i in todo], workers)
    for i, result in zip(todo, results):
        path, st = paths[i], stats[i]
        if st is None:
            result = {"error": "file does not exist"}
        entry = {"size": st[0], "mtime_ns": st[1]} if st else {}
        old = entries.get(path, {})
        if st and old.get("size") == st[0] and old.get("mtime_ns") == st[1] and "error" not in old:
            entry["peaks"] = dict(old.get("peaks", {}))  # same file: keep peaks of other rates
        entry.update({k: v for k, v in result.items() if k != "peak"})
        if "peak" in result:
            entry.setdefault("peaks", {})[key] = result["peak"]
        entries[path] = entry
    if cache_file and todo:
        listed = set(paths)
        kept = {p: e for p, e in entries.items() if "size" in e and (p in listed or not prune)}
        _save_cache(cache_file, source, kept)
    return entries, len(todo)




def build_index(source: PathLike, sample_rate: int, *, peaks: bool = False, min_frames: int = 1,
                channels: Optional[int] = None, mono: str = "mix", skip_bad: bool = False,
                extensions: Iterable[str] = AUDIO_EXTENSIONS, cache_dir: Optional[PathLike] = None,
                cache: bool = True, workers: int = 0) -> CorpusIndex:
    """Index the clips of ``source`` (a folder, a list file or a ``metadata.csv``) for training at ``sample_rate``.

    Args:
        source: the corpus (see the module docstring).
        sample_rate: the training rate; lengths are checked (and peaks measured) at it.
        peaks: decode every clip once (in the parallel pass, cached) to record its peak for normalisation;
            a clip whose peak is 0 is then a bad file (silent).
        min_frames: clips shorter than this at ``sample_rate`` are bad files.
        channels: refuse files with another channel count (``None``: accept any; they are mixed to mono).
        mono: how several channels become one (``"mix"`` or ``"first"``, as :func:`~multigan.audio.io.load_audio`).
        skip_bad: leave bad files out, naming them in a warning, instead of raising.
        cache_dir: folder of the cache (default :func:`default_cache_dir`); ``cache=False`` neither reads nor
            writes it.
        workers: processes reading headers (0: one per CPU core, at most 8).

    Raises:
        CorpusIndexError: bad files (all listed in one message), or none usable.
    """
    start = time.monotonic()
    src = Path(source)
    pairs, bad = corpus_files(src, extensions)
    key = peak_key(sample_rate, mono) if peaks else None
    cache_path = cache_file_for(src, cache_dir) if cache else None
    entries, probed = file_facts([path for _, path in pairs], sample_rate, peaks=peaks, mono=mono,
                                 cache_file=cache_path, workers=workers, prune=True)
    index = _assemble(src, pairs, entries, bad, int(sample_rate), mono, key, min_frames, channels)
    index.probed = probed
    _report(src, bad, len(pairs), skip_bad)
    index.skipped = list(bad)
    if not len(index):
        raise CorpusIndexError(f"{src}: no usable clip left ({len(bad)} skipped)", bad)
    log.info("corpus index of %s: %d clips (%.2f h), %d read and %d from the cache%s in %.1f s", src, len(index),
             index.seconds / 3600, probed, len(pairs) - probed,
             f" ({cache_path})" if cache_path else "", time.monotonic() - start)
    return index


def _fresh(entry: Optional[dict], st: Optional[tuple[int, int]], key: Optional[str]) -> bool:
    """Whether a cached entry describes this very file version (and holds the peak asked for)."""
    if entry is None or st is None or entry.get("size") != st[0] or entry.get("mtime_ns") != st[1]:
        return False
    if "error" in entry:
        return True
    return key is None or key in entry.get("peaks", {})


def _assemble(src: Path, pairs: list[tuple[str, str]], entries: dict, bad: list[tuple[str, str]], rate: int,
              mono: str, key: Optional[str], min_frames: int, channels: Optional[int]) -> CorpusIndex:
    """The index of the usable entries; every unusable one goes to ``bad`` with its reason."""
    keep: list[tuple[str, str, dict]] = []
    for name, path in pairs:
        entry = entries[path]
        reason = entry.get("error") or _refusal(entry, rate, key, min_frames, channels)
        if reason:
            bad.append((path, reason))
        else:
            keep.append((name, path, entry))
    peak = [e["peaks"][key] if key else math.nan for _, _, e in keep]
    return CorpusIndex(
        source=src, sample_rate=rate, mono=mono, names=[n for n, _, _ in keep], paths=[p for _, p, _ in keep],
        frames=np.array([e["frames"] for _, _, e in keep], dtype=np.int64),
        rates=np.array([e["rate"] for _, _, e in keep], dtype=np.int64),
        channels=np.array([e["channels"] for _, _, e in keep], dtype=np.int64),
        peaks=np.array(peak, dtype=np.float64),
        sizes=np.array([e["size"] for _, _, e in keep], dtype=np.int64),
        mtimes=np.array([e["mtime_ns"] for _, _, e in keep], dtype=np.int64))


def _refusal(entry: dict, rate: int, key: Optional[str], min_frames: int, channels: Optional[int]) -> str:
    """Why a readable file cannot be used with these settings ("" when it can)."""
    if channels is not None and entry["channels"] != channels:
        return f"{entry['channels']} channel(s), expected {channels}"
    frames = frames_at(entry, rate)
    if frames < min_frames:
        return f"too short: {frames} samples at {rate} Hz, fewer than {min_frames}"
    if key and entry["peaks"][key] == 0.0:
        return "silent"
    return ""


def _report(src: Path, bad: list[tuple[str, str]], total: int, skip_bad: bool) -> None:
    """Raise one error listing every bad file, or warn (naming them) with ``skip_bad``."""
    if not bad:
        return
    listed = listing([f"{path}: {reason}" for path, reason in bad])
    head = f"{src}: {len(bad)} of {total} file(s) are unusable"
    if not skip_bad:
        raise CorpusIndexError(f"{head}:\n{listed}\nFix or remove them, or set data.skip_bad=true to skip them "
                               "with a warning.", bad)
    log.warning("%s and were skipped (data.skip_bad=true):\n%s", head, listed)
