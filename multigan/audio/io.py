"""Audio file input/output built on soundfile (libsndfile) and soxr.

``torchaudio.load``/``torchaudio.save`` need TorchCodec, which this project does not depend on, so every
read and write goes through soundfile. Resampling uses soxr's high-quality setting (the same engine as
``librosa.resample(res_type="soxr_hq")``) without importing librosa.
"""

from __future__ import annotations

import logging
import math
import os
import struct
from pathlib import Path
from typing import NamedTuple, Sequence, Union

import numpy as np
import torch

from ..errors import MultiganError

__all__ = [
    "AudioFileError",
    "AudioInfo",
    "check_wav_name",
    "info",
    "load_audio",
    "save_wav",
    "save_wavs",
    "to_pcm16",
]

PathLike = Union[str, os.PathLike]
ArrayLike = Union[torch.Tensor, np.ndarray]

logger = logging.getLogger("multigan")

_MONO_MODES = ("mix", "first")
_downmix_logged = False  # the down-mix notice is logged once per process


class AudioFileError(MultiganError, ValueError):
    """A file that cannot be used as audio; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: PathLike, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class AudioInfo(NamedTuple):
    """Header facts of an audio file (unpacks as ``sample_rate, frames, channels``)."""

    sample_rate: int
    frames: int
    channels: int


def _soundfile():
    """The soundfile module, imported on first use (so models and training import without it)."""
    try:
        import soundfile
    except ImportError as exc:  # pragma: no cover - soundfile is a declared dependency
        raise MultiganError(f"reading or writing audio files needs the soundfile package ({exc}): "
                            "pip install soundfile") from None
    return soundfile


def info(path: PathLike) -> AudioInfo:
    """Return ``(sample_rate, frames, channels)`` of ``path`` from its header.

    Raises:
        AudioFileError: the file is missing, not audio, or its header is unreadable.
    """
    path = Path(path)
    _check_exists(path)
    sf = _soundfile()
    try:
        meta = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(path, f"not a readable audio file ({_libsndfile_reason(exc)})") from exc
    return AudioInfo(int(meta.samplerate), int(meta.frames), int(meta.channels))


def load_audio(path: PathLike, sample_rate: int | None, *, mono: str = "mix") -> torch.Tensor:
    """Read ``path`` as a mono float32 waveform ``[T]`` at ``sample_rate`` Hz.

    Multi-channel files are reduced to one channel: ``mono="mix"`` takes the mean of the channels (logged
    once per process at INFO on the ``multigan`` logger), ``mono="first"`` keeps channel 0. A file whose
    rate differs from ``sample_rate`` is resampled with soxr (high quality); ``sample_rate=None`` keeps the
    file's own rate.

    Raises:
        AudioFileError: the file is missing, not audio, unreadable, truncated, empty (0 frames), or holds
            non-finite samples (NaN/inf, possible in float WAVs).
        ValueError: ``mono`` or ``sample_rate`` is invalid.
    """
    if mono not in _MONO_MODES:
        raise ValueError(f"load_audio: mono={mono!r} is not one of {_MONO_MODES}")
    if sample_rate is not None and (int(sample_rate) != sample_rate or sample_rate <= 0):
        raise ValueError(f"load_audio: sample_rate must be a positive integer or None, got {sample_rate!r}")
    path = Path(path)
    data, file_rate = _read_checked(path)
    wav = _to_mono(data, mono, path)
    if sample_rate is not None and file_rate != sample_rate:
        wav = resample(wav, file_rate, int(sample_rate))
    return torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))


def resample(wav: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Resample a 1-D float32 array with soxr (HQ); output length is ``ceil(len * new / orig)``."""
    import soxr  # local import: only needed when rates differ

    if orig_rate == new_rate or wav.size == 0:
        return wav
    out = soxr.resample(wav, orig_rate, new_rate, quality="HQ").astype(np.float32, copy=False)
    target = math.ceil(wav.shape[0] * new_rate / orig_rate)
    if out.shape[0] > target:
        out = out[:target]
    elif out.shape[0] < target:
        out = np.pad(out, (0, target - out.shape[0]))
    return out


def to_pcm16(wav: ArrayLike) -> np.ndarray:
    """Clip to [-1, 1] and quantise to int16 with scale 32768 (the inverse of soundfile's reading)."""
    arr = wav.detach().cpu().float().numpy() if isinstance(wav, torch.Tensor) else np.asarray(wav, np.float32)
    arr = np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(np.round(np.clip(arr, -1.0, 1.0) * 32768.0), -32768, 32767).astype(np.int16)


def check_wav_name(path: PathLike, option: str = "") -> Path:
    """``path`` as a :class:`~pathlib.Path` if it names a ``.wav`` file; else a :class:`MultiganError` (multigan
    writes WAV only: a WAV under an ``.mp3`` or ``.flac`` name would mislead every reader). ``option`` names the
    command-line option the path came from."""
    path = Path(path)
    if path.suffix.lower() != ".wav":
        where = f"{option} {path}" if option else str(path)
        raise MultiganError(f"{where}: multigan writes 16-bit PCM WAV files; name the output *.wav "
                            "(convert it afterwards, e.g. with ffmpeg, for another format)")
    return path


def save_wav(path: PathLike, wav: ArrayLike, sample_rate: int) -> Path:
    """Write ``wav`` (``[T]``, or ``[C, T]`` channels-first) as a 16-bit PCM WAV; returns the path.

    Samples are clipped to [-1, 1] (NaN written as 0); parent folders are created.
    """
    path = check_wav_name(path)
    pcm = to_pcm16(wav)
    if pcm.ndim == 2:
        pcm = pcm.T  # soundfile wants [frames, channels]
    elif pcm.ndim != 1:
        raise ValueError(f"save_wav({path}): expected a [T] or [C, T] waveform, got shape {tuple(pcm.shape)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _soundfile().write(str(path), pcm, int(sample_rate), subtype="PCM_16", format="WAV")
    return path


def save_wavs(
    wavs: ArrayLike | Sequence[ArrayLike],
    sample_rate: int,
    out_dir: PathLike,
    prefix: str = "",
    start: int = 0,
) -> list[Path]:
    """Write a batch of mono waveforms as ``{prefix}_{i}.wav`` (``{i}.wav`` without prefix) in ``out_dir``.

    ``wavs`` is a ``[N, T]`` or ``[N, 1, T]`` tensor/array or a list of ``[T]``/``[1, T]`` waveforms;
    numbering starts at ``start``. Returns the written paths in order.
    """
    out_dir = Path(out_dir)
    items = _split_batch(wavs)
    paths = []
    for offset, wav in enumerate(items):
        index = start + offset
        name = f"{prefix}_{index}.wav" if prefix else f"{index}.wav"
        paths.append(save_wav(out_dir / name, wav, sample_rate))
    return paths


# --------------------------------------------------------------------------------------------- helpers


def _split_batch(wavs: ArrayLike | Sequence[ArrayLike]) -> list[ArrayLike]:
    """Turn a batch into a list of 1-D waveforms, dropping a singleton channel axis."""
    if isinstance(wavs, (torch.Tensor, np.ndarray)):
        if wavs.ndim == 3 and wavs.shape[1] == 1:
            wavs = wavs[:, 0]
        if wavs.ndim != 2:
            raise ValueError(f"save_wavs: expected a [N, T] or [N, 1, T] batch, got shape {tuple(wavs.shape)}")
        return list(wavs)
    items = []
    for i, wav in enumerate(wavs):
        if wav.ndim == 2 and wav.shape[0] == 1:
            wav = wav[0]
        if wav.ndim != 1:
            raise ValueError(f"save_wavs: item {i} should be [T] or [1, T], got shape {tuple(wav.shape)}")
        items.append(wav)
    return items


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise AudioFileError(path, "file does not exist")
    if not path.is_file():
        raise AudioFileError(path, "not a regular file")


def _libsndfile_reason(exc: Exception) -> str:
    """The useful part of a libsndfile error ("Format not recognised" rather than the whole path)."""
    text = getattr(exc, "error_string", None) or str(exc)
    return str(text).strip().rstrip(".") or type(exc).__name__


def _read_checked(path: Path) -> tuple[np.ndarray, int]:
    """Read all frames as float32 ``[frames, channels]`` and check them; returns ``(data, rate)``."""
    _check_exists(path)
    sf = _soundfile()
    try:
        with sf.SoundFile(str(path)) as handle:
            declared = handle.frames
            file_rate = int(handle.samplerate)
            fmt = handle.format
            data = handle.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(path, f"not a readable audio file ({_libsndfile_reason(exc)})") from exc
    if data.shape[0] < declared:
        raise AudioFileError(path, f"truncated or corrupt: header declares {declared} frames, read {data.shape[0]}")
    if fmt in ("WAV", "WAVEX"):
        problem = _wav_truncation(path)
        if problem:
            raise AudioFileError(path, f"truncated or corrupt: {problem}")
    if data.shape[0] == 0:
        raise AudioFileError(path, "empty (0 frames)")
    if not np.isfinite(data).all():
        raise AudioFileError(path, "contains non-finite samples (NaN or inf)")
    return data, file_rate


def _wav_truncation(path: Path) -> str | None:
    """Describe a RIFF/WAVE file whose data chunk is shorter than its header says, else None.

    libsndfile silently reads what is there, so a cut-off download looks like a short clip. Sizes of 0 or
    0xFFFFFFFF (streamed writers, RF64) cannot be checked and are accepted.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RIFX"):
            return None
        order = "<" if head[:4] == b"RIFF" else ">"
        pos = 12
        while pos + 8 <= size:
            handle.seek(pos)
            chunk_id, chunk_size = struct.unpack(order + "4sI", handle.read(8))
            if chunk_id == b"data":
                available = size - (pos + 8)
                if chunk_size not in (0, 0xFFFFFFFF) and chunk_size > available:
                    return f"data chunk declares {chunk_size} bytes but only {available} are present"
                return None
            pos += 8 + chunk_size + (chunk_size & 1)
    return None


def _to_mono(data: np.ndarray, mode: str, path: Path) -> np.ndarray:
    """Reduce ``[frames, channels]`` to ``[frames]``."""
    if data.shape[1] == 1:
        return data[:, 0]
    if mode == "first":
        return data[:, 0]
    global _downmix_logged
    if not _downmix_logged:
        _downmix_logged = True
        logger.info(
            "down-mixing multi-channel audio to mono (mean of channels); first seen: %s (%d channels)",
            path,
            data.shape[1],
        )
    return data.mean(axis=1, dtype=np.float32)
