"""One description of a log-mel front end: the few choices that make HiFi-GAN's, BigVGAN's and Vocos' mels differ.

    MelFrontEnd()                       # HiFi-GAN = BigVGAN: Slaney filterbank, log floor 1e-5, "same" framing
    MelFrontEnd.preset("vocos")         # Vocos: HTK filterbank without norm, log floor 1e-7, centred frames
    MelFrontEnd.from_dict(d).to_dict()  # what a vocoder export stores (JSON)

The numeric settings (rate, FFT size, hop, window, bands, fmin, fmax) are the vocoder's ``mel`` settings; this
describes how they are turned into a log-mel:

* ``filterbank``: the mel scale of the triangular filters, ``"slaney"`` (librosa's default; HiFi-GAN and BigVGAN
  build theirs with ``librosa.filters.mel``) or ``"htk"`` (torchaudio's default; Vocos);
* ``norm``: ``"slaney"`` (each triangle divided by its width: area normalisation) or ``None`` (peak 1);
* ``log_floor``: ``log(clamp(mel, log_floor))`` (HiFi-GAN, BigVGAN: ``1e-5``; Vocos' ``safe_log``: ``1e-7``);
* ``padding``: ``"same"`` reflect-pads ``(n_fft - hop) // 2`` samples on both sides and frames without centring
  (``T // hop`` frames for ``T`` a multiple of the hop; HiFi-GAN, BigVGAN, Vocos' ``padding="same"``);
  ``"center"`` is ``torch.stft(center=True)`` with ``pad_mode`` (``T // hop + 1`` frames; Vocos' default);
* ``pad_mode``: how ``"center"`` pads (torch.stft's modes); ``"same"`` always reflects;
* ``magnitude_eps``: the magnitude is ``sqrt(re^2 + im^2 + magnitude_eps)`` (HiFi-GAN, BigVGAN: ``1e-9``), or plain
  ``|STFT|`` for ``0`` (Vocos, torchaudio's ``power=1``).

Every bad description raises :class:`MelFrontEndError` naming the key.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping, Optional, Union

from ..errors import MultiganError

__all__ = ["FRONT_END_PRESETS", "MelFrontEnd", "MelFrontEndError", "resolve_front_end"]

_FILTERBANKS = ("slaney", "htk")
_NORMS = ("slaney", None)
_PADDINGS = ("same", "center")
_PAD_MODES = ("reflect", "constant", "replicate", "circular")


class MelFrontEndError(MultiganError, ValueError):
    """A mel front-end description that cannot be built (the message names the key)."""


@dataclass(frozen=True)
class MelFrontEnd:
    """How a vocoder turns audio into its input log-mel (see the module docstring); checked when built."""

    filterbank: str = "slaney"
    norm: Optional[str] = "slaney"
    log_floor: float = 1e-5
    padding: str = "same"
    pad_mode: str = "reflect"
    magnitude_eps: float = 1e-9

    def __post_init__(self) -> None:
        _choice("filterbank", self.filterbank, _FILTERBANKS)
        _choice("norm", self.norm, _NORMS)
        _choice("padding", self.padding, _PADDINGS)
        _choice("pad_mode", self.pad_mode, _PAD_MODES)
        _positive_number("log_floor", self.log_floor, allow_zero=False)
        _positive_number("magnitude_eps", self.magnitude_eps, allow_zero=True)
        if self.padding == "same" and self.pad_mode != "reflect":
            raise MelFrontEndError(f"mel front end: pad_mode={self.pad_mode!r} only applies to padding='center'; "
                                   "padding='same' always reflects")

    # --- (de)serialisation ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (what an export stores)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MelFrontEnd":
        """Build from :meth:`to_dict`'s form; missing keys take the HiFi-GAN defaults, unknown keys are an error."""
        if not isinstance(data, Mapping):
            raise MelFrontEndError(f"mel front end: expected a mapping of settings or a preset name "
                                   f"{sorted(FRONT_END_PRESETS)}, got {type(data).__name__} {data!r:.60}")
        valid = [f.name for f in fields(cls)]
        unknown = sorted(map(str, set(data) - set(valid)))
        if unknown:
            raise MelFrontEndError(f"mel front end: unknown key(s) {unknown}; valid keys: {valid}")
        return cls(**dict(data))

    @classmethod
    def preset(cls, name: str) -> "MelFrontEnd":
        """A published front end by name: ``hifigan``, ``bigvgan`` (the same) or ``vocos``."""
        try:
            return FRONT_END_PRESETS[name]
        except (KeyError, TypeError):
            raise MelFrontEndError(f"mel front end: unknown preset {name!r}; "
                                   f"valid: {sorted(FRONT_END_PRESETS)}") from None

    # --- description --------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """``"HiFi-GAN/BigVGAN"``, ``"Vocos"``, or ``"custom"`` for any other description."""
        if self == FRONT_END_PRESETS["hifigan"]:
            return "HiFi-GAN/BigVGAN"
        if self == FRONT_END_PRESETS["vocos"]:
            return "Vocos"
        return "custom"

    def describe(self) -> str:
        """One line for messages, e.g. ``Vocos (htk filterbank, no norm, log floor 1e-07, centred frames, |STFT|)``."""
        frames = ("centred frames" + ("" if self.pad_mode == "reflect" else f" ({self.pad_mode} padding)")
                  if self.padding == "center" else "reflect-pad (n_fft - hop) / 2, uncentred frames")
        magnitude = f"sqrt(|STFT|^2 + {self.magnitude_eps:g})" if self.magnitude_eps else "|STFT|"
        norm = f"{self.norm} norm" if self.norm else "no norm"
        return (f"{self.name} ({self.filterbank} filterbank, {norm}, log floor {self.log_floor:g}, {frames}, "
                f"{magnitude})")

    def frames(self, samples: int, hop: int) -> int:
        """Mel frames of ``samples`` samples (``samples >= n_fft`` after padding)."""
        return samples // hop + 1 if self.padding == "center" else samples // hop


def _choice(key: str, value: Any, valid: tuple) -> None:
    if not any(value == v and type(value) is type(v) for v in valid):
        raise MelFrontEndError(f"mel front end: {key}={value!r} is not one of {list(valid)}")


def _positive_number(key: str, value: Any, allow_zero: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        need = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise MelFrontEndError(f"mel front end: {key}={value!r} must be {need}")


#: The published front ends. BigVGAN's ``meldataset.mel_spectrogram`` is HiFi-GAN's.
FRONT_END_PRESETS: dict[str, MelFrontEnd] = {
    "hifigan": MelFrontEnd(),
    "bigvgan": MelFrontEnd(),
    "vocos": MelFrontEnd(filterbank="htk", norm=None, log_floor=1e-7, padding="center", pad_mode="reflect",
                         magnitude_eps=0.0),
}


def resolve_front_end(spec: Union[None, str, Mapping[str, Any], MelFrontEnd]) -> MelFrontEnd:
    """``None`` (an export made before front ends were stored: HiFi-GAN's), a preset name, a mapping or a
    :class:`MelFrontEnd` as a :class:`MelFrontEnd`."""
    if spec is None:
        return FRONT_END_PRESETS["hifigan"]
    if isinstance(spec, MelFrontEnd):
        return spec
    if isinstance(spec, str):
        return MelFrontEnd.preset(spec)
    return MelFrontEnd.from_dict(spec)
