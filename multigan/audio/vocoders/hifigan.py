"""The HiFi-GAN generator family (Kong, Kim & Bae, NeurIPS 2020): the network, its config section and its rules.

* :class:`HiFiGANGenerator` -- log-mel ``[B, n_mels, frames]`` -> waveform ``[B, 1, frames * hop_size]`` through
  transposed-conv upsampling stages, each followed by multi-receptive field fusion (MRF) residual blocks;
  registered as ``"hifigan"`` in :data:`multigan.audio.vocoders.registry.GENERATORS`.
* :data:`HIFIGAN_CONFIGS` -- the published ``v1``/``v2``/``v3`` settings (22.05 kHz, 80 mels, hop 256).
* :func:`validate_generator_config` -- the one check of a configuration (most often ``prod(upsample_rates) !=
  hop_size``), with a message that says how to fix it; the network and :meth:`HiFiGANGenerator.validate_config`
  apply it, and a recipe applies it when its config loads.
* :class:`HiFiGANConfig` -- the typed ``generator`` section of a vocoder recipe (default: V1).

Trainer contract: ``forward(noise, cond=None)``; the generator is purely conditional, so ``sample_noise``
returns ``None`` and the mel comes in ``cond``; the output is in ``[-1, 1]``. ``generator.config`` holds
JSON-serialisable constructor kwargs so that ``HiFiGANGenerator(**generator.config)`` rebuilds it.

Module attribute names (``conv_pre``, ``ups``, ``resblocks``, ``convs1``/``convs2``/``convs``, ``conv_post``)
follow the reference implementation, so a reference generator state dict (``weight_g``/``weight_v`` keys)
loads through PyTorch's weight-norm compatibility hook. The discriminators HiFi-GAN trains with (MPD, MSD) are
in :mod:`multigan.audio.vocoders.discriminators`.
"""
from __future__ import annotations

import math
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from ...config import AtLeastOne
from ...errors import MultiganError
from ...generator import ExportableGenerator
from .layers import LRELU_SLOPE, get_padding, mel_batch, remove_weight_norm
from .receptive import Reach

__all__ = ["HIFIGAN_CONFIGS", "HiFiGANConfig", "HiFiGANConfigError", "HiFiGANGenerator", "ResBlock1", "ResBlock2",
           "normalise_resblock", "validate_generator_config"]

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


class HiFiGANConfigError(MultiganError, ValueError):
    """Raised when generator hyper-parameters are inconsistent (a user error: recipes print it as one line)."""


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


def normalise_resblock(resblock: Union[str, int]) -> str:
    """The resblock type as ``"1"`` or ``"2"`` (a config may spell it as an integer)."""
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
    normalise_resblock(resblock)
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


_V1 = HIFIGAN_CONFIGS["v1"]


@dataclass
class HiFiGANConfig:
    """HiFi-GAN generator hyper-parameters (default: V1). ``prod(upsample_rates)`` must equal mel.hop_size.

    The ``generator`` section of a vocoder recipe; ``n_mels`` and ``hop_size`` come from its ``mel`` section.
    """

    #: The family's name in :data:`multigan.audio.vocoders.registry.GENERATORS`.
    family: ClassVar[str] = "hifigan"
    #: The config keys a failed check names.
    keys: ClassVar[str] = "generator.upsample_rates, generator.upsample_kernel_sizes, mel.hop_size"

    resblock: int = 1  # 1 (V1/V2) or 2 (V3)
    upsample_rates: list[int] = field(default_factory=lambda: list(_V1["upsample_rates"]))
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: list(_V1["upsample_kernel_sizes"]))
    upsample_initial_channel: Annotated[int, AtLeastOne] = 512
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: list(_V1["resblock_kernel_sizes"]))
    resblock_dilation_sizes: list[list[int]] = field(
        default_factory=lambda: [list(d) for d in _V1["resblock_dilation_sizes"]])

    @staticmethod
    def preset(name: str) -> dict[str, Any]:
        """The section's values of a published configuration (``"v1"``, ``"v2"``, ``"v3"``), for a recipe preset."""
        g = HIFIGAN_CONFIGS[name]
        return {"resblock": int(g["resblock"]), **{k: deepcopy(g[k]) for k in (
            "upsample_rates", "upsample_kernel_sizes", "upsample_initial_channel", "resblock_kernel_sizes",
            "resblock_dilation_sizes")}}


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

    def reach(self, r: Reach) -> Reach:
        """The stretch of the input that stretch ``r`` of the output needs (streaming context)."""
        for c1, c2 in reversed(list(zip(self.convs1, self.convs2))):
            r = r.union(r.conv(c2).conv(c1))
        return r


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

    def reach(self, r: Reach) -> Reach:
        """The stretch of the input that stretch ``r`` of the output needs (streaming context)."""
        for c in reversed(self.convs):
            r = r.union(r.conv(c))
        return r


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
        mel = mel_batch(noise, cond, self.n_mels, "HiFiGANGenerator")
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

    def stream_context(self) -> tuple[int, int]:
        """Mel frames ``(left, right)`` a chunk needs beyond its own to be vocoded exactly as in the whole
        utterance: the receptive field walked back through ``conv_post``, each stage's MRF blocks (the widest
        branch) and transposed conv, and ``conv_pre`` (:class:`~multigan.audio.vocoders.receptive.Reach`)."""
        r = Reach.of_frame(self.hop_size).conv(self.conv_post)
        for i in reversed(range(self.num_upsamples)):
            blocks = self.resblocks[i * self.num_kernels:(i + 1) * self.num_kernels]
            r = r.union(*(b.reach(r) for b in blocks))
            r = r.transposed_conv(self.ups[i])
        return r.conv(self.conv_pre).context

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
