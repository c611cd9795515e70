"""The listening page of ``eval-vocoder``: its table equals the JSON, its WAVs equal the input, names are escaped
and made safe as file names, bad input fails clearly; and in headless Chromium (skipped without it) every player
decodes, every picture loads and the rendered table equals the JSON.
"""
from __future__ import annotations

import html
import json
import re
import struct
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
import soundfile as sf

from multigan.audio.vocoders.evaluation.page import PageClip, safe_name, write_listening_page
from multigan.errors import MultiganError

from helpers.chromium import PROBE_RESULT, PROBE_WAIT, chromium_or_skip, run_chromium, serve

SR = 22050
NASTY = "<script>alert(1)</script>"
VOID = {"meta", "img", "br", "hr", "input", "link", "source", "col", "wbr"}


# ------------------------------------------------------------------------------------------------ inputs


def fake_result(names: list[str], with_metrics: bool = True) -> dict:
    """An eval-vocoder result for ``names``: distinct numbers per system, STOI missing for the first one."""
    systems = []
    for i, name in enumerate(names):
        values = {"pesq_wb": 1.5 + i * 0.75, "mr_stft": 2.25 - i * 0.5, "mel_l1": 0.8125 - i * 0.25,
                  "periodicity": 0.2 - i * 0.05, "vuv_f1": 0.75 + i * 0.125, "mos": 2.0 + i, "stoi": 0.9 + i * 0.03}
        ci95 = {k: [v * 0.95, v * 1.05] for k, v in values.items()}
        if i == 0:
            values["stoi"] = None
            del ci95["stoi"]
        systems.append({"name": name, **values, "clips": 3, "ci95": ci95})
    result = {"systems": systems, "data": "wavs <dir>", "sample_rate": SR}
    if with_metrics:
        result["metrics"] = {"pesq_wb": {"higher_is_better": True, "label": "PESQ-wb"},
                             "mr_stft": {"higher_is_better": False, "label": "MR-STFT"},
                             "mel_l1": {"higher_is_better": False, "label": "mel L1"},
                             "periodicity": {"higher_is_better": False, "label": "periodicity RMSE"},
                             "vuv_f1": {"higher_is_better": True, "label": "V/UV F1"},
                             "mos": {"higher_is_better": True, "label": "MOS"},
                             "stoi": {"higher_is_better": True, "label": "STOI"}}
    return result


def synthetic_clips(names: list[str], n: int = 2, seconds: float = 0.5) -> list[PageClip]:
    """``n`` clips of seeded noise-modulated tones, each system a differently scaled copy."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    clips = []
    for c in range(n):
        original = (0.5 * np.sin(2 * np.pi * (150 + 50 * c) * t) + 0.05 * rng.standard_normal(t.size))
        audio = {"original": original.astype(np.float32)}
        audio.update({name: (original * (0.9 - 0.1 * i)).astype(np.float32) for i, name in enumerate(names)})
        clips.append(PageClip(f"clip_{c}.wav", SR, audio))
    return clips


def lj_clips(names: tuple[str, str], seconds: float = 2.5) -> list[PageClip]:
    """Three real LJ Speech clips (cut), as original, with white noise at 10 dB SNR, and low-passed at 4 kHz."""
    src = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ljspeech-mini" / "wavs"
    paths = sorted(src.glob("*.wav"))[:3]
    if len(paths) < 3:
        pytest.skip(f"LJ Speech mini set not found at {src}")
    rng = np.random.default_rng(22)
    clips = []
    for path in paths:
        y, sr = sf.read(str(path), dtype="float32")
        y = y[: int(seconds * sr)]
        noise = rng.standard_normal(y.size)
        noise *= np.sqrt(np.mean(y ** 2) / np.mean(noise ** 2) / 10 ** (10 / 10))
        spectrum = np.fft.rfft(y)
        spectrum[np.fft.rfftfreq(y.size, 1 / sr) > 4000] = 0
        lowpass = np.fft.irfft(spectrum, y.size)
        audio = {"original": y, names[0]: np.clip(y + noise, -1, 1).astype(np.float32),
                 names[1]: lowpass.astype(np.float32)}
        clips.append(PageClip(path.name, sr, audio))
    return clips


# ------------------------------------------------------------------------------------------------ parsing


class PageParser(HTMLParser):
    """Collects the metric rows, audio and image sources, every link, the text, and tag balance."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[dict] = []
        self.audio: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.tags: list[str] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.text: list[str] = []
        self._cell: dict | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.append(a["id"])
        if tag not in VOID:
            self.stack.append(tag)
        for key in ("src", "href"):
            if key in a:
                self.links.append(a[key])
        if tag == "audio":
            self.audio.append(a["src"])
        elif tag == "img":
            self.images.append(a["src"])
        elif tag == "tr" and "data-system" in a:
            self.rows.append({"name": a["data-system"], "cells": {}})
        elif tag in ("td", "th") and self.rows and "data-metric" in a and "tbody" in self.stack:
            self._cell = {**a, "text": ""}
            self.rows[-1]["cells"][a["data-metric"]] = self._cell

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()
        if tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell["text"] += data


def parse(page: Path) -> PageParser:
    parser = PageParser()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    return parser


def expected_cell(system: dict, key: str) -> str:
    """The text a cell must show for ``system[key]``."""
    value = system.get(key)
    if value is None:
        return "\u2013"
    lo, hi = system["ci95"][key]
    return f"{value:.3f} [{lo:.3f}, {hi:.3f}]"


# ------------------------------------------------------------------------------------------------ unit tests


@pytest.mark.parametrize("with_metrics", [True, False], ids=["metrics-section", "built-in-labels"])
def test_table_rows_equal_the_json(tmp_path: Path, with_metrics: bool) -> None:
    names = ["runs/vocos_cpu", "runs/hifigan_v1", "griffin-lim"]
    result = fake_result(names, with_metrics)
    page = write_listening_page(result, synthetic_clips(names), tmp_path / "page.html")
    parsed = parse(page)
    assert [row["name"] for row in parsed.rows] == names
    for system, row in zip(result["systems"], parsed.rows):
        for key in ("pesq_wb", "mr_stft", "mel_l1", "periodicity", "vuv_f1", "mos", "stoi"):
            cell = row["cells"][key]
            assert cell["text"].strip() == expected_cell(system, key)
            if system[key] is not None:
                assert float(cell["data-value"]) == system[key]
                assert [float(cell["data-lo"]), float(cell["data-hi"])] == system["ci95"][key]
        assert row["cells"]["clips"]["text"] == "3"
    # The last system is best on every column (higher or lower as the metric wants); the first never is.
    assert all("best" in (c.get("class") or "") for k, c in parsed.rows[-1]["cells"].items() if k != "clips")
    assert not any("best" in (c.get("class") or "") for c in parsed.rows[0]["cells"].values())
    text = "".join(parsed.text)
    assert "PESQ-wb" in text and "periodicity RMSE" in text and "\u2191" in text and "\u2193" in text


def test_page_is_static_html5_with_relative_links(tmp_path: Path) -> None:
    names = ["runs/vocos_cpu"]
    page = write_listening_page(fake_result(names), synthetic_clips(names), tmp_path / "sub dir" / "eval #1.html")
    source = page.read_text(encoding="utf-8")
    parsed = parse(page)
    assert source.startswith("<!DOCTYPE html>") and not parsed.errors and not parsed.stack
    assert len(parsed.ids) == len(set(parsed.ids))
    assert "script" not in parsed.tags and "link" not in parsed.tags  # no JavaScript, no external style sheet
    for link in parsed.links:
        assert "://" not in link and not link.startswith(("/", "..")) and link.startswith("eval%20%231_files/")
        assert (page.parent / unquote(link)).is_file()
    assert re.findall(r'<audio controls preload="metadata"', source) and len(parsed.audio) == 2 * 2


def test_wavs_equal_the_input_and_pictures_are_png(tmp_path: Path) -> None:
    names = ["runs/vocos_cpu", "griffin-lim"]
    clips = synthetic_clips(names, n=3)
    page = write_listening_page(fake_result(names), clips, tmp_path / "page.html")
    parsed = parse(page)
    expected = [clip.audio[key] for clip in clips for key in ["original", *names]]
    assert len(parsed.audio) == len(expected) == len(parsed.images)
    for src, wav in zip(parsed.audio, expected):
        meta = sf.info(str(tmp_path / src))
        assert (meta.format, meta.subtype, meta.samplerate, meta.channels) == ("WAV", "PCM_16", SR, 1)
        data, _ = sf.read(str(tmp_path / src), dtype="int16")
        np.testing.assert_allclose(data / 32768.0, wav, rtol=0, atol=1 / 32768)
    for src in parsed.images:
        head = (tmp_path / src).read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24])[1] == 160


def test_names_are_escaped_and_file_names_safe(tmp_path: Path) -> None:
    names = [NASTY, "runs/vocos_cpu", "../../escape", "a\"b'&c"]
    clips = synthetic_clips(names, n=1)
    clips[0].name = "../<b>clip</b>.wav"
    page = write_listening_page(fake_result(names), clips, tmp_path / "out" / "page.html")
    source = page.read_text(encoding="utf-8")
    assert "<script" not in source and "<b>" not in source
    parsed = parse(page)
    assert [row["name"] for row in parsed.rows] == names
    text = "".join(parsed.text)
    assert NASTY in text and "../<b>clip</b>.wav" in text and "a\"b'&c" in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to((tmp_path / "out").resolve()) for p in files)
    assert len(files) == 1 + 2 * (1 + len(names))
    for name in (NASTY, "../../escape", "runs/vocos_cpu", "\u00e9t\u00e9 ☃", ""):
        assert re.fullmatch(r"[A-Za-z0-9_-]+", safe_name(name))


def test_max_clips_and_missing_metrics(tmp_path: Path) -> None:
    names = ["runs/vocos_cpu"]
    result = {"systems": [{"name": "runs/vocos_cpu", "pesq_wb": None, "mel_l1": 0.5, "rtf": 0.01}]}
    page = write_listening_page(result, synthetic_clips(names, n=3), tmp_path / "page.html", max_clips=1)
    parsed = parse(page)
    assert len(parsed.audio) == 2
    cells = parsed.rows[0]["cells"]
    assert cells["pesq_wb"]["text"] == "\u2013" and cells["mel_l1"]["text"] == "0.500"
    assert cells["rtf"]["text"] == "0.010" and cells["clips"]["text"] == "\u2013"
    assert "1 of 3" in "".join(parsed.text)


def _bad(case: str):
    """(result, clips, path) of one bad input."""
    names = ["runs/a", "runs/b"]
    result, clips, path = fake_result(names), synthetic_clips(names, n=1), "page.html"
    audio = clips[0].audio
    if case == "no systems":
        result["systems"] = []
    elif case == "missing audio":
        del audio["runs/b"]
    elif case == "unknown system":
        audio["runs/c"] = audio["runs/a"]
    elif case == "stereo":
        audio["runs/a"] = np.stack([audio["runs/a"]] * 2)
    elif case == "nan":
        audio["runs/b"] = audio["runs/b"].copy()
        audio["runs/b"][5] = np.nan
    elif case == "too short":
        audio["runs/a"] = audio["runs/a"][:100]
    elif case == "duplicate":
        result["systems"][1]["name"] = "runs/a"
    elif case == "bad metric":
        result["systems"][0]["mos"] = "good"
    elif case == "not html":
        path = "page.wav"
    elif case == "sample rate":
        clips[0].sample_rate = 0
    return result, clips, path


@pytest.mark.parametrize("case, message", [
    ("no systems", "no systems"), ("missing audio", "clip 'clip_0.wav' has no audio for 'runs/b'"),
    ("unknown system", "'runs/c', which is not a system"), ("stereo", "'runs/a': expected a mono 1-D waveform"),
    ("nan", "'runs/b': the waveform holds NaN"), ("too short", "'runs/a': audio of 100 samples is shorter"),
    ("duplicate", "two systems are named 'runs/a'"), ("bad metric", "metric 'mos' is 'good', not a number"),
    ("not html", r"name it \*\.html"), ("sample rate", "sample_rate must be a positive integer"),
])
def test_bad_input_is_one_clear_error(tmp_path: Path, case: str, message: str) -> None:
    result, clips, path = _bad(case)
    with pytest.raises(MultiganError, match=message):
        write_listening_page(result, clips, tmp_path / path)
    assert not (tmp_path / path).exists()


# ------------------------------------------------------------------------------------------------ in a browser

#: Appended to a copy of the page: decodes every player's WAV (fetch + decodeAudioData), loads each <audio>
#: element's metadata, checks the pictures, reads the rendered table, and POSTs it all to the probe channel of
#: the test's server; the pending picture holds Chromium's virtual time until then.
PROBE = """<img src="PROBE_WAIT" alt="" width="1" height="1">
<script>
async function probe() {
  const out = {audio: [], images: [], table: []};
  const context = new OfflineAudioContext(1, 1, 22050);
  for (const el of document.querySelectorAll("audio")) {
    const r = {src: el.getAttribute("src")};
    try {
      const decoded = await context.decodeAudioData(await (await fetch(el.src)).arrayBuffer());
      Object.assign(r, {length: decoded.length, rate: decoded.sampleRate, channels: decoded.numberOfChannels});
    } catch (err) { r.error = String(err); }
    r.duration = await new Promise((resolve) => {
      if (el.readyState >= 1) return resolve(el.duration);
      el.addEventListener("loadedmetadata", () => resolve(el.duration), {once: true});
      el.addEventListener("error", () => resolve("error " + (el.error && el.error.code)), {once: true});
      el.load();
    });
    out.audio.push(r);
  }
  for (const img of document.querySelectorAll("figure img"))
    out.images.push({src: img.getAttribute("src"), width: img.naturalWidth, height: img.naturalHeight});
  for (const tr of document.querySelectorAll("#metrics tr"))
    out.table.push([...tr.children].map((cell) => cell.innerText.trim().split(/[ \\n]+/).join(" ")));
  return out;
}
probe().catch((err) => ({failed: String(err)})).then(
  (out) => fetch("PROBE_RESULT", {method: "POST", body: JSON.stringify(out)}));
</script>
""".replace("PROBE_WAIT", PROBE_WAIT).replace("PROBE_RESULT", PROBE_RESULT)

LJ_SYSTEMS = ("runs/noise_10dB", "runs/lowpass_4kHz")


@pytest.fixture(scope="module")
def lj_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[PageClip]]:
    """A page of three LJ clips with two fake systems (noise at 10 dB SNR, low-pass at 4 kHz)."""
    clips = lj_clips(LJ_SYSTEMS)
    result = fake_result(list(LJ_SYSTEMS))
    result["data"] = "ljspeech-mini/wavs"
    page = write_listening_page(result, clips, tmp_path_factory.mktemp("lj") / "listening.html")
    return page, result, clips


def test_in_chromium_every_player_decodes_and_the_table_matches(lj_page) -> None:
    binary = chromium_or_skip()
    page, result, clips = lj_page
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    with serve(page.parent) as served:
        run_chromium(binary, served.url + probe.name, "--dump-dom", "--virtual-time-budget=20000")
        posted = served.probe_result()
    assert posted, "the probe script in Chromium did not report"
    out = json.loads(posted)
    assert "failed" not in out, out
    waves = [clip.audio[key] for clip in clips for key in ["original", *LJ_SYSTEMS]]
    assert len(out["audio"]) == len(waves) == 9
    for player, wav in zip(out["audio"], waves):
        assert "error" not in player, player
        assert (player["length"], player["rate"], player["channels"]) == (wav.size, SR, 1), player
        assert player["duration"] == pytest.approx(wav.size / SR, abs=1e-3), player
    assert len(out["images"]) == 9 and all(img["width"] > 0 and img["height"] == 160 for img in out["images"])
    header, *rows = out["table"]
    assert header[0] == "system" and header[1] == "PESQ-wb \u2191" and header[2] == "MR-STFT \u2193"
    keys = ["pesq_wb", "mr_stft", "mel_l1", "periodicity", "vuv_f1", "mos", "stoi"]
    assert rows == [[s["name"], *(expected_cell(s, k) for k in keys), "3"] for s in result["systems"]]


def test_in_chromium_screenshot(lj_page, tmp_path: Path) -> None:
    """A 1280 x 2000 screenshot of the page renders (and is kept at $MULTIGAN_PAGE_SCREENSHOT when set)."""
    import os

    from PIL import Image

    binary = chromium_or_skip()
    page, _, _ = lj_page
    shot = Path(os.environ.get("MULTIGAN_PAGE_SCREENSHOT") or tmp_path / "page.png")
    with serve(page.parent) as served:
        run_chromium(binary, served.url + page.name, f"--screenshot={shot}", "--window-size=1280,2000")
    with Image.open(shot) as picture:
        assert picture.size == (1280, 2000)
        colours = picture.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 1000  # the spectrograms are there, not a blank page
