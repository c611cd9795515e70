"""HiFi-GAN (Kong, Kim & Bae, NeurIPS 2020) networks for the modality-agnostic trainer.

* :class:`HiFiGANGenerator` -- the mel-to-waveform generator with multi-receptive field fusion (MRF)
  residual blocks; the published ``v1``/``v2``/``v3`` settings and the configuration rules are in
  :mod:`multigan.audio.hifigan_config` (:meth:`HiFiGANGenerator.validate_config`).
* :class:`MultiPeriodDiscriminator` (MPD), :class:`MultiScaleDiscriminator` (MSD) and
  :class:`HiFiGANDiscriminator` (MPD + MSD in one module).

The mel front end is :class:`multigan.audio.features.LogMel` (``style="hifigan"``); the mel L1 and
multi-resolution STFT losses are in :mod:`multigan.audio.losses`.

Trainer contracts
-----------------
Generator: ``forward(noise, cond=None)``; the generator is purely conditional, so
``sample_noise(batch, device)`` returns ``None`` and the mel ``[B, n_mels, frames]``
comes in ``cond``; the output is ``[B, 1, frames * hop_size]`` in ``[-1, 1]``. It derives
from :class:`multigan.ExportableGenerator`: ``generator.config`` holds JSON-serialisable
constructor kwargs so that ``HiFiGANGenerator(**generator.config)`` rebuilds it.

Discriminators: ``forward(x, cond=None)`` with ``x`` of shape ``[B, 1, T]`` returns a
list with one entry per sub-discriminator; each entry is a list of feature maps whose
last item is the logits tensor (flattened to ``[B, N]``). The item before the logits is
the unflattened output of ``conv_post`` (the same values): the reference feature-matching
loss sums over every conv output including that one, and the core's feature matching uses
all items but the last, so the loss is the published one. HiFi-GAN's discriminators are
unconditional, so ``cond`` is accepted and ignored.

Module attribute names (``conv_pre``, ``ups``, ``resblocks``, ``convs1``/``convs2``/
``convs``, ``conv_post``) follow the reference implementation, so a reference generator
state dict (``weight_g``/``weight_v`` keys) loads through PyTorch's weight-norm
compatibility hook.
"""

from __future__ import annotations

import math
from copy import deepcopy
from typing import Any, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from ..generator import ExportableGenerator
from .features import waveform_batch
from .hifigan_config import HIFIGAN_CONFIGS, HiFiGANConfigError, normalise_resblock, validate_generator_config

__all__ = ["HIFIGAN_CONFIGS", "LRELU_SLOPE", "HiFiGANConfigError", "validate_generator_config", "get_padding",
           "ResBlock1", "ResBlock2", "HiFiGANGenerator", "PeriodDiscriminator", "ScaleDiscriminator",
           "MultiPeriodDiscriminator", "MultiScaleDiscriminator", "HiFiGANDiscriminator", "remove_weight_norm"]

#: Negative slope of the leaky ReLUs inside the networks.
LRELU_SLOPE: float = 0.1

_V1 = HIFIGAN_CONFIGS["v1"]


# --------------------------------------------------------------------------- helpers


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    """'Same' padding of a stride-1 convolution with an odd ``kernel_size``."""
    return (kernel_size * dilation - dilation) // 2



def remove_weight_norm(module: nn.Module) -> nn.Module:
    """Fold every weight-norm parametrization under ``module`` into a plain weight.

    Spectral-norm parametrizations are folded too (their current value is kept).
    Returns ``module`` for chaining.
    """
    for m in module.modules():
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
    return module


def _to_audio_batch(x: Tensor) -> Tensor:
    """Accept ``[T]``, ``[B, T]`` or ``[B, 1, T]``; return ``[B, 1, T]`` (``x`` itself when it has that shape)."""
    return x if x.dim() == 3 and x.shape[1] == 1 else waveform_batch(x).unsqueeze(1)


# --------------------------------------------------------------------------- generator


class ResBlock1(nn.Module):
    """MRF residual block type 1: per dilation, lrelu -> dilated conv -> lrelu -> conv, + skip."""

    def __init__(self, channels: int, kernel_size: int = 3, dilations: Sequence[int] = (1, 3, 5)) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d, padding=get_padding(kernel_size, d)))
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=1, padding=get_padding(kernel_size, 1)))
            for _ in dilations
        )

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block; ``x`` is ``[B, C, T]``, output has the same shape."""
        for c1, c2 in zip(self.convs1, self.convs2):
            h = c1(F.leaky_relu(x, LRELU_SLOPE))
            h = c2(F.leaky_relu(h, LRELU_SLOPE))
            x = x + h
        return x


class ResBlock2(nn.Module):
    """MRF residual block type 2 (V3): per dilation, lrelu -> dilated conv, + skip."""

    def __init__(self, channels: int, kernel_size: int = 3, dilations: Sequence[int] = (1, 3)) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d, padding=get_padding(kernel_size, d)))
            for d in dilations
        )

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block; ``x`` is ``[B, C, T]``, output has the same shape."""
        for c in self.convs:
            x = x + c(F.leaky_relu(x, LRELU_SLOPE))
        return x


class HiFiGANGenerator(ExportableGenerator):
    """HiFi-GAN generator: log-mel ``[B, n_mels, frames]`` -> waveform ``[B, 1, frames*hop]``.

    Args:
        n_mels: mel bins of the conditioning spectrogram.
        hop_size: samples per mel frame; must equal ``prod(upsample_rates)``.
        resblock: ``"1"`` (V1/V2) or ``"2"`` (V3) MRF block type.
        upsample_rates: stride of each transposed-conv upsampling stage.
        upsample_kernel_sizes: kernel of each upsampling stage (``>=`` its rate).
        upsample_initial_channel: channels after the input conv; halved per stage.
        resblock_kernel_sizes: kernel size of each parallel MRF block.
        resblock_dilation_sizes: dilations of each parallel MRF block.

    All convolutions carry weight normalisation; call :meth:`remove_weight_norm` before
    inference. :meth:`load_state_dict` accepts weight-normed state dicts (ours or the
    reference's ``weight_g``/``weight_v``) and folded ones (it folds itself first). Weights
    use PyTorch's default initialisation, which is what the reference implementation
    effectively trains from (its ``init_weights`` runs after ``weight_norm`` and is
    overwritten by the weight-norm hook).
    """

    def __init__(
        self,
        n_mels: int = 80,
        hop_size: int = 256,
        resblock: Union[str, int] = "1",
        upsample_rates: Sequence[int] = tuple(_V1["upsample_rates"]),
        upsample_kernel_sizes: Sequence[int] = tuple(_V1["upsample_kernel_sizes"]),
        upsample_initial_channel: int = 512,
        resblock_kernel_sizes: Sequence[int] = tuple(_V1["resblock_kernel_sizes"]),
        resblock_dilation_sizes: Sequence[Sequence[int]] = tuple(tuple(d) for d in _V1["resblock_dilation_sizes"]),
    ) -> None:
        validate_generator_config(
            upsample_rates,
            upsample_kernel_sizes,
            hop_size,
            resblock=resblock,
            resblock_kernel_sizes=resblock_kernel_sizes,
            resblock_dilation_sizes=resblock_dilation_sizes,
            upsample_initial_channel=upsample_initial_channel,
            n_mels=n_mels,
        )
        rates = [int(r) for r in upsample_rates]
        ups_k = [int(k) for k in upsample_kernel_sizes]
        rks = [int(k) for k in resblock_kernel_sizes]
        rds = [[int(d) for d in ds] for ds in resblock_dilation_sizes]
        rb = normalise_resblock(resblock)
        super().__init__(
            n_mels=int(n_mels),
            hop_size=int(hop_size),
            resblock=rb,
            upsample_rates=rates,
            upsample_kernel_sizes=ups_k,
            upsample_initial_channel=int(upsample_initial_channel),
            resblock_kernel_sizes=rks,
            resblock_dilation_sizes=rds,
        )
        self.n_mels = int(n_mels)
        self.hop_size = int(hop_size)
        self.num_kernels = len(rks)
        self.num_upsamples = len(rates)
        self._weight_norm_removed = False

        c0 = int(upsample_initial_channel)
        self.conv_pre = weight_norm(nn.Conv1d(self.n_mels, c0, 7, 1, padding=3))
        block_cls = ResBlock1 if rb == "1" else ResBlock2
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        ch = c0
        for i, (u, k) in enumerate(zip(rates, ups_k)):
            c_in, ch = c0 // (2**i), c0 // (2 ** (i + 1))
            # padding/output_padding chosen so that each stage maps L -> L * u exactly
            # (reference configs have even k - u, where output_padding is 0).
            odd = (k - u) % 2
            self.ups.append(
                weight_norm(
                    nn.ConvTranspose1d(c_in, ch, k, u, padding=(k - u) // 2 + odd, output_padding=odd)
                )
            )
            for kr, dr in zip(rks, rds):
                self.resblocks.append(block_cls(ch, kr, dr))
        self.conv_post = weight_norm(nn.Conv1d(ch, 1, 7, 1, padding=3))

    @classmethod
    def validate_config(cls, **config: Any) -> None:
        """Raise :class:`HiFiGANConfigError` if constructor arguments ``config`` are inconsistent.

        Missing arguments take the constructor defaults (the published V1). The vocoder registry calls this
        when a recipe's config is loaded; the constructor applies the same rules.
        """
        validate_generator_config(**{**_V1, **config})

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "HiFiGANGenerator":
        """Build a published configuration (``"v1"``, ``"v2"``, ``"v3"``), optionally overridden."""
        key = name.lower()
        if key not in HIFIGAN_CONFIGS:
            raise KeyError(f"unknown HiFi-GAN preset {name!r}; available: {sorted(HIFIGAN_CONFIGS)}")
        config = deepcopy(HIFIGAN_CONFIGS[key])
        config.update(overrides)
        return cls(**config)

    def sample_noise(
        self,
        batch: int,
        device: Union[str, torch.device] = "cpu",
        generator: Optional[torch.Generator] = None,
    ) -> None:
        """HiFi-GAN is a purely conditional generator: there is no noise input."""
        return None

    def forward(self, noise: Optional[Tensor], cond: Optional[Tensor] = None) -> Tensor:
        """Vocode a log-mel spectrogram.

        Args:
            noise: ignored (``None`` from :meth:`sample_noise`). For convenience, when
                ``cond`` is ``None`` a tensor passed here is taken as the mel, so
                ``generator(mel)`` works too.
            cond: log-mel ``[B, n_mels, frames]`` (or ``[n_mels, frames]``).

        Returns:
            Waveform ``[B, 1, frames * hop_size]`` in ``[-1, 1]``.
        """
        mel = cond if cond is not None else noise
        if mel is None:
            raise ValueError(
                "HiFiGANGenerator is a conditional vocoder: pass the mel spectrogram "
                f"[B, {self.n_mels}, frames] as cond"
            )
        if mel.dim() == 2:
            mel = mel.unsqueeze(0)
        if mel.dim() != 3 or mel.shape[1] != self.n_mels:
            raise ValueError(f"expected mel of shape [B, {self.n_mels}, frames], got {tuple(mel.shape)}")
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            acc = blocks[0](x)
            for block in blocks[1:]:
                acc = acc + block(x)
            x = acc / self.num_kernels
        # The reference uses leaky_relu's default slope (0.01) here, not LRELU_SLOPE.
        x = self.conv_post(F.leaky_relu(x, 0.01))
        return torch.tanh(x)

    @torch.no_grad()
    def generate(self, mel: Tensor) -> Tensor:
        """Vocode without gradients: mel ``[B, n_mels, frames]`` (or ``[n_mels, frames]``) -> ``[B, frames*hop]``."""
        p = next(self.parameters())
        return self(None, mel.to(device=p.device, dtype=p.dtype)).squeeze(1)

    def remove_weight_norm(self) -> "HiFiGANGenerator":
        """Fold weight normalisation into plain weights (for inference); idempotent."""
        if not self._weight_norm_removed:
            remove_weight_norm(self)
            self._weight_norm_removed = True
        return self

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False):  # type: ignore[override]
        """Load weights; a state dict saved after :meth:`remove_weight_norm` folds this model first."""
        if (
            not self._weight_norm_removed
            and "conv_pre.weight" in state_dict
            and "conv_pre.parametrizations.weight.original0" not in state_dict
        ):
            self.remove_weight_norm()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


# --------------------------------------------------------------------------- discriminators


def _scale_channels(channels: Sequence[int], scale: float, multiples: Sequence[int]) -> list[int]:
    """Scale channel widths, rounding each to a positive multiple of ``multiples[i]``."""
    out = []
    for c, m in zip(channels, multiples):
        if scale == 1.0:
            out.append(int(c))
        else:
            out.append(max(m, int(round(c * scale / m)) * m))
    return out


def _norm_fn(use_spectral_norm: bool):
    return spectral_norm if use_spectral_norm else weight_norm


class PeriodDiscriminator(nn.Module):
    """One MPD sub-discriminator: folds ``[B, 1, T]`` into ``[B, 1, T/p, p]`` and applies (k x 1) convs."""

    def __init__(
        self,
        period: int,
        channels: Sequence[int] = (32, 128, 512, 1024, 1024),
        kernel_size: int = 5,
        stride: int = 3,
        use_spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        if period < 1:
            raise ValueError(f"period must be positive, got {period}")
        self.period = int(period)
        norm = _norm_fn(use_spectral_norm)
        pad = (get_padding(kernel_size, 1), 0)
        chans = [1] + [int(c) for c in channels]
        n = len(channels)
        self.convs = nn.ModuleList(
            norm(
                nn.Conv2d(
                    chans[i],
                    chans[i + 1],
                    (kernel_size, 1),
                    (stride if i < n - 1 else 1, 1),
                    padding=pad,
                )
            )
            for i in range(n)
        )
        self.conv_post = norm(nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: Tensor) -> list[Tensor]:
        """Feature maps after each conv and after ``conv_post``, then the flattened logits ``[B, N]``."""
        b, c, t = x.shape
        if t % self.period:
            n_pad = self.period - t % self.period
            x = F.pad(x, (0, n_pad), mode="reflect" if n_pad < t else "constant")
            t += n_pad
        x = x.view(b, c, t // self.period, self.period)
        fmaps: list[Tensor] = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmaps.append(x)
        x = self.conv_post(x)
        fmaps.append(x)  # the reference's feature-matching loss includes the final conv output too
        fmaps.append(torch.flatten(x, 1))
        return fmaps


class MultiPeriodDiscriminator(nn.Module):
    """MPD: one :class:`PeriodDiscriminator` per period (published: 2, 3, 5, 7, 11).

    Args:
        periods: fold periods.
        channels: conv widths of each sub-discriminator (published 32-128-512-1024-1024).
        channels_scale: multiply ``channels`` by this factor (e.g. 0.25 for a CPU preset).
        kernel_size, stride: of the (k x 1) convolutions (published 5 and 3).
        use_spectral_norm: spectral instead of weight normalisation.
    """

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        channels: Sequence[int] = (32, 128, 512, 1024, 1024),
        channels_scale: float = 1.0,
        kernel_size: int = 5,
        stride: int = 3,
        use_spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        chans = _scale_channels(channels, float(channels_scale), [1] * len(channels))
        self.config: dict[str, Any] = {
            "periods": [int(p) for p in periods],
            "channels": [int(c) for c in channels],
            "channels_scale": float(channels_scale),
            "kernel_size": int(kernel_size),
            "stride": int(stride),
            "use_spectral_norm": bool(use_spectral_norm),
        }
        self.channels = chans
        self.discriminators = nn.ModuleList(
            PeriodDiscriminator(p, chans, kernel_size, stride, use_spectral_norm) for p in periods
        )

    def forward(self, x: Tensor, cond: Optional[Tensor] = None) -> list[list[Tensor]]:
        """``x``: ``[B, 1, T]`` (or ``[B, T]``); ``cond`` ignored. One feature list per period."""
        x = _to_audio_batch(x)
        return [d(x) for d in self.discriminators]


#: Layout of a published MSD sub-discriminator: (kernel, stride, groups, padding).
_MSD_LAYERS: tuple[tuple[int, int, int, int], ...] = (
    (15, 1, 1, 7),
    (41, 2, 4, 20),
    (41, 2, 16, 20),
    (41, 4, 16, 20),
    (41, 4, 16, 20),
    (41, 1, 16, 20),
    (5, 1, 1, 2),
)
_MSD_CHANNELS: tuple[int, ...] = (128, 128, 256, 512, 1024, 1024, 1024)


class ScaleDiscriminator(nn.Module):
    """One MSD sub-discriminator: strided grouped 1-D convs on raw (or pooled) audio."""

    def __init__(self, channels: Sequence[int] = _MSD_CHANNELS, use_spectral_norm: bool = False) -> None:
        super().__init__()
        if len(channels) != len(_MSD_LAYERS):
            raise ValueError(f"ScaleDiscriminator needs {len(_MSD_LAYERS)} channel widths, got {list(channels)}")
        norm = _norm_fn(use_spectral_norm)
        chans = [1] + [int(c) for c in channels]
        layers = []
        for i, (k, s, g, p) in enumerate(_MSD_LAYERS):
            if chans[i] % g or chans[i + 1] % g:
                raise ValueError(
                    f"MSD layer {i} has groups={g}: its channels {chans[i]} -> {chans[i + 1]} must be multiples of {g}"
                )
            layers.append(norm(nn.Conv1d(chans[i], chans[i + 1], k, s, groups=g, padding=p)))
        self.convs = nn.ModuleList(layers)
        self.conv_post = norm(nn.Conv1d(chans[-1], 1, 3, 1, padding=1))

    def forward(self, x: Tensor) -> list[Tensor]:
        """Feature maps after each conv and after ``conv_post``, then the flattened logits ``[B, N]``."""
        fmaps: list[Tensor] = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmaps.append(x)
        x = self.conv_post(x)
        fmaps.append(x)  # the reference's feature-matching loss includes the final conv output too
        fmaps.append(torch.flatten(x, 1))
        return fmaps


class MultiScaleDiscriminator(nn.Module):
    """MSD: sub-discriminators on raw audio and on x2 / x4 average-pooled audio.

    The first (raw-audio) scale uses spectral normalisation, the others weight
    normalisation; average pooling (kernel 4, stride 2, padding 2) between scales.

    Args:
        num_scales: number of sub-discriminators (published: 3).
        channels: the 7 conv widths (published 128-128-256-512-1024-1024-1024).
        channels_scale: multiply ``channels`` by this factor; widths are rounded to
            multiples of the grouped convolutions' group counts.
    """

    def __init__(
        self,
        num_scales: int = 3,
        channels: Sequence[int] = _MSD_CHANNELS,
        channels_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if num_scales < 1:
            raise ValueError(f"num_scales must be positive, got {num_scales}")
        groups = [g for _, _, g, _ in _MSD_LAYERS] + [1]
        multiples = [math.lcm(groups[i], groups[i + 1]) for i in range(len(_MSD_LAYERS))]
        chans = _scale_channels(channels, float(channels_scale), multiples)
        self.config: dict[str, Any] = {
            "num_scales": int(num_scales),
            "channels": [int(c) for c in channels],
            "channels_scale": float(channels_scale),
        }
        self.channels = chans
        self.discriminators = nn.ModuleList(
            ScaleDiscriminator(chans, use_spectral_norm=(i == 0)) for i in range(num_scales)
        )
        self.meanpools = nn.ModuleList(nn.AvgPool1d(4, 2, padding=2) for _ in range(num_scales - 1))

    def forward(self, x: Tensor, cond: Optional[Tensor] = None) -> list[list[Tensor]]:
        """``x``: ``[B, 1, T]`` (or ``[B, T]``); ``cond`` ignored. One feature list per scale."""
        x = _to_audio_batch(x)
        outs: list[list[Tensor]] = []
        for i, d in enumerate(self.discriminators):
            if i > 0:
                x = self.meanpools[i - 1](x)
            outs.append(d(x))
        return outs


class HiFiGANDiscriminator(nn.Module):
    """MPD + MSD in one module; ``forward`` returns MPD outputs followed by MSD outputs.

    With the defaults that is 5 + 3 = 8 sub-outputs and the published widths. For a
    small CPU preset scale the widths down (``mpd_channels_scale``/``msd_channels_scale``)
    or give explicit ``mpd_channels`` (5 widths) / ``msd_channels`` (7 widths).
    """

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        num_scales: int = 3,
        mpd_channels: Optional[Sequence[int]] = None,
        msd_channels: Optional[Sequence[int]] = None,
        mpd_channels_scale: float = 1.0,
        msd_channels_scale: float = 1.0,
    ) -> None:
        super().__init__()
        mpd_ch = list(mpd_channels) if mpd_channels is not None else [32, 128, 512, 1024, 1024]
        msd_ch = list(msd_channels) if msd_channels is not None else list(_MSD_CHANNELS)
        self.config: dict[str, Any] = {
            "periods": [int(p) for p in periods],
            "num_scales": int(num_scales),
            "mpd_channels": None if mpd_channels is None else [int(c) for c in mpd_channels],
            "msd_channels": None if msd_channels is None else [int(c) for c in msd_channels],
            "mpd_channels_scale": float(mpd_channels_scale),
            "msd_channels_scale": float(msd_channels_scale),
        }
        self.mpd = MultiPeriodDiscriminator(periods, mpd_ch, channels_scale=mpd_channels_scale)
        self.msd = MultiScaleDiscriminator(num_scales, msd_ch, channels_scale=msd_channels_scale)

    def forward(self, x: Tensor, cond: Optional[Tensor] = None) -> list[list[Tensor]]:
        """``x``: ``[B, 1, T]``; ``cond`` ignored. Returns ``len(periods) + num_scales`` feature lists."""
        x = _to_audio_batch(x)
        return self.mpd(x) + self.msd(x)
