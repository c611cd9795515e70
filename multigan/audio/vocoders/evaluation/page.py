"""The static listening page of a vocoder evaluation: the metrics table, then per clip a player and a spectrogram
for the original and for every system.

:func:`write_listening_page` writes ``page.html`` and, beside it, ``page_files/`` holding 16-bit PCM WAVs and
log-mel PNGs. Links are relative (the two can be zipped or moved together), the page needs neither JavaScript
nor anything from the network, and every name from the input is escaped before it reaches the HTML.
"""
from __future__ import annotations

import html
import math
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Sequence
from urllib.parse import quote

import numpy as np
import torch

from ....errors import MultiganError
from ...features import LogMel
from ...io import save_wav
from .protocol import METRICS

__all__ = ["PageClip", "write_listening_page"]

ORIGINAL = "original"

#: Label and direction (higher is better?) of the protocol's metrics, in table order; used when the result carries
#: no ``metrics`` section or leaves a field out.
KNOWN_METRICS: dict[str, tuple[str, bool]] = {k: (m.label, m.higher_is_better) for k, m in METRICS.items()}
#: Fields of a system that are not metric columns.
_NOT_METRICS = {"name", "clips", "ci95"}
#: Range of a spectrogram picture below the loudest bin of its clip: 80 dB of magnitude, in natural log.
_LOG_RANGE = 80 / 20 * math.log(10)
_MISSING = "\u2013"  # en dash


@dataclass
class PageClip:
    """One clip of the page: its waveform as the original and as re-synthesised by each system.

    ``audio`` maps ``"original"`` and each system name of the table to a 1-D float waveform in [-1, 1]
    (samples beyond are clipped when written, as any 16-bit WAV writer does).
    """

    name: str
    sample_rate: int
    audio: dict[str, np.ndarray]


class Metric(NamedTuple):
    """A column of the table: result key, header label, and direction (``None``: unknown, no best marked)."""

    key: str
    label: str
    higher_is_better: bool | None


def write_listening_page(result: dict, clips: Sequence[PageClip], html_path: str | Path,
                         title: str = "multigan vocoder evaluation", max_clips: int | None = None) -> Path:
    """Write one self-contained static page: html_path and, beside it, a folder <stem>_files/ with the WAVs
    (16-bit PCM) and spectrogram PNGs. Returns html_path.

    ``result`` is the JSON of ``multigan eval-vocoder`` (``systems``, optional ``metrics``, ``data``,
    ``sample_rate``); ``clips`` hold the waveforms, of which the first ``max_clips`` (all when ``None``) go on
    the page. Files already in ``<stem>_files/`` under the same names are overwritten.

    Raises:
        MultiganError: the result has no systems or a malformed one, a clip lacks a system's audio or holds a
            waveform that is not 1-D, finite and at least one analysis window long, or the path is not HTML.
    """
    html_path = Path(html_path)
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise MultiganError(f"listening page {html_path}: name it *.html")
    systems = _check_systems(result)
    if max_clips is not None and (not isinstance(max_clips, int) or max_clips < 0):
        raise MultiganError(f"listening page: max_clips must be a non-negative integer or None, got {max_clips!r}")
    clips = list(clips)
    shown = clips[:max_clips] if max_clips is not None else clips
    names = [s["name"] for s in systems]
    for clip in shown:
        _check_clip(clip, names)
    files_dir = html_path.with_name(f"{html_path.stem}_files")
    cards = [_write_clip_files(clip, [ORIGINAL, *names], files_dir, index) for index, clip in enumerate(shown, 1)]
    page = _page_html(result, systems, _metric_columns(result, systems), cards, title, len(clips))
    html_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = html_path.with_name(f".{html_path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, html_path)
    return html_path


# ------------------------------------------------------------------------------------------------ checks


def _check_systems(result: Any) -> list[dict]:
    """The result's systems, each with a unique string name; a :class:`MultiganError` otherwise."""
    if not isinstance(result, dict):
        raise MultiganError("listening page: the result must be eval-vocoder's JSON object, "
                            f"got {type(result).__name__}")
    systems = result.get("systems")
    if not isinstance(systems, list) or not systems:
        raise MultiganError("listening page: the result has no systems (its 'systems' list is missing or empty)")
    seen = set()
    for i, system in enumerate(systems):
        if not isinstance(system, dict) or not isinstance(system.get("name"), str) or not system["name"]:
            raise MultiganError(f"listening page: system #{i + 1} of the result has no name")
        name = system["name"]
        if name == ORIGINAL:
            raise MultiganError(f"listening page: a system may not be named {ORIGINAL!r} (that is the reference)")
        if name in seen:
            raise MultiganError(f"listening page: two systems are named {name!r}")
        seen.add(name)
        for key, value in system.items():
            if key not in _NOT_METRICS and value is not None and not _is_number(value):
                raise MultiganError(f"listening page: system {name!r}: metric {key!r} is {value!r}, not a number")
    return systems


def _check_clip(clip: PageClip, systems: list[str]) -> None:
    """A :class:`MultiganError` naming the clip and what is wrong, unless every waveform can go on the page."""
    where = f"listening page: clip {clip.name!r}"
    if not isinstance(clip.sample_rate, int) or isinstance(clip.sample_rate, bool) or clip.sample_rate <= 0:
        raise MultiganError(f"{where}: sample_rate must be a positive integer, got {clip.sample_rate!r}")
    wanted = [ORIGINAL, *systems]
    for key in wanted:
        if key not in clip.audio:
            raise MultiganError(f"{where} has no audio for {key!r} (it has: {', '.join(map(repr, clip.audio))})")
    for key in clip.audio:
        if key not in wanted:
            raise MultiganError(f"{where} has audio for {key!r}, which is not a system of the table")
    for key in wanted:
        wav = np.asarray(clip.audio[key])
        if wav.ndim != 1:
            raise MultiganError(f"{where}, {key!r}: expected a mono 1-D waveform, got shape {wav.shape}")
        if not np.issubdtype(wav.dtype, np.floating):
            raise MultiganError(f"{where}, {key!r}: expected float samples in [-1, 1], got dtype {wav.dtype}")
        if not np.isfinite(wav).all():
            raise MultiganError(f"{where}, {key!r}: the waveform holds NaN or infinite samples")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _metric_columns(result: dict, systems: list[dict]) -> list[Metric]:
    """The table's metric columns: ``result["metrics"]`` in its order when given, else the known metrics that
    some system reports (in :data:`KNOWN_METRICS` order), then any other numeric field."""
    declared = result.get("metrics")
    if isinstance(declared, dict) and declared:
        keys = list(declared)
    else:
        declared = {}
        present = [k for s in systems for k in s if k not in _NOT_METRICS]
        keys = [k for k in KNOWN_METRICS if k in present]
        keys += [k for k in dict.fromkeys(present) if k not in KNOWN_METRICS]
    columns = []
    for key in keys:
        info = declared.get(key) if isinstance(declared.get(key), dict) else {}
        label, higher = KNOWN_METRICS.get(key, (key, None))
        direction = info.get("higher_is_better", higher)
        columns.append(Metric(key, str(info.get("label") or label), direction if isinstance(direction, bool) else None))
    return columns


# ------------------------------------------------------------------------------------------------- files


class Source(NamedTuple):
    """One player of a clip card: who made it, and the page-relative links of its WAV and picture."""

    name: str
    wav: str
    png: str


class Card(NamedTuple):
    """One clip of the page, with its sources in table order."""

    name: str
    seconds: float
    sample_rate: int
    sources: list[Source]


def safe_name(name: str, limit: int = 60) -> str:
    """A file-name piece made from ``name``: ASCII letters, digits, ``-`` and ``_`` only (no dot, no slash: no
    path traversal, no hidden file), at most ``limit`` characters, never empty."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_name).strip("_-")
    return cleaned[:limit] or "x"


def _write_clip_files(clip: PageClip, keys: list[str], files_dir: Path, index: int) -> Card:
    """Write the WAV and the spectrogram PNG of every source of ``clip`` under ``files_dir``; its card."""
    stem = clip.name[:-4] if clip.name.lower().endswith(".wav") else clip.name
    folder = f"{index:03d}-{safe_name(stem)}"
    pngs = _spectrograms(clip, keys)
    sources = []
    for number, key in enumerate(keys):
        base = ORIGINAL if key == ORIGINAL else f"s{number}-{safe_name(key)}"
        save_wav(files_dir / folder / f"{base}.wav", np.asarray(clip.audio[key], dtype=np.float32), clip.sample_rate)
        _save_png(files_dir / folder / f"{base}.png", pngs[key])
        link = f"{quote(files_dir.name)}/{folder}/{base}"
        sources.append(Source(key, f"{link}.wav", f"{link}.png"))
    return Card(clip.name, len(clip.audio[ORIGINAL]) / clip.sample_rate, clip.sample_rate, sources)


def _spectrograms(clip: PageClip, keys: list[str]) -> dict[str, np.ndarray]:
    """RGB pictures of the log-mel spectrograms of ``clip``'s sources (low frequencies at the bottom), on one
    colour scale: the loudest bin of the clip down to 80 dB below it."""
    n_fft = 2 ** max(6, round(math.log2(clip.sample_rate * 0.046)))  # 1024 at 22.05 kHz, 512 at 11.025 kHz
    mel = LogMel(clip.sample_rate, n_fft=n_fft, hop=n_fft // 4, n_mels=80)
    specs = {}
    for key in keys:
        wav = torch.from_numpy(np.ascontiguousarray(clip.audio[key], dtype=np.float32))
        try:
            specs[key] = mel(wav).numpy()
        except MultiganError as exc:
            raise MultiganError(f"listening page: clip {clip.name!r}, {key!r}: {exc}") from None
    top = max(float(s.max()) for s in specs.values())
    bottom = max(top - _LOG_RANGE, min(float(s.min()) for s in specs.values()))
    from matplotlib import colormaps

    cmap = colormaps["magma"]
    pictures = {}
    for key, spec in specs.items():
        scaled = np.clip((spec - bottom) / max(top - bottom, 1e-6), 0.0, 1.0)
        rgb = (cmap(scaled[::-1])[..., :3] * 255).astype(np.uint8)
        pictures[key] = np.repeat(rgb, 2, axis=0)  # 160 rows: readable at its natural size
    return pictures


def _save_png(path: Path, rgb: np.ndarray) -> None:
    """Write an ``[H, W, 3]`` uint8 picture as PNG (matplotlib's writer, no figure and no GUI backend)."""
    from matplotlib import image

    path.parent.mkdir(parents=True, exist_ok=True)
    image.imsave(path, rgb, format="png")


# -------------------------------------------------------------------------------------------------- HTML


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 1.5rem;
       color: #1b1b1b; background: #fff; line-height: 1.4; }
h1 { font-size: 1.5rem; margin: 0 0 .3rem; }
h2 { font-size: 1.2rem; margin: 1.6rem 0 .5rem; }
.meta, .note { color: #555; font-size: .9rem; margin: .2rem 0; }
table { border-collapse: collapse; font-size: .92rem; }
th, td { border: 1px solid #d0d0d0; padding: .35rem .6rem; }
thead th { background: #f2f2f2; vertical-align: bottom; }
tbody th { text-align: left; font-weight: 600; overflow-wrap: anywhere; min-width: 9rem; max-width: 20rem; }
td { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.best { background: #e3f4e1; }
.ci { display: block; color: #555; font-size: .85em; }
.table-wrap { overflow-x: auto; }
.dir { color: #666; font-weight: normal; }
section.clip { border: 1px solid #d0d0d0; border-radius: 6px; padding: .6rem .9rem .9rem; margin: 1rem 0; }
section.clip h3 { font-size: 1rem; margin: 0 0 .5rem; overflow-wrap: anywhere; }
.players { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: .8rem; }
figure { margin: 0; }
figcaption { font-weight: 600; font-size: .9rem; margin-bottom: .25rem; overflow-wrap: anywhere; }
figure img { display: block; width: 100%; height: 140px; border: 1px solid #ccc; }
figure audio { display: block; width: 100%; margin-top: .3rem; }
"""


def _page_html(result: dict, systems: list[dict], columns: list[Metric], cards: list[Card], title: str,
               n_clips: int) -> str:
    """The whole page."""
    e = html.escape
    meta = []
    if result.get("data") is not None:
        meta.append(f"data: <code>{e(str(result['data']))}</code>")
    if _is_number(result.get("sample_rate")):
        meta.append(f"sample rate: {result['sample_rate']} Hz")
    meta.append(f"clips on this page: {len(cards)} of {n_clips}")
    body = [
        f"<h1>{e(title)}</h1>",
        f'<p class="meta">{" &middot; ".join(meta)}</p>',
        "<h2>Metrics</h2>",
        _table_html(systems, columns),
        '<p class="note">Each cell: mean over the clips, below it [the bootstrapped 95 % interval]. '
        "&uarr; higher is better, "
        "&darr; lower is better; the best value of a column is in bold on green. "
        f"{_MISSING}: not measured.</p>",
        *_original_html(result),
        "<h2>Clips</h2>",
        '<p class="note">Spectrograms: log-mel, one colour scale within a clip (its loudest bin down to 80 dB '
        "below), low frequencies at the bottom.</p>",
    ]
    body += [_card_html(card) for card in cards]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def _original_html(result: dict) -> list[str]:
    """A note with the predicted MOS of the original clips themselves (``result["original"]``), when present."""
    original = result.get("original")
    if not isinstance(original, dict) or not _is_number(original.get("mos")):
        return []
    interval = (original.get("ci95") or {}).get("mos")
    bounds = (f" [{_fmt(interval[0])}, {_fmt(interval[1])}]"
              if isinstance(interval, list) and len(interval) == 2 and all(map(_is_number, interval)) else "")
    return [f'<p class="note" id="original-mos">The original clips themselves: predicted MOS '
            f"{_fmt(original['mos'])}{bounds}.</p>"]


def _table_html(systems: list[dict], columns: list[Metric]) -> str:
    """The metrics table: one row per system; each cell carries the exact numbers in ``data-`` attributes."""
    e = html.escape
    head = ['<th scope="col">system</th>']
    for col in columns:
        arrow = {True: " &uarr;", False: " &darr;", None: ""}[col.higher_is_better]
        hint = {True: "higher is better", False: "lower is better", None: "direction unknown"}[col.higher_is_better]
        head.append(f'<th scope="col" data-metric="{e(col.key)}" title="{hint}">{e(col.label)}'
                    f'<span class="dir">{arrow}</span></th>')
    head.append('<th scope="col">clips</th>')
    best = {col.key: _best(systems, col) for col in columns}
    rows = []
    for system in systems:
        cells = [f'<th scope="row">{e(system["name"])}</th>']
        cells += [_cell_html(system, col.key, best[col.key]) for col in columns]
        clips = system.get("clips")
        cells.append(f'<td data-metric="clips">{clips if _is_number(clips) else _MISSING}</td>')
        rows.append(f'<tr data-system="{e(system["name"])}">{"".join(cells)}</tr>')
    return ('<div class="table-wrap"><table id="metrics">\n<thead><tr>' + "".join(head) + "</tr></thead>\n<tbody>\n"
            + "\n".join(rows) + "\n</tbody>\n</table></div>")


def _value(system: dict, key: str) -> float | None:
    """The system's finite value of ``key``, else ``None`` (missing, null, NaN)."""
    value = system.get(key)
    return float(value) if _is_number(value) and math.isfinite(value) else None


def _best(systems: list[dict], col: Metric) -> float | None:
    """The best value of a column, or ``None`` when its direction is unknown or fewer than two systems have one."""
    values = [v for v in (_value(s, col.key) for s in systems) if v is not None]
    if col.higher_is_better is None or len(values) < 2:
        return None
    return max(values) if col.higher_is_better else min(values)


def _fmt(value: float) -> str:
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.3f}"


def _cell_html(system: dict, key: str, best: float | None) -> str:
    """``value [lo, hi]``, or a dash; the exact numbers in ``data-value``, ``data-lo``, ``data-hi``."""
    value = _value(system, key)
    if value is None:
        return f'<td data-metric="{html.escape(key)}">{_MISSING}</td>'
    attrs = f'data-metric="{html.escape(key)}" data-value="{value!r}"'
    text = _fmt(value)
    interval = (system.get("ci95") or {}).get(key) if isinstance(system.get("ci95"), dict) else None
    if isinstance(interval, (list, tuple)) and len(interval) == 2 and all(_is_number(v) for v in interval):
        lo, hi = (float(v) for v in interval)
        attrs += f' data-lo="{lo!r}" data-hi="{hi!r}"'
        text += f' <span class="ci">[{_fmt(lo)}, {_fmt(hi)}]</span>'
    if best is not None and value == best:
        return f'<td class="best" {attrs} title="best"><strong>{text}</strong></td>'
    return f"<td {attrs}>{text}</td>"


def _card_html(card: Card) -> str:
    """One clip: a figure per source with its name, spectrogram and player."""
    e = html.escape
    figures = []
    for source in card.sources:
        figures.append(
            f'<figure><figcaption>{e(source.name)}</figcaption>'
            f'<img src="{e(source.png)}" alt="log-mel spectrogram of {e(card.name)}, {e(source.name)}" '
            f'width="320" height="140">'
            f'<audio controls preload="metadata" src="{e(source.wav)}">'
            f'<a href="{e(source.wav)}">{e(source.name)} (WAV)</a></audio></figure>')
    facts = f"{card.seconds:.2f} s, {card.sample_rate} Hz; log-mel 0&ndash;{card.sample_rate / 2000:.1f} kHz"
    return (f'<section class="clip"><h3>{e(card.name)} <span class="note">({facts})</span></h3>\n'
            f'<div class="players">{"".join(figures)}</div></section>')
