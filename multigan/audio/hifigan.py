"""HiFi-GAN (Kong, Kim & Bae, NeurIPS 2020) for the modality-agnostic trainer.

This module holds the whole architecture:

* :class:`HiFiGANGenerator` -- the mel-to-waveform generator with multi-receptive
  field fusion (MRF) residual blocks, presets ``v1``/``v2``/``v3``
  (:data:`HIFIGAN_CONFIGS`).
* :class:`MultiPeriodDiscriminator` (MPD), :class:`MultiScaleDiscriminator` (MSD) and
  :class:`HiFiGANDiscriminator` (MPD + MSD in one module).
* :class:`MelExtractor` -- the log-mel front end exactly as the reference
  implementation computes it (so mels from here feed a generator trained there).
* :func:`multi_resolution_stft_distance` / :class:`MultiResolutionSTFTLoss` --
  spectral convergence + log-magnitude L1 over several STFT resolutions.

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

from ..errors import MultiganError
from ..generator import ExportableGenerator

__all__ = [
    "HIFIGAN_CONFIGS",
    "LRELU_SLOPE",
    "HiFiGANConfigError",
    "validate_generator_config",
    "get_padding",
    "ResBlock1",
    "ResBlock2",
    "HiFiGANGenerator",
    "PeriodDiscriminator",
    "ScaleDiscriminator",
    "MultiPeriodDiscriminator",
    "MultiScaleDiscriminator",
    "HiFiGANDiscriminator",
    "MelExtractor",
    "multi_resolution_stft_distance",
    "MultiResolutionSTFTLoss",
    "remove_weight_norm",
]

#: Negative slope of the leaky ReLUs inside the networks.
LRELU_SLOPE: float = 0.1

#: Published generator hyper-parameters (config_v1.json / v2 / v3 of the reference
#: repository; all at 22.05 kHz, 80 mel bins, hop 256).
HIFIGAN_CONFIGS: dict[str, dict[str, Any]] = {
    "v1": {
        "n_mels": 80,
        "hop_size": 256,
        "resblock": "1",
        "upsample_rates": [8, 8, 2, 2],
        "upsample_kernel_sizes": [16, 16, 4, 4],
        "upsample_initial_channel": 512,
        "resblock_kernel_sizes": [3, 7, 11],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    },
    "v3": {
        "n_mels": 80,
        "hop_size": 256,
        "resblock": "2",
        "upsample_rates": [8, 8, 4],
        "upsample_kernel_sizes": [16, 16, 8],
        "upsample_initial_channel": 256,
        "resblock_kernel_sizes": [3, 5, 7],
        "resblock_dilation_sizes": [[1, 2], [2, 6], [3, 12]],
    },
}
#: V2 is V1 at a quarter of the width.
HIFIGAN_CONFIGS["v2"] = {**deepcopy(HIFIGAN_CONFIGS["v1"]), "upsample_initial_channel": 128}

_V1 = HIFIGAN_CONFIGS["v1"]


class HiFiGANConfigError(MultiganError, ValueError):
    """Raised when generator hyper-parameters are inconsistent (a user error: recipes print it as one line)."""


# --------------------------------------------------------------------------- helpers


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    """'Same' padding of a stride-1 convolution with an odd ``kernel_size``."""
    return (kernel_size * dilation - dilation) // 2


def _prime_factors(n: int) -> list[int]:
    factors: list[int] = []
    p = 2
    while p * p <= n:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    if n > 1:
        factors.append(n)
    return factors


def _suggest_rates(hop_size: int, n_stages: int) -> list[int]:
    """Split ``hop_size`` into at most ``n_stages`` balanced factors, largest first."""
    n_stages = max(1, n_stages)
    buckets = [1] * n_stages
    for p in sorted(_prime_factors(hop_size), reverse=True):
        i = min(range(n_stages), key=lambda j: buckets[j])
        buckets[i] *= p
    rates = sorted((b for b in buckets if b > 1), reverse=True)
    return rates or [1]


def _as_int_list(values: Sequence[Any], name: str) -> list[int]:
    try:
        out = [int(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise HiFiGANConfigError(f"{name} must be a sequence of integers, got {values!r}") from exc
    if any(int(v) != v for v in values):
        raise HiFiGANConfigError(f"{name} must be a sequence of integers, got {values!r}")
    return out


def _normalise_resblock(resblock: Union[str, int]) -> str:
    rb = str(resblock)
    if rb not in ("1", "2"):
        raise HiFiGANConfigError(f"resblock must be '1' or '2', got {resblock!r}")
    return rb


def validate_generator_config(
    upsample_rates: Sequence[int],
    upsample_kernel_sizes: Sequence[int],
    hop_size: int,
    resblock: Union[str, int] = "1",
    resblock_kernel_sizes: Optional[Sequence[int]] = None,
    resblock_dilation_sizes: Optional[Sequence[Sequence[int]]] = None,
    upsample_initial_channel: Optional[int] = None,
    n_mels: Optional[int] = None,
) -> None:
    """Check generator hyper-parameters; raise :class:`HiFiGANConfigError` if invalid.

    Checks: ``prod(upsample_rates) == hop_size``; one kernel size per upsample rate and
    each kernel ``>= `` its rate; resblock type ``'1'``/``'2'``; one dilation list per
    resblock kernel size, kernels odd, dilations positive; enough initial channels to
    halve once per upsampling stage.
    """
    rates = _as_int_list(upsample_rates, "upsample_rates")
    kernels = _as_int_list(upsample_kernel_sizes, "upsample_kernel_sizes")
    if not rates:
        raise HiFiGANConfigError("upsample_rates must not be empty")
    if any(r < 1 for r in rates):
        raise HiFiGANConfigError(f"upsample_rates must be positive, got {rates}")
    if len(rates) != len(kernels):
        raise HiFiGANConfigError(
            f"upsample_rates {rates} has {len(rates)} stages but upsample_kernel_sizes "
            f"{kernels} has {len(kernels)}: give one kernel size per upsampling stage "
            f"(typically 2 x rate, e.g. {[2 * r for r in rates]})"
        )
    product = math.prod(rates)
    if int(hop_size) != product:
        suggestion = _suggest_rates(int(hop_size), len(rates)) if int(hop_size) > 0 else [1]
        raise HiFiGANConfigError(
            f"upsample_rates {rates} multiply to {product} but hop_size is {hop_size}: "
            f"make their product equal hop_size (e.g. upsample_rates={suggestion} with "
            f"upsample_kernel_sizes={[2 * r for r in suggestion]}), or set hop_size={product}"
        )
    for i, (r, k) in enumerate(zip(rates, kernels)):
        if k < r:
            raise HiFiGANConfigError(
                f"upsample_kernel_sizes[{i}]={k} is smaller than upsample_rates[{i}]={r}: "
                f"a transposed conv kernel must be >= its stride (typically 2 x rate = {2 * r})"
            )
        if r == 1 and (k - r) % 2:
            raise HiFiGANConfigError(
                f"upsample stage {i} has rate 1 and even kernel {k}: use an odd kernel size"
            )
    _normalise_resblock(resblock)
    if resblock_kernel_sizes is not None or resblock_dilation_sizes is not None:
        rks = _as_int_list(resblock_kernel_sizes or [], "resblock_kernel_sizes")
        rds = [_as_int_list(d, "resblock_dilation_sizes[i]") for d in (resblock_dilation_sizes or [])]
        if not rks:
            raise HiFiGANConfigError("resblock_kernel_sizes must not be empty")
        if len(rks) != len(rds):
            raise HiFiGANConfigError(
                f"resblock_kernel_sizes {rks} has {len(rks)} entries but "
                f"resblock_dilation_sizes {rds} has {len(rds)}: give one dilation list per kernel"
            )
        for k in rks:
            if k < 1 or k % 2 == 0:
                raise HiFiGANConfigError(f"resblock kernel sizes must be odd and positive, got {rks}")
        for d in rds:
            if not d or any(x < 1 for x in d):
                raise HiFiGANConfigError(f"each resblock dilation list must be non-empty and positive, got {rds}")
    if upsample_initial_channel is not None:
        c = int(upsample_initial_channel)
        if c // (2 ** len(rates)) < 1:
            raise HiFiGANConfigError(
                f"upsample_initial_channel={c} is too small for {len(rates)} upsampling stages "
                f"(channels halve at each stage): use at least {2 ** len(rates)}"
            )
    if n_mels is not None and int(n_mels) < 1:
        raise HiFiGANConfigError(f"n_mels must be positive, got {n_mels}")


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
    """Accept ``[T]``, ``[B, T]`` or ``[B, 1, T]``; return ``[B, 1, T]``."""
    if x.dim() == 1:
        return x[None, None]
    if x.dim() == 2:
        return x.unsqueeze(1)
    if x.dim() == 3 and x.shape[1] == 1:
        return x
    raise ValueError(f"expected waveform of shape [B, 1, T] or [B, T], got {tuple(x.shape)}")


def _to_flat_audio(x: Tensor) -> Tensor:
    """Accept ``[T]``, ``[B, T]`` or ``[B, 1, T]``; return ``[B, T]``."""
    return _to_audio_batch(x).squeeze(1)


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
        rb = _normalise_resblock(resblock)
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


# --------------------------------------------------------------------------- features


class MelExtractor(nn.Module):
    """Log-mel spectrogram computed exactly as the HiFi-GAN reference does.

    Steps: reflect-pad ``(n_fft - hop_size) // 2`` samples on both sides; STFT with
    ``center=False`` and a periodic Hann window of ``win_size``; magnitude
    ``sqrt(re^2 + im^2 + 1e-9)``; Slaney-scale, Slaney-normalised mel filterbank (as
    ``librosa.filters.mel``); ``log(clamp(mel, min=1e-5))``.

    Input ``[B, T]``, ``[B, 1, T]`` or ``[T]``; output ``[B, n_mels, frames]`` with
    ``frames == T // hop_size`` when ``T`` is a multiple of ``hop_size``. Always computed
    in float32 (autocast is disabled inside). ``center=True`` skips the manual padding
    and lets ``torch.stft`` centre frames instead (not the reference behaviour).
    """

    def __init__(
        self,
        sample_rate: int = 22050,
        n_fft: int = 1024,
        hop_size: int = 256,
        win_size: int = 1024,
        n_mels: int = 80,
        fmin: float = 0.0,
        fmax: Optional[float] = 8000.0,
        center: bool = False,
    ) -> None:
        super().__init__()
        if win_size > n_fft:
            raise ValueError(f"win_size ({win_size}) must be <= n_fft ({n_fft})")
        if hop_size < 1 or hop_size > n_fft:
            raise ValueError(f"hop_size must be in [1, n_fft], got {hop_size}")
        f_max = float(sample_rate) / 2 if fmax is None else float(fmax)
        if not 0 <= fmin < f_max <= sample_rate / 2:
            raise ValueError(f"need 0 <= fmin < fmax <= sample_rate/2, got fmin={fmin}, fmax={fmax}")
        import torchaudio.functional as AF  # local import: only the filterbank needs torchaudio

        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft)
        self.hop_size = int(hop_size)
        self.win_size = int(win_size)
        self.n_mels = int(n_mels)
        self.fmin = float(fmin)
        self.fmax = fmax
        self.center = bool(center)
        fb = AF.melscale_fbanks(
            self.n_fft // 2 + 1, float(fmin), f_max, self.n_mels, self.sample_rate, norm="slaney", mel_scale="slaney"
        )
        self.register_buffer("window", torch.hann_window(self.win_size), persistent=False)
        self.register_buffer("mel_basis", fb.T.contiguous().float(), persistent=False)  # [n_mels, n_freqs]

    def forward(self, audio: Tensor) -> Tensor:
        """Return log-mel ``[B, n_mels, frames]`` for waveform ``audio`` in ``[-1, 1]``."""
        y = _to_flat_audio(audio)
        with torch.autocast(device_type=y.device.type, enabled=False):
            y = y.float()
            if not self.center:
                pad = (self.n_fft - self.hop_size) // 2
                y = F.pad(y.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
            spec = torch.stft(
                y,
                self.n_fft,
                hop_length=self.hop_size,
                win_length=self.win_size,
                window=self.window.to(y.dtype),
                center=self.center,
                pad_mode="reflect",
                normalized=False,
                onesided=True,
                return_complex=True,
            )
            mag = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
            mel = torch.matmul(self.mel_basis, mag)
            return torch.log(torch.clamp(mel, min=1e-5))


# --------------------------------------------------------------------------- MR-STFT


_DEFAULT_RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((512, 128, 512), (1024, 256, 1024), (2048, 512, 2048))


def _stft_mag(x: Tensor, n_fft: int, hop: int, win: int) -> Tensor:
    window = torch.hann_window(win, device=x.device, dtype=x.dtype)
    spec = torch.stft(x, n_fft, hop_length=hop, win_length=win, window=window, center=True, return_complex=True)
    return torch.sqrt(torch.clamp(spec.real.pow(2) + spec.imag.pow(2), min=1e-7))


def multi_resolution_stft_distance(
    x: Tensor,
    y: Tensor,
    resolutions: Sequence[Sequence[int]] = _DEFAULT_RESOLUTIONS,
    return_components: bool = False,
) -> Union[Tensor, tuple[Tensor, Tensor]]:
    """Multi-resolution STFT distance (Parallel WaveGAN style), differentiable.

    For each ``(n_fft, hop, win_length)`` resolution: spectral convergence
    ``||Y| - |X||_F / ||Y||_F`` plus the mean L1 distance of log magnitudes; both are
    averaged over resolutions.

    Args:
        x: prediction, ``[B, 1, T]``, ``[B, T]`` or ``[T]``.
        y: reference with the same shape as ``x``.
        resolutions: ``(n_fft, hop_length, win_length)`` triples.
        return_components: return ``(spectral_convergence, log_mag_l1)`` instead of their sum.

    Returns:
        Scalar tensor ``sc + mag`` (or the pair).
    """
    xf, yf = _to_flat_audio(x), _to_flat_audio(y)
    if xf.shape != yf.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if not resolutions:
        raise ValueError("resolutions must not be empty")
    with torch.autocast(device_type=xf.device.type, enabled=False):
        xf, yf = xf.float(), yf.float()
        sc_total = xf.new_zeros(())
        mag_total = xf.new_zeros(())
        for n_fft, hop, win in resolutions:
            xm = _stft_mag(xf, int(n_fft), int(hop), int(win))
            ym = _stft_mag(yf, int(n_fft), int(hop), int(win))
            sc_total = sc_total + torch.linalg.norm(ym - xm) / torch.linalg.norm(ym)
            mag_total = mag_total + F.l1_loss(torch.log(xm), torch.log(ym))
        n = len(resolutions)
        sc, mag = sc_total / n, mag_total / n
    if return_components:
        return sc, mag
    return sc + mag


class MultiResolutionSTFTLoss(nn.Module):
    """Module wrapper of :func:`multi_resolution_stft_distance`.

    ``forward(x, y)`` returns ``factor_sc * sc + factor_mag * mag`` (a scalar tensor).
    """

    def __init__(
        self,
        resolutions: Sequence[Sequence[int]] = _DEFAULT_RESOLUTIONS,
        factor_sc: float = 1.0,
        factor_mag: float = 1.0,
    ) -> None:
        super().__init__()
        self.resolutions = [tuple(int(v) for v in r) for r in resolutions]
        self.factor_sc = float(factor_sc)
        self.factor_mag = float(factor_mag)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """``x``: prediction, ``y``: reference (``[B, 1, T]`` or ``[B, T]``)."""
        sc, mag = multi_resolution_stft_distance(x, y, self.resolutions, return_components=True)
        return self.factor_sc * sc + self.factor_mag * mag
