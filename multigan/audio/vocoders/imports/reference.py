"""The reference HiFi-GAN repository's parameter names, and how they map onto multigan's networks.

The reference code (``models.py`` of the HiFi-GAN authors' repository) uses the same module attribute names as
:mod:`multigan.audio.vocoders.hifigan` and its discriminators (``conv_pre``, ``ups``,
``resblocks.{i}.convs1/convs2/convs``, ``conv_post``, ``discriminators.{i}.convs.{j}``), but PyTorch's legacy
normalisation hooks, which store

* weight norm as ``X.weight_g`` (magnitude, ``[out, 1, ...]``) and ``X.weight_v`` (direction, the full shape),
* spectral norm (the first MSD scale only) as ``X.weight_orig`` plus the power-iteration buffers ``X.weight_u``
  and ``X.weight_v``,

where multigan's parametrizations store ``X.parametrizations.weight.original0/original1`` and
``X.parametrizations.weight.original`` with ``X.parametrizations.weight.0._u/_v``. A ``do_`` file keeps the MPD
and the MSD apart (``mpd`` and ``msd``); the discriminators of a HiFi-GAN recipe (``discriminator.use=[mpd,msd]``,
a :class:`~multigan.audio.vocoders.discriminators.combined.CombinedDiscriminator`) hold both under ``mpd.`` and
``msd.``. The reference's D optimizer runs over ``msd`` parameters first, then ``mpd``'s
(``itertools.chain(msd.parameters(), mpd.parameters())``).
"""
from __future__ import annotations

from typing import Mapping, Sequence

from torch import Tensor

from ....errors import MultiganError

__all__ = ["PUBLISHED_PERIODS", "discriminator_widths", "map_key", "map_state", "parameter_keys"]

#: The reference MPD's periods (hard-coded there).
PUBLISHED_PERIODS: tuple[int, ...] = (2, 3, 5, 7, 11)


def _spectral_normed(key: str, keys: Sequence[str] | Mapping[str, object]) -> bool:
    """Is the module owning ``key`` spectral-normed (it has a ``weight_orig``)?"""
    return key.rsplit(".", 1)[0] + ".weight_orig" in keys


def map_key(key: str, keys: Sequence[str] | Mapping[str, object]) -> str:
    """multigan's name of reference parameter/buffer ``key`` (``keys``: all names of that state dict)."""
    module, _, leaf = key.rpartition(".")
    prefix = module + "." if module else ""
    if leaf == "weight_orig":
        return prefix + "parametrizations.weight.original"
    if leaf == "weight_u":
        return prefix + "parametrizations.weight.0._u"
    if leaf == "weight_v" and _spectral_normed(key, keys):
        return prefix + "parametrizations.weight.0._v"
    if leaf == "weight_g":
        return prefix + "parametrizations.weight.original0"
    if leaf == "weight_v":
        return prefix + "parametrizations.weight.original1"
    return key


def map_state(state: Mapping[str, Tensor], prefix: str = "") -> dict[str, Tensor]:
    """A reference state dict renamed to multigan's names, each prefixed with ``prefix`` (order kept)."""
    return {prefix + map_key(k, state): v for k, v in state.items()}


def parameter_keys(state: Mapping[str, Tensor]) -> list[str]:
    """The keys of a reference state dict that are parameters, in ``module.parameters()`` order.

    A state dict lists each module's parameters before its buffers and both before its children, the order
    in which ``parameters()`` visits them; only the spectral-norm vectors (``weight_u``/``weight_v`` beside a
    ``weight_orig``) are buffers.
    """
    out = []
    for k in state:
        leaf = k.rpartition(".")[2]
        if leaf == "weight_u" or (leaf == "weight_v" and _spectral_normed(k, state)):
            continue
        out.append(k)
    return out


def _conv_out(state: Mapping[str, Tensor], module: str, source: str) -> int:
    for leaf in ("weight_v", "weight_orig", "weight"):
        if f"{module}.{leaf}" in state and not (leaf == "weight_v" and f"{module}.weight_orig" in state):
            return int(state[f"{module}.{leaf}"].shape[0])
    raise MultiganError(f"{source}: no weight for {module} (expected {module}.weight_g/weight_v)")


def _count(state: Mapping[str, Tensor], pattern: str) -> int:
    n = 0
    while any(k.startswith(pattern.format(n)) for k in state):
        n += 1
    return n


def discriminator_widths(mpd: Mapping[str, Tensor], msd: Mapping[str, Tensor], source: str) -> dict:
    """The discriminator widths of a reference MPD and MSD: periods, scales and the channels of each.

    Widths are read from the tensors' shapes (the published ones are 32-128-512-1024-1024 and
    128-128-256-512-1024-1024-1024), so smaller reference-layout discriminators import too. The reference MPD's
    periods are fixed (2, 3, 5, 7, 11). Raises :class:`MultiganError` naming ``source`` when the layout differs.
    """
    n_periods, n_scales = _count(mpd, "discriminators.{}."), _count(msd, "discriminators.{}.")
    if not 1 <= n_periods <= len(PUBLISHED_PERIODS) or n_scales < 1:
        raise MultiganError(f"{source}: expected the reference MPD (discriminators.0-4) and MSD "
                            f"(discriminators.0-2), found {n_periods} period and {n_scales} scale sub-discriminators")
    n_mpd, n_msd = _count(mpd, "discriminators.0.convs.{}."), _count(msd, "discriminators.0.convs.{}.")
    mpd_channels = [_conv_out(mpd, f"discriminators.0.convs.{j}", source) for j in range(n_mpd)]
    msd_channels = [_conv_out(msd, f"discriminators.0.convs.{j}", source) for j in range(n_msd)]
    return {"periods": list(PUBLISHED_PERIODS[:n_periods]), "num_scales": n_scales,
            "mpd_channels": mpd_channels, "msd_channels": msd_channels}
