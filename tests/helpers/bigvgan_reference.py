"""BigVGAN's published computations written with ``torch.nn.functional`` on reference-layout tensors.

Written from reading NVIDIA/BigVGAN v2.4 (``bigvgan.py``, ``activations.py``, ``alias_free_activation/torch``,
``discriminators.py``); no multigan code is used, so the tests compare two independent writings. Tensors are the
reference's names (``weight_g``/``weight_v``: each weight is ``torch._weight_norm(v, g, 0)``, what the legacy hook
computes). The filter is built with numpy (``np.kaiser``, ``np.sinc``) from the published formula.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def reference_filter(kernel_size: int = 12, ratio: int = 2) -> Tensor:
    """``kaiser_sinc_filter1d(0.5 / ratio, 0.6 / ratio, kernel_size)`` with numpy, ``[1, 1, K]`` float32."""
    cutoff, half_width = 0.5 / ratio, 0.6 / ratio
    half = kernel_size // 2
    a = 2.285 * (half - 1) * math.pi * 4 * half_width + 7.95
    beta = 0.1102 * (a - 8.7) if a > 50 else (0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21) if a >= 21 else 0.0)
    t = np.arange(-half, half) + 0.5 if kernel_size % 2 == 0 else np.arange(kernel_size) - half
    h = 2 * cutoff * np.kaiser(kernel_size, beta) * np.sinc(2 * cutoff * t)
    return torch.from_numpy(h / h.sum()).float().view(1, 1, kernel_size)


def wn(sd: dict, name: str) -> Tensor:
    """The weight of weight-normed module ``name``."""
    return torch._weight_norm(sd[f"{name}.weight_v"], sd[f"{name}.weight_g"], 0)


def upsample_2x(x: Tensor, up: Tensor) -> Tensor:
    """``UpSample1d(2, 12)``: replicate-pad 5, zero-stuff x2 and filter (a transposed conv, x2 gain), trim 15 | 15."""
    c = x.shape[1]
    y = 2 * F.conv_transpose1d(F.pad(x, (5, 5), mode="replicate"), up.expand(c, 1, 12), stride=2, groups=c)
    return y[..., 15:-15]


def downsample_2x(x: Tensor, down: Tensor) -> Tensor:
    """``DownSample1d(2, 12)``: replicate-pad (5, 6), filter at stride 2."""
    c = x.shape[1]
    return F.conv1d(F.pad(x, (5, 6), mode="replicate"), down.expand(c, 1, 12), stride=2, groups=c)


def anti_aliased(sd: dict, name: str, x: Tensor, logscale: bool) -> Tensor:
    """``Activation1d``: :func:`upsample_2x`, Snake(Beta), :func:`downsample_2x`. Filters from the tensors
    ``name.upsample.filter`` / ``name.downsample.lowpass.filter``."""
    y = upsample_2x(x, sd[f"{name}.upsample.filter"])
    alpha = sd[f"{name}.act.alpha"].view(1, -1, 1)
    beta = sd.get(f"{name}.act.beta")
    beta = alpha if beta is None else beta.view(1, -1, 1)
    if logscale:
        alpha, beta = torch.exp(alpha), torch.exp(beta)
    y = y + 1.0 / (beta + 1e-9) * torch.sin(y * alpha) ** 2
    return downsample_2x(y, sd[f"{name}.downsample.lowpass.filter"])


class ReferenceActivation1d(torch.nn.Module):
    """The published ``alias_free_activation/torch`` ``Activation1d`` as a module around any activation ``act``:
    :func:`upsample_2x`, ``act``, :func:`downsample_2x`, with the numpy-built :func:`reference_filter` (or
    ``filt``) -- the speed benchmark's baseline and the fast path's test reference."""

    def __init__(self, act: torch.nn.Module, filt: Tensor | None = None) -> None:
        super().__init__()
        self.act = act
        self.register_buffer("filter", reference_filter() if filt is None else filt, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, T]`` -> same shape."""
        return downsample_2x(self.act(upsample_2x(x, self.filter.to(x.dtype))), self.filter.to(x.dtype))


def generator_forward(sd: dict, cfg: dict, mel: Tensor) -> Tensor:
    """``BigVGAN.forward`` of config ``cfg`` (reference keys) on ``mel`` ``[B, num_mels, frames]`` -> ``[B, 1, T]``."""
    log = cfg["snake_logscale"]
    x = F.conv1d(mel, wn(sd, "conv_pre"), sd["conv_pre.bias"], padding=3)
    nk = len(cfg["resblock_kernel_sizes"])
    for i, (u, k) in enumerate(zip(cfg["upsample_rates"], cfg["upsample_kernel_sizes"])):
        x = F.conv_transpose1d(x, wn(sd, f"ups.{i}.0"), sd[f"ups.{i}.0.bias"], stride=u, padding=(k - u) // 2)
        total = None
        for j, (kr, dil) in enumerate(zip(cfg["resblock_kernel_sizes"], cfg["resblock_dilation_sizes"])):
            r = f"resblocks.{i * nk + j}"
            h = x
            for n, d in enumerate(dil):
                if cfg["resblock"] == "1":
                    t = anti_aliased(sd, f"{r}.activations.{2 * n}", h, log)
                    t = F.conv1d(t, wn(sd, f"{r}.convs1.{n}"), sd[f"{r}.convs1.{n}.bias"], dilation=d,
                                 padding=(kr * d - d) // 2)
                    t = anti_aliased(sd, f"{r}.activations.{2 * n + 1}", t, log)
                    t = F.conv1d(t, wn(sd, f"{r}.convs2.{n}"), sd[f"{r}.convs2.{n}.bias"], padding=(kr - 1) // 2)
                else:
                    t = anti_aliased(sd, f"{r}.activations.{n}", h, log)
                    t = F.conv1d(t, wn(sd, f"{r}.convs.{n}"), sd[f"{r}.convs.{n}.bias"], dilation=d,
                                 padding=(kr * d - d) // 2)
                h = h + t
            total = h if total is None else total + h
        x = total / nk
    x = anti_aliased(sd, "activation_post", x, log)
    x = F.conv1d(x, wn(sd, "conv_post"), sd.get("conv_post.bias"), padding=3)
    return torch.tanh(x) if cfg["use_tanh_at_final"] else x.clamp(-1, 1)


def mpd_logits(sd: dict, period: int, index: int, x: Tensor) -> Tensor:
    """``DiscriminatorP`` ``index`` of ``period`` on ``[B, 1, T]``: flattened logits."""
    b, c, t = x.shape
    if t % period:
        x = F.pad(x, (0, period - t % period), mode="reflect")
    h = x.view(b, c, -1, period)
    for j in range(5):
        name = f"discriminators.{index}.convs.{j}"
        h = F.leaky_relu(F.conv2d(h, wn(sd, name), sd[f"{name}.bias"], stride=(3 if j < 4 else 1, 1),
                                  padding=(2, 0)), 0.1)
    name = f"discriminators.{index}.conv_post"
    return torch.flatten(F.conv2d(h, wn(sd, name), sd[f"{name}.bias"], padding=(1, 0)), 1)


def mrd_logits(sd: dict, resolution: list[int], index: int, x: Tensor) -> Tensor:
    """``DiscriminatorR`` on ``[B, 1, T]``: reflect pad, uncentred rectangular-window |STFT|, (3x9) convs."""
    n_fft, hop, win = resolution
    pad = int((n_fft - hop) / 2)
    y = F.pad(x, (pad, pad), mode="reflect").squeeze(1)
    spec = torch.stft(y, n_fft=n_fft, hop_length=hop, win_length=win, window=torch.ones(win), center=False,
                      return_complex=True)  # the reference passes no window: rectangular
    h = torch.norm(torch.view_as_real(spec), p=2, dim=-1).unsqueeze(1)
    for j, (stride, pad2) in enumerate([((1, 1), (1, 4)), ((1, 2), (1, 4)), ((1, 2), (1, 4)), ((1, 2), (1, 4)),
                                        ((1, 1), (1, 1))]):
        name = f"discriminators.{index}.convs.{j}"
        h = F.leaky_relu(F.conv2d(h, wn(sd, name), sd[f"{name}.bias"], stride=stride, padding=pad2), 0.1)
    name = f"discriminators.{index}.conv_post"
    return torch.flatten(F.conv2d(h, wn(sd, name), sd[f"{name}.bias"], padding=(1, 1)), 1)


def mbd_logits(sd: dict, window: int, index: int, x: Tensor, n_bands: int = 5) -> Tensor:
    """``DiscriminatorB`` on ``[B, 1, T]``: DC removal, peak 0.8, centred Hann STFT, five bands, shared conv_post."""
    y = x.squeeze(1)
    y = y - y.mean(dim=-1, keepdim=True)
    y = 0.8 * y / (y.abs().max(dim=-1, keepdim=True)[0] + 1e-9)
    spec = torch.stft(y, window, int(window * 0.25), window, window=torch.hann_window(window), center=True,
                      pad_mode="reflect", return_complex=True)
    z = torch.view_as_real(spec).permute(0, 3, 2, 1)
    bins = window // 2 + 1
    edges = [(0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)][:n_bands]
    outs = []
    for b, (lo, hi) in enumerate(edges):
        h = z[..., int(lo * bins):int(hi * bins)]
        for j, (stride, pad) in enumerate([((1, 1), (1, 4))] + [((1, 2), (1, 4))] * 3 + [((1, 1), (1, 1))]):
            name = f"discriminators.{index}.band_convs.{b}.{j}"
            h = F.leaky_relu(F.conv2d(h, wn(sd, name), sd[f"{name}.bias"], stride=stride, padding=pad), 0.1)
        outs.append(h)
    name = f"discriminators.{index}.conv_post"
    return F.conv2d(torch.cat(outs, dim=-1), wn(sd, name), sd[f"{name}.bias"], padding=(1, 1))


def cqtd_logits(sd: dict, cfg: dict, sample_rate: int, index: int, x: Tensor) -> Tensor:
    """``DiscriminatorCQT`` ``index`` on ``[B, 1, T]``: torchaudio 2x resampling, nnAudio CQT2010v2 (as the
    reference calls them), per-octave plain (3x9) convs, plain convs.0, weight-normed dilated convs, conv_post."""
    import torchaudio
    from nnAudio.features.cqt import CQT2010v2

    hop, octaves, bpo = (cfg[k][index] for k in ("cqtd_hop_lengths", "cqtd_n_octaves", "cqtd_bins_per_octaves"))
    cqt = CQT2010v2(sr=2 * sample_rate, hop_length=hop, n_bins=bpo * octaves, bins_per_octave=bpo,
                    output_format="Complex", pad_mode="constant", verbose=False)
    y = torchaudio.transforms.Resample(orig_freq=sample_rate, new_freq=2 * sample_rate)(x)
    z = cqt(y.squeeze(1) if y.dim() == 3 else y)
    z = torch.cat([z[..., 0].unsqueeze(1), z[..., 1].unsqueeze(1)], dim=1).permute(0, 1, 3, 2)
    p = f"discriminators.{index}"
    h = torch.cat([F.conv2d(z[..., o * bpo:(o + 1) * bpo], sd[f"{p}.conv_pres.{o}.weight"],
                            sd[f"{p}.conv_pres.{o}.bias"], padding=(1, 4)) for o in range(octaves)], dim=-1)
    h = F.leaky_relu(F.conv2d(h, sd[f"{p}.convs.0.weight"], sd[f"{p}.convs.0.bias"], padding=(1, 4)), 0.1)
    for i, d in enumerate(cfg["cqtd_dilations"]):
        name = f"{p}.convs.{i + 1}"
        h = F.leaky_relu(F.conv2d(h, wn(sd, name), sd[f"{name}.bias"], stride=(1, 2), dilation=(d, 1),
                                  padding=(d, 4)), 0.1)
    name = f"{p}.convs.{len(cfg['cqtd_dilations']) + 1}"
    h = F.leaky_relu(F.conv2d(h, wn(sd, name), sd[f"{name}.bias"], padding=(1, 1)), 0.1)
    return F.conv2d(h, wn(sd, f"{p}.conv_post"), sd[f"{p}.conv_post.bias"], padding=(1, 1))


def random_reference_tensors(layout: list, seed: int) -> dict[str, Tensor]:
    """Tensors for a layout of ``[name, shape]`` rows: filters are the published ones, weight-norm magnitudes in
    [0.2, 0.5] (outputs stay inside the clamp), Snake parameters around 0, buffers of library shape (``null``)
    arbitrary (the importer rebuilds and drops them)."""
    g = torch.Generator().manual_seed(seed)
    out: dict[str, Tensor] = {}
    for name, shape in layout:
        if name.endswith("filter") and shape == [1, 1, 12]:
            out[name] = reference_filter().clone()
        elif shape is None:
            out[name] = torch.randn(3, generator=g)
        elif name.endswith("weight_g"):
            out[name] = 0.2 + 0.3 * torch.rand(shape, generator=g)
        elif name.endswith(("alpha", "beta")):
            out[name] = 0.3 * torch.randn(shape, generator=g)
        else:
            out[name] = torch.randn(shape, generator=g) * (0.1 if name.endswith("bias") else 1.0)
    return out


def reference_mel(y: Tensor, n_fft: int, num_mels: int, sampling_rate: int, hop_size: int, win_size: int,
                  fmin: float, fmax) -> Tensor:
    """``meldataset.mel_spectrogram``: librosa Slaney filterbank, reflect pad ``(n_fft - hop) // 2``, uncentred Hann
    STFT, ``sqrt(re^2 + im^2 + 1e-9)``, ``log(clamp(x, 1e-5))``; ``y`` ``[B, T]`` -> ``[B, num_mels, frames]``."""
    import librosa

    mel = torch.from_numpy(librosa.filters.mel(sr=sampling_rate, n_fft=n_fft, n_mels=num_mels, fmin=fmin,
                                               fmax=fmax)).float()
    pad = (n_fft - hop_size) // 2
    y = F.pad(y.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    spec = torch.stft(y, n_fft, hop_length=hop_size, win_length=win_size, window=torch.hann_window(win_size),
                      center=False, normalized=False, onesided=True, return_complex=True)
    spec = torch.sqrt(torch.view_as_real(spec).pow(2).sum(-1) + 1e-9)
    return torch.log(torch.clamp(torch.matmul(mel, spec), min=1e-5))
