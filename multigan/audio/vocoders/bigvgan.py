"""The BigVGAN generator family (Lee et al., ICLR 2023; NVIDIA BigVGAN-v2): network, config section and rules.

* :class:`BigVGANGenerator` -- log-mel ``[B, n_mels, frames]`` -> waveform ``[B, 1, frames * hop_size]``:
  ``conv_pre`` (k=7), per stage a transposed conv (no activation before it, not anti-aliased) and the mean
  of parallel AMP blocks, then an anti-aliased activation, ``conv_post`` (k=7, bias optional) and ``tanh``
  or a clamp to ``[-1, 1]``; registered as ``"bigvgan"`` in :data:`multigan.audio.vocoders.registry.GENERATORS`.
* :class:`AMPBlock1` -- per dilation: anti-aliased activation, dilated conv, anti-aliased activation, conv
  (dilation 1), residual; :class:`AMPBlock2` -- per dilation: anti-aliased activation, dilated conv, residual.
  Activations are :class:`~.alias_free.Snake` or :class:`~.alias_free.SnakeBeta`
  (:mod:`multigan.audio.vocoders.alias_free`).
* :data:`BIGVGAN_CONFIGS` -- the published settings (``v2``: 22/24 kHz 256x, ``v2-512x``: 44 kHz 512x,
  ``base``: the 14 M-parameter v1 base).
* :class:`BigVGANConfig` -- the typed ``generator`` section of a vocoder recipe (default: ``v2``, 256x).

Module and parameter names are the reference's (``conv_pre``, ``ups.{i}.0``, ``resblocks.{j}.convs1`` /
``convs2`` / ``convs``, ``resblocks.{j}.activations.{k}.act.alpha``, ``activation_post``, ``conv_post``), so a
reference state dict maps onto this network by the weight-norm names alone
(:mod:`multigan.audio.vocoders.imports.bigvgan`). Every conv carries weight normalisation;
:meth:`BigVGANGenerator.remove_weight_norm` folds it.
"""
from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal, Optional, Sequence, Union

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from ...config import AtLeastOne
from ...errors import MultiganError
from ...generator import ExportableGenerator
from .alias_free import Activation1d, make_activation
from .bigvgan_context import bigvgan_stream_context
from .hifigan import HiFiGANConfigError, validate_generator_config
from .layers import get_padding, mel_batch, remove_weight_norm

__all__ = ["AMPBlock1", "AMPBlock2", "BIGVGAN_CONFIGS", "BigVGANConfig", "BigVGANConfigError", "BigVGANGenerator"]

_V2 = {
    "resblock": "1",
    "upsample_rates": [4, 4, 2, 2, 2, 2],
    "upsample_kernel_sizes": [8, 8, 4, 4, 4, 4],
    "upsample_initial_channel": 1536,
    "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "activation": "snakebeta",
    "snake_logscale": True,
    "use_tanh_at_final": False,
    "use_bias_at_final": False,
}
#: Published generator settings (``configs/*.json`` of NVIDIA/BigVGAN v2.4).
BIGVGAN_CONFIGS: dict[str, dict[str, Any]] = {
    "v2": _V2,  # bigvgan_v2_22khz_80band(_fmax8k)_256x, bigvgan_v2_24khz_100band_256x, bigvgan_v2_44khz_128band_256x
    "v2-512x": {**deepcopy(_V2), "upsample_rates": [8, 4, 2, 2, 2, 2],
                "upsample_kernel_sizes": [16, 8, 4, 4, 4, 4]},  # bigvgan_v2_44khz_128band_512x
    "base": {**deepcopy(_V2), "upsample_rates": [8, 8, 2, 2], "upsample_kernel_sizes": [16, 16, 4, 4],
             "upsample_initial_channel": 512, "use_tanh_at_final": True, "use_bias_at_final": True},  # v1 base
}
_KNOWN = {"n_mels", "hop_size", *_V2}


class BigVGANConfigError(MultiganError, ValueError):
    """Inconsistent BigVGAN generator settings (a user error: recipes print it as one line)."""


@dataclass
class BigVGANConfig:
    """BigVGAN generator hyper-parameters (default: the published v2 256x). ``prod(upsample_rates)`` must equal
    mel.hop_size. The ``generator`` section of a vocoder recipe; ``n_mels`` and ``hop_size`` come from ``mel``."""

    #: The family's name in :data:`multigan.audio.vocoders.registry.GENERATORS`.
    family: ClassVar[str] = "bigvgan"
    #: The config keys a failed check names.
    keys: ClassVar[str] = "generator.upsample_rates, generator.upsample_kernel_sizes, mel.hop_size"

    resblock: int = 1  # AMPBlock1 (published) or 2
    upsample_rates: list[int] = field(default_factory=lambda: list(_V2["upsample_rates"]))
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: list(_V2["upsample_kernel_sizes"]))
    upsample_initial_channel: Annotated[int, AtLeastOne] = 1536
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: list(_V2["resblock_kernel_sizes"]))
    resblock_dilation_sizes: list[list[int]] = field(
        default_factory=lambda: [list(d) for d in _V2["resblock_dilation_sizes"]])
    activation: Literal["snake", "snakebeta"] = "snakebeta"
    snake_logscale: bool = True  # parameters stored as log(alpha), log(beta), initialised to 0
    use_tanh_at_final: bool = False  # False: clamp to [-1, 1] (v2)
    use_bias_at_final: bool = False

    @staticmethod
    def preset(name: str) -> dict[str, Any]:
        """The section's values of a published configuration (a key of :data:`BIGVGAN_CONFIGS`)."""
        g = deepcopy(BIGVGAN_CONFIGS[name])
        g["resblock"] = int(g["resblock"])
        return g


def _wn_conv(channels: int, kernel: int, dilation: int) -> nn.Module:
    return weight_norm(nn.Conv1d(channels, channels, kernel, 1, dilation=dilation,
                                 padding=get_padding(kernel, dilation)))


class AMPBlock1(nn.Module):
    """AMP block 1: per dilation ``d``: act -> conv(k, d) -> act -> conv(k, 1), + skip (anti-aliased acts)."""

    def __init__(self, channels: int, kernel_size: int = 3, dilations: Sequence[int] = (1, 3, 5),
                 activation: str = "snakebeta", logscale: bool = True) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(_wn_conv(channels, kernel_size, int(d)) for d in dilations)
        self.convs2 = nn.ModuleList(_wn_conv(channels, kernel_size, 1) for _ in dilations)
        self.activations = nn.ModuleList(Activation1d(make_activation(activation, channels, logscale))
                                         for _ in range(2 * len(dilations)))

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, T]`` -> same shape."""
        for i, (c1, c2) in enumerate(zip(self.convs1, self.convs2)):
            x = x + c2(self.activations[2 * i + 1](c1(self.activations[2 * i](x))))
        return x


class AMPBlock2(nn.Module):
    """AMP block 2: per dilation ``d``: act -> conv(k, d), + skip (anti-aliased acts)."""

    def __init__(self, channels: int, kernel_size: int = 3, dilations: Sequence[int] = (1, 3, 5),
                 activation: str = "snakebeta", logscale: bool = True) -> None:
        super().__init__()
        self.convs = nn.ModuleList(_wn_conv(channels, kernel_size, int(d)) for d in dilations)
        self.activations = nn.ModuleList(Activation1d(make_activation(activation, channels, logscale))
                                         for _ in dilations)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, T]`` -> same shape."""
        for conv, act in zip(self.convs, self.activations):
            x = x + conv(act(x))
        return x


def _check(config: dict[str, Any]) -> None:
    unknown = sorted(set(config) - _KNOWN)
    if unknown:
        raise BigVGANConfigError(f"unknown BigVGAN generator setting(s) {unknown}; valid: {sorted(_KNOWN)}")
    values = {**_V2, "n_mels": 100, "hop_size": 256, **config}
    try:
        validate_generator_config(values["upsample_rates"], values["upsample_kernel_sizes"], values["hop_size"],
                                  resblock=values["resblock"], resblock_kernel_sizes=values["resblock_kernel_sizes"],
                                  resblock_dilation_sizes=values["resblock_dilation_sizes"],
                                  upsample_initial_channel=values["upsample_initial_channel"],
                                  n_mels=values["n_mels"])
    except HiFiGANConfigError as exc:
        raise BigVGANConfigError(str(exc)) from None
    if values["activation"] not in ("snake", "snakebeta"):
        raise BigVGANConfigError(f"generator.activation must be 'snake' or 'snakebeta', got {values['activation']!r}")
    for key in ("snake_logscale", "use_tanh_at_final", "use_bias_at_final"):
        if not isinstance(values[key], bool):
            raise BigVGANConfigError(f"generator.{key} must be true or false, got {values[key]!r}")


class BigVGANGenerator(ExportableGenerator):
    """BigVGAN: log-mel ``[B, n_mels, frames]`` -> waveform ``[B, 1, frames * hop_size]`` in ``[-1, 1]``.

    Args:
        n_mels, hop_size: of the mel front end; ``prod(upsample_rates)`` must equal ``hop_size``.
        resblock: ``"1"`` (:class:`AMPBlock1`, published) or ``"2"`` (:class:`AMPBlock2`).
        upsample_rates, upsample_kernel_sizes: the transposed-conv stages (channels halve at each).
        upsample_initial_channel: channels after ``conv_pre`` (v2: 1536, base: 512).
        resblock_kernel_sizes, resblock_dilation_sizes: the parallel AMP blocks of each stage.
        activation: ``"snakebeta"`` (v2) or ``"snake"``; ``snake_logscale``: log-scale parameters.
        use_tanh_at_final: ``tanh`` at the output (v1) or a clamp to ``[-1, 1]`` (v2: False).
        use_bias_at_final: a bias in ``conv_post`` (v2: False).
    """

    def __init__(self, n_mels: int = 100, hop_size: int = 256, resblock: Union[str, int] = "1",
                 upsample_rates: Sequence[int] = tuple(_V2["upsample_rates"]),
                 upsample_kernel_sizes: Sequence[int] = tuple(_V2["upsample_kernel_sizes"]),
                 upsample_initial_channel: int = 1536,
                 resblock_kernel_sizes: Sequence[int] = tuple(_V2["resblock_kernel_sizes"]),
                 resblock_dilation_sizes: Sequence[Sequence[int]] = tuple(tuple(d) for d in
                                                                          _V2["resblock_dilation_sizes"]),
                 activation: str = "snakebeta", snake_logscale: bool = True, use_tanh_at_final: bool = False,
                 use_bias_at_final: bool = False) -> None:
        settings = {"n_mels": int(n_mels), "hop_size": int(hop_size), "resblock": str(resblock),
                    "upsample_rates": [int(r) for r in upsample_rates],
                    "upsample_kernel_sizes": [int(k) for k in upsample_kernel_sizes],
                    "upsample_initial_channel": int(upsample_initial_channel),
                    "resblock_kernel_sizes": [int(k) for k in resblock_kernel_sizes],
                    "resblock_dilation_sizes": [[int(d) for d in ds] for ds in resblock_dilation_sizes],
                    "activation": str(activation), "snake_logscale": bool(snake_logscale),
                    "use_tanh_at_final": bool(use_tanh_at_final), "use_bias_at_final": bool(use_bias_at_final)}
        _check(settings)
        super().__init__(**settings)
        s = settings
        self.n_mels, self.hop_size = s["n_mels"], s["hop_size"]
        self.num_kernels, self.num_upsamples = len(s["resblock_kernel_sizes"]), len(s["upsample_rates"])
        self.use_tanh_at_final = s["use_tanh_at_final"]
        self._weight_norm_removed = False
        c0 = s["upsample_initial_channel"]
        self.conv_pre = weight_norm(nn.Conv1d(self.n_mels, c0, 7, 1, padding=3))
        block = AMPBlock1 if s["resblock"] == "1" else AMPBlock2
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        ch = c0
        for i, (u, k) in enumerate(zip(s["upsample_rates"], s["upsample_kernel_sizes"])):
            c_in, ch = c0 // 2 ** i, c0 // 2 ** (i + 1)
            odd = (k - u) % 2  # the published kernels have k - u even (output_padding 0, the reference's padding)
            self.ups.append(nn.ModuleList([weight_norm(nn.ConvTranspose1d(
                c_in, ch, k, u, padding=(k - u) // 2 + odd, output_padding=odd))]))
            for kr, dr in zip(s["resblock_kernel_sizes"], s["resblock_dilation_sizes"]):
                self.resblocks.append(block(ch, kr, dr, s["activation"], s["snake_logscale"]))
        self.activation_post = Activation1d(make_activation(s["activation"], ch, s["snake_logscale"]))
        self.conv_post = weight_norm(nn.Conv1d(ch, 1, 7, 1, padding=3, bias=s["use_bias_at_final"]))

    @classmethod
    def validate_config(cls, **config: Any) -> None:
        """Raise :class:`BigVGANConfigError` for inconsistent constructor arguments (missing ones: the v2
        defaults): ``prod(upsample_rates) == hop_size`` and the HiFi-GAN rules of the stages and blocks, a known
        activation, boolean switches, no unknown keys."""
        _check(dict(config))

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "BigVGANGenerator":
        """A published configuration (:data:`BIGVGAN_CONFIGS`), optionally overridden (e.g. ``n_mels=80``)."""
        if name not in BIGVGAN_CONFIGS:
            raise KeyError(f"unknown BigVGAN preset {name!r}; available: {sorted(BIGVGAN_CONFIGS)}")
        return cls(**{**deepcopy(BIGVGAN_CONFIGS[name]), **overrides})

    def sample_noise(self, batch: int, device: Union[str, torch.device] = "cpu",
                     generator: Optional[torch.Generator] = None) -> None:
        """BigVGAN is purely conditional: no noise."""
        return None

    def forward(self, noise: Optional[Tensor], cond: Optional[Tensor] = None) -> Tensor:
        """Vocode log-mel ``cond`` ``[B, n_mels, frames]`` (or ``generator(mel)``) into ``[B, 1, frames * hop]``."""
        mel = mel_batch(noise, cond, self.n_mels, "BigVGANGenerator")
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up[0](x)
            blocks = self.resblocks[i * self.num_kernels:(i + 1) * self.num_kernels]
            acc = blocks[0](x)
            for b in blocks[1:]:
                acc = acc + b(x)
            x = acc / self.num_kernels
        x = self.conv_post(self.activation_post(x))
        return torch.tanh(x) if self.use_tanh_at_final else x.clamp(-1.0, 1.0)

    @torch.no_grad()
    def generate(self, mel: Tensor) -> Tensor:
        """Vocode without gradients: ``[B, n_mels, frames]`` -> ``[B, frames * hop]``."""
        p = next(self.parameters())
        return self(None, mel.to(device=p.device, dtype=p.dtype)).squeeze(1)

    def stream_context(self) -> tuple[int, int]:
        """Mel frames ``(left, right)`` a chunk needs beyond its own to be vocoded as in the whole utterance: the
        receptive field walked back through the layers (:func:`~.bigvgan_context.bigvgan_stream_context`)."""
        return bigvgan_stream_context(self)

    def remove_weight_norm(self) -> "BigVGANGenerator":
        """Fold weight normalisation into plain weights (for inference); idempotent."""
        if not self._weight_norm_removed:
            remove_weight_norm(self)
            self._weight_norm_removed = True
        return self

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False):  # type: ignore[override]
        """Load weights; a state dict saved after :meth:`remove_weight_norm` folds this model first."""
        if (not self._weight_norm_removed and "conv_pre.weight" in state_dict
                and "conv_pre.parametrizations.weight.original0" not in state_dict):
            self.remove_weight_norm()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
