"""HiFi-GAN generator settings: the published configurations and the rules a configuration must follow.

:func:`validate_generator_config` is the one check of a generator configuration; the network calls it
(:meth:`multigan.audio.hifigan.HiFiGANGenerator.validate_config`) and a recipe calls it through the
vocoder registry when its config is loaded, so a mistake (most often ``prod(upsample_rates) != hop_size``)
stops the run at once with a message that says how to fix it.
"""
from __future__ import annotations

import math
from copy import deepcopy
from typing import Any, Optional, Sequence, Union

from ..errors import MultiganError

__all__ = ["HIFIGAN_CONFIGS", "HiFiGANConfigError", "normalise_resblock", "validate_generator_config"]

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
