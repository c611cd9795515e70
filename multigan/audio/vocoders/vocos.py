"""Vocos (Siuzdak, 2023): a frame-rate ConvNeXt backbone and an inverse-STFT head, as a vocoder generator family.

The generator never upsamples: a ConvNeXt stack works on the mel frames, a linear head predicts one complex
STFT frame per mel frame (log-magnitude and phase) and an inverse STFT with "same" padding turns ``frames``
STFT frames into exactly ``frames * hop_size`` samples. That is why it is fast on a CPU.

* :class:`ConvNeXtBlock` -- depthwise conv (k=7), LayerNorm, pointwise MLP with GELU, layer scale, residual.
* :class:`VocosBackbone` -- embedding conv (k=7), LayerNorm, ``num_layers`` blocks (layer scale ``1/num_layers``),
  final LayerNorm. Published mel configuration: ``dim=512, intermediate_dim=1536, num_layers=8``.
* :class:`ISTFTHead` -- linear to ``n_fft + 2`` channels: magnitude ``min(exp(x), 100)``, phase ``p`` through
  ``cos p + i sin p``; then :func:`istft_same`.
* :class:`VocosGenerator` -- the registered family (``"vocos"`` in
  :data:`multigan.audio.vocoders.registry.GENERATORS`).
* :class:`VocosConfig` -- the typed ``generator`` section of a vocoder recipe (default: the published backbone).

Framing: STFT frame ``t`` covers output samples ``[t*hop - pad_left, t*hop - pad_left + n_fft)`` with
``pad_left = (n_fft - hop) // 2``, i.e. it is centred on ``t*hop + hop/2`` -- the same centre as frame ``t`` of
the vocoder's mel front end (:class:`~multigan.audio.features.LogMel`, HiFi-GAN framing).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...config import AtLeastOne
from ...errors import MultiganError
from ...generator import ExportableGenerator
from .layers import mel_batch
from .receptive import Reach

__all__ = ["ConvNeXtBlock", "ISTFTHead", "VOCOS_CONFIGS", "VocosBackbone", "VocosConfig", "VocosConfigError",
           "VocosExportGraph", "VocosGenerator", "istft_basis", "istft_same", "istft_same_real"]

#: The published mel-spectrogram Vocos backbone (``configs/vocos.yaml`` of the reference).
VOCOS_CONFIGS: dict[str, dict[str, int]] = {
    "published": {"dim": 512, "intermediate_dim": 1536, "num_layers": 8},
}

#: Magnitudes above this are clipped (the reference's ``clip(exp(x), max=1e2)``).
MAX_MAGNITUDE = 1e2


class VocosConfigError(MultiganError, ValueError):
    """Inconsistent Vocos generator settings."""


@dataclass
class VocosConfig:
    """Vocos backbone and head (default: the published mel configuration); n_fft None = 4 * mel.hop_size.

    The ``generator`` section of a vocoder recipe; ``n_mels`` and ``hop_size`` come from its ``mel`` section.
    """

    #: The family's name in :data:`multigan.audio.vocoders.registry.GENERATORS`.
    family: ClassVar[str] = "vocos"
    #: The config keys a failed check names.
    keys: ClassVar[str] = "generator.n_fft, mel.hop_size"

    dim: Annotated[int, AtLeastOne] = 512
    intermediate_dim: Annotated[int, AtLeastOne] = 1536
    num_layers: Annotated[int, AtLeastOne] = 8
    n_fft: Optional[int] = None


def _same_padding(n_fft: int, hop: int) -> tuple[int, int]:
    """Samples trimmed at the start and end of the overlap-added signal so that ``frames`` give ``frames * hop``."""
    total = n_fft - hop
    return total // 2, total - total // 2


def istft_same(spec: Tensor, hop: int, window: Tensor) -> Tensor:
    """Inverse STFT with "same" padding: complex ``[B, n_fft // 2 + 1, frames]`` -> real ``[B, frames * hop]``.

    Each frame is ``irfft``-ed to ``n_fft = len(window)`` samples, windowed, and overlap-added at stride
    ``hop``; the sum is divided by the overlap-added squared window (the least-squares inverse of a windowed
    STFT) and ``n_fft - hop`` samples are trimmed (``(n_fft - hop) // 2`` at the start, the rest at the end).
    Differentiable; runs in float32. ``window`` must be non-zero wherever a kept sample lies (e.g. a Hann
    window with ``n_fft >= 2 * hop``).
    """
    n_fft = window.shape[0]
    if spec.shape[-2] != n_fft // 2 + 1:
        raise ValueError(f"istft_same: expected {n_fft // 2 + 1} frequency bins for n_fft={n_fft}, "
                         f"got {spec.shape[-2]}")
    batch, _, frames = spec.shape
    window = window.to(device=spec.device, dtype=torch.float32)
    chunks = torch.fft.irfft(spec, n=n_fft, dim=1, norm="backward") * window[None, :, None]  # [B, n_fft, T]
    length = (frames - 1) * hop + n_fft
    # sample index of every (offset k, frame t) value: t * hop + k
    index = (torch.arange(frames, device=spec.device)[None, :] * hop
             + torch.arange(n_fft, device=spec.device)[:, None]).reshape(-1)
    signal = chunks.new_zeros(batch, length).index_add(1, index, chunks.reshape(batch, -1))
    envelope = chunks.new_zeros(length).index_add(0, index, window.square()[:, None].expand(n_fft, frames).reshape(-1))
    left, right = _same_padding(n_fft, hop)
    signal = signal[:, left:length - right]
    envelope = envelope[left:length - right]
    return signal / envelope.clamp_min(1e-11)


def istft_basis(window: Tensor) -> Tensor:
    """The windowed inverse real DFT as a transposed-conv kernel ``[n_fft + 2, 1, n_fft]`` (float32).

    Row ``k`` (real part of bin ``k``) is ``c_k / n_fft * cos(2 pi k n / n_fft) * window[n]`` and row
    ``n_fft // 2 + 1 + k`` (imaginary part) is ``-c_k / n_fft * sin(...) * window[n]``, ``c_k = 1`` for the DC
    and Nyquist bins and 2 otherwise: ``irfft(norm="backward")`` times the window, which ignores the imaginary
    parts of DC and Nyquist as ``irfft`` does (their sines are 0). Computed in float64.
    """
    n_fft = window.shape[0]
    bins = n_fft // 2 + 1
    k = torch.arange(bins, dtype=torch.float64)[:, None]
    n = torch.arange(n_fft, dtype=torch.float64)[None, :]
    angle = 2 * torch.pi * torch.remainder(k * n, n_fft) / n_fft  # exact k*n mod n_fft before the scaling
    scale = torch.full((bins, 1), 2.0 / n_fft, dtype=torch.float64)
    scale[0] = scale[-1] = 1.0 / n_fft
    w = window.to(torch.float64)[None, :]
    basis = torch.cat([scale * torch.cos(angle) * w, -scale * torch.sin(angle) * w])
    return basis.to(torch.float32).unsqueeze(1)


def istft_same_real(spec: Tensor, hop: int, basis: Tensor, window: Tensor) -> Tensor:
    """:func:`istft_same` in real arithmetic and two transposed convolutions (ONNX-exportable, no FFT, no complex).

    ``spec`` is ``[B, n_fft + 2, frames]``: the real parts of the ``n_fft // 2 + 1`` bins, then the imaginary
    parts; ``basis`` is :func:`istft_basis` of ``window``. The inverse DFT, windowing and overlap-add are one
    ``conv_transpose1d`` at stride ``hop``; the squared-window envelope is another, of ones. Same trimming and
    normalisation as :func:`istft_same` (equal to it up to float32 rounding, tested).
    """
    n_fft = window.shape[0]
    signal = F.conv_transpose1d(spec, basis, stride=hop)                      # [B, 1, (frames - 1) * hop + n_fft]
    ones = torch.ones_like(spec[:1, :1])
    envelope = F.conv_transpose1d(ones, window.square().view(1, 1, n_fft), stride=hop)
    left, right = _same_padding(n_fft, hop)                                   # right >= hop >= 1
    return (signal / envelope.clamp_min(1e-11))[:, 0, left:-right]


class ConvNeXtBlock(nn.Module):
    """ConvNeXt block on ``[B, dim, frames]``: dwconv(7) -> LayerNorm -> Linear -> GELU -> Linear -> scale, residual."""

    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale)))

    def forward(self, x: Tensor) -> Tensor:
        """``[B, dim, frames]`` -> same shape."""
        y = self.dwconv(x).transpose(1, 2)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class VocosBackbone(nn.Module):
    """Embedding conv (k=7), LayerNorm, ``num_layers`` :class:`ConvNeXtBlock` (layer scale ``1/num_layers``), LayerNorm.

    ``[B, input_channels, frames]`` -> ``[B, frames, dim]``. Convolution and linear weights start from a
    truncated normal (std 0.02) with zero biases, as in the reference.
    """

    def __init__(self, input_channels: int, dim: int, intermediate_dim: int, num_layers: int) -> None:
        super().__init__()
        self.embed = nn.Conv1d(input_channels, dim, kernel_size=7, padding=3)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(dim, intermediate_dim, 1.0 / num_layers) for _ in range(num_layers))
        self.final_norm = nn.LayerNorm(dim, eps=1e-6)
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Mel ``[B, input_channels, frames]`` -> features ``[B, frames, dim]``."""
        x = self.norm(self.embed(x).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        return self.final_norm(x.transpose(1, 2))


class ISTFTHead(nn.Module):
    """Features ``[B, frames, dim]`` -> waveform ``[B, frames * hop]`` through one predicted STFT frame per input frame.

    A linear layer gives ``n_fft + 2`` values per frame: ``n_fft // 2 + 1`` log-magnitudes (magnitude
    ``min(exp(x), 100)``) and as many phases (``cos p + i sin p``); :func:`istft_same` with a periodic Hann
    window of ``n_fft`` samples makes the waveform.
    """

    def __init__(self, dim: int, n_fft: int, hop: int) -> None:
        super().__init__()
        self.n_fft, self.hop = int(n_fft), int(hop)
        self.out = nn.Linear(dim, self.n_fft + 2)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def synthesize(self, magnitude: Tensor, phase: Tensor) -> Tensor:
        """Waveform ``[B, frames * hop]`` from magnitude and phase ``[B, n_fft // 2 + 1, frames]``."""
        spec = torch.polar(magnitude.float(), phase.float())
        return istft_same(spec, self.hop, self.window)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, frames, dim]`` -> ``[B, frames * hop]`` (not clamped)."""
        log_mag, phase = self.out(x).transpose(1, 2).chunk(2, dim=1)
        magnitude = torch.exp(log_mag.float()).clamp(max=MAX_MAGNITUDE)
        return self.synthesize(magnitude, phase)


class VocosExportGraph(nn.Module):
    """Vocos as an ONNX-exportable graph: mel ``[B, n_mels, frames]`` -> ``[B, 1, frames * hop]``.

    Shares the generator's backbone and head weights; the head's magnitude and phase become real and imaginary
    parts (``mag * cos p``, ``mag * sin p``) and :func:`istft_same_real` replaces the FFT and complex tensors.
    """

    def __init__(self, g: "VocosGenerator") -> None:
        super().__init__()
        self.backbone, self.out, self.hop = g.backbone, g.head.out, g.head.hop
        window = torch.hann_window(g.head.n_fft)
        self.register_buffer("window", window, persistent=False)
        self.register_buffer("basis", istft_basis(window), persistent=False)

    def forward(self, mel: Tensor) -> Tensor:
        """Log-mel ``[B, n_mels, frames]`` -> waveform ``[B, 1, frames * hop]`` in ``[-1, 1]``."""
        log_mag, phase = self.out(self.backbone(mel)).transpose(1, 2).chunk(2, dim=1)
        magnitude = torch.exp(log_mag).clamp(max=MAX_MAGNITUDE)
        spec = torch.cat([magnitude * torch.cos(phase), magnitude * torch.sin(phase)], dim=1)
        return istft_same_real(spec, self.hop, self.basis, self.window).clamp(-1.0, 1.0).unsqueeze(1)


class VocosGenerator(ExportableGenerator):
    """Vocos: log-mel ``[B, n_mels, frames]`` -> waveform ``[B, 1, frames * hop_size]`` in ``[-1, 1]``.

    Args:
        n_mels: mel bins of the input.
        hop_size: samples per mel frame (the inverse STFT's hop).
        dim: backbone width (published 512).
        intermediate_dim: ConvNeXt MLP width (published 1536).
        num_layers: ConvNeXt blocks (published 8).
        n_fft: the head's FFT and window size (``None``: ``4 * hop_size``, the published 1024 for hop 256);
            even and at least ``2 * hop_size`` so that the overlap-added window never vanishes.

    There is no weight normalisation: :meth:`remove_weight_norm` returns ``self``.
    """

    def __init__(self, n_mels: int = 80, hop_size: int = 256, dim: int = 512, intermediate_dim: int = 1536,
                 num_layers: int = 8, n_fft: Optional[int] = None) -> None:
        n_fft = 4 * int(hop_size) if n_fft is None else int(n_fft)
        self.validate_config(n_mels=n_mels, hop_size=hop_size, dim=dim, intermediate_dim=intermediate_dim,
                             num_layers=num_layers, n_fft=n_fft)
        super().__init__(n_mels=int(n_mels), hop_size=int(hop_size), dim=int(dim),
                         intermediate_dim=int(intermediate_dim), num_layers=int(num_layers), n_fft=n_fft)
        self.n_mels, self.hop_size = int(n_mels), int(hop_size)
        self.backbone = VocosBackbone(self.n_mels, int(dim), int(intermediate_dim), int(num_layers))
        self.head = ISTFTHead(int(dim), n_fft, self.hop_size)

    @classmethod
    def validate_config(cls, **config: Any) -> None:
        """Raise :class:`VocosConfigError` (naming the setting) for inconsistent constructor arguments.

        Rules: positive ``n_mels``, ``hop_size``, ``dim``, ``intermediate_dim``, ``num_layers``; ``n_fft`` (default
        ``4 * hop_size``) even and ``>= 2 * hop_size``. Unknown keys are errors.
        """
        known = {"n_mels", "hop_size", "dim", "intermediate_dim", "num_layers", "n_fft"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise VocosConfigError(f"unknown Vocos generator setting(s) {unknown}; valid: {sorted(known)}")
        values = {"n_mels": 80, "hop_size": 256, "dim": 512, "intermediate_dim": 1536, "num_layers": 8, **config}
        for key in ("n_mels", "hop_size", "dim", "intermediate_dim", "num_layers"):
            if int(values[key]) < 1:
                raise VocosConfigError(f"generator.{key} must be >= 1, got {values[key]}")
        hop = int(values["hop_size"])
        n_fft = 4 * hop if values.get("n_fft") is None else int(values["n_fft"])
        if n_fft % 2:
            raise VocosConfigError(f"generator.n_fft={n_fft} must be even (the head predicts n_fft // 2 + 1 bins)")
        if n_fft < 2 * hop:
            raise VocosConfigError(
                f"generator.n_fft={n_fft} must be >= 2 * mel.hop_size = {2 * hop}: with less overlap the inverse "
                "STFT's window envelope vanishes between frames (default n_fft: 4 * hop_size)")

    def sample_noise(self, batch: int, device: Union[str, torch.device] = "cpu",
                     generator: Optional[torch.Generator] = None) -> None:
        """Vocos is purely conditional: no noise."""
        return None

    def forward(self, noise: Optional[Tensor], cond: Optional[Tensor] = None) -> Tensor:
        """Vocode log-mel ``cond`` ``[B, n_mels, frames]`` (or ``generator(mel)``) into ``[B, 1, frames * hop]``."""
        mel = mel_batch(noise, cond, self.n_mels, "VocosGenerator")
        wav = self.head(self.backbone(mel))
        return wav.clamp(-1.0, 1.0).unsqueeze(1).to(mel.dtype)

    def export_graph(self) -> VocosExportGraph:
        """The network with an FFT-free inverse STFT, for ONNX export (:class:`VocosExportGraph`)."""
        return VocosExportGraph(self)

    def stream_context(self) -> tuple[int, int]:
        """Mel frames ``(left, right)`` a chunk needs beyond its own to be vocoded exactly as in the whole
        utterance: the overlap-add of ``n_fft``-sample frames (a transposed conv of stride ``hop``), each
        ConvNeXt block's depthwise conv (residual) and the embedding conv; LayerNorms and linears act per frame.
        """
        left_trim, _ = _same_padding(self.head.n_fft, self.hop_size)
        r = Reach.of_frame(self.hop_size).transposed(self.head.n_fft, self.hop_size, left_trim)
        for block in reversed(self.backbone.blocks):
            r = r.union(r.conv(block.dwconv))
        return r.conv(self.backbone.embed).context

    def remove_weight_norm(self) -> "VocosGenerator":
        """Vocos has no weight normalisation: returns ``self``."""
        return self
