"""SpecGAN (Donahue et al. 2019): 2-D convolutional G and D on normalised log spectrograms.

The generator owns the feature definition (linear log-magnitude or log-mel), the per-bin normaliser and
the inversion to audio (Griffin-Lim, or a neural vocoder given with :meth:`SpecGANGenerator.use_vocoder`), so
an exported SpecGAN produces audio on its own. Class-conditional through a label embedding in G and a
projection discriminator; unconditional with ``num_classes=0``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import MultiganError
from .features import LogMagSpectrogram, LogMel, SpecNormalizer, griffin_lim
from .generation import AudioGenerator
from .projection import ProjectionHead


def _ups(size: int) -> int:
    k = int(round(math.log2(size / 4)))
    if size < 8 or 4 * 2**k != size:
        raise MultiganError(f"SpecGAN image size {size} must be 4 x a power of two (e.g. 64 or 128)")
    return k


class SpecGANGenerator(AudioGenerator):
    """Noise (+ label) -> dense 4x4 -> transposed 2-D convolutions (x2 each) -> tanh image ``[B, 1, bins, frames]``.

    ``feature="mel"`` uses ``n_mels`` log-mel bins; ``feature="linear"`` the ``n_fft // 2`` lowest
    log-magnitude bins (the Nyquist bin is dropped, as in SpecGAN). ``size`` is both bins and frames; the
    audio canvas is ``(size - 1) * hop`` samples.
    """

    def __init__(self, sample_rate: int = 8000, num_classes: int = 10, z_dim: int = 100, dim: int = 32,
                 size: int = 64, feature: str = "mel", n_fft: int = 512, hop: int = 128, embed_dim: int = 32,
                 griffin_lim_iters: int = 32):
        super().__init__(sample_rate=sample_rate, num_classes=num_classes, z_dim=z_dim, dim=dim, size=size,
                         feature=feature, n_fft=n_fft, hop=hop, embed_dim=embed_dim,
                         griffin_lim_iters=griffin_lim_iters)
        if feature not in ("mel", "linear"):
            raise MultiganError(f"SpecGAN feature={feature!r}: valid choices are 'mel', 'linear'")
        if feature == "linear" and n_fft // 2 != size:
            raise MultiganError(f"SpecGAN feature=linear needs n_fft // 2 == size ({n_fft} // 2 != {size}): "
                                f"set n_fft={2 * size}")
        self.sample_rate, self.num_classes, self.z_dim, self.size = sample_rate, num_classes, z_dim, size
        self.feature, self.n_fft, self.hop, self.gl_iters = feature, n_fft, hop, griffin_lim_iters
        self.length = (size - 1) * hop
        n_up = _ups(size)
        self.chans = [dim * 2**n_up] + [dim * 2 ** (n_up - 1 - i) for i in range(n_up - 1)] + [1]
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.fc = nn.Linear(z_dim + (embed_dim if num_classes else 0), self.chans[0] * 16)
        self.ups = nn.ModuleList(nn.ConvTranspose2d(a, b, 4, 2, padding=1)
                                 for a, b in zip(self.chans[:-1], self.chans[1:]))
        self.normalizer = SpecNormalizer(size)
        self.__dict__["_vocoder"] = None  # not a sub-module: a vocoder is never part of a SpecGAN export

    # --- features: the same definition for training data and for inversion ------------------------------

    def spectrogram(self, wav: torch.Tensor) -> torch.Tensor:
        """Log spectrogram ``[B, 1, size, frames]`` of waveforms ``[B, samples]`` (not normalised)."""
        wav = wav.reshape(wav.shape[0], -1)
        if self.feature == "mel":
            spec = LogMel(self.sample_rate, self.n_fft, self.hop, self.size).to(wav.device)(wav)
        else:
            spec = LogMagSpectrogram(self.n_fft, self.hop).to(wav.device)(wav)[:, : self.size]
        return spec.unsqueeze(1)

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """Normalised training image of waveforms (what the discriminator sees for real data)."""
        return self.normalizer.normalize(self.spectrogram(wav))

    # --- generation ----------------------------------------------------------------------------------------

    def forward(self, noise: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = noise
        if self.embed is not None:
            if cond is None:
                raise MultiganError("this SpecGAN is conditional: pass the class labels as cond")
            h = torch.cat([noise, self.embed(cond)], dim=1)
        h = F.relu(self.fc(h)).view(-1, self.chans[0], 4, 4)
        for i, up in enumerate(self.ups):
            h = up(h)
            h = torch.tanh(h) if i == len(self.ups) - 1 else F.relu(h)
        return h

    def vocoder_mel_settings(self) -> dict:
        """The mel front end a neural vocoder must have been trained with to invert this SpecGAN.

        These are :class:`~multigan.audio.vocoders.vocoder.Vocoder` ``mel`` settings (recipe overrides ``mel.KEY=VALUE``):
        the same rate, FFT, hop, Hann window of ``n_fft`` samples and ``size`` Slaney mels over the full band.
        """
        return {"sample_rate": self.sample_rate, "n_fft": self.n_fft, "hop_size": self.hop, "win_size": self.n_fft,
                "n_mels": self.size, "fmin": 0.0, "fmax": None}

    def use_vocoder(self, vocoder: nn.Module | None) -> None:
        """Invert with a trained :class:`~multigan.audio.vocoders.vocoder.Vocoder` instead of Griffin-Lim (None: back to
        Griffin-Lim).

        The vocoder must have been trained on this SpecGAN's features (:meth:`vocoder_mel_settings`); anything
        else raises a :class:`MultiganError` that lists the differences. The vocoder is not part of this
        model's weights (an export stays a plain SpecGAN) and keeps its own device.
        """
        if vocoder is None:
            self.__dict__["_vocoder"] = None
            return
        if self.feature != "mel":
            raise MultiganError("a neural vocoder needs a log-mel SpecGAN (feature=mel); this one is linear")
        config = getattr(vocoder, "config", None)
        mel = config.get("mel") if isinstance(config, dict) else None
        if mel is None:
            raise MultiganError(f"use_vocoder: expected a multigan Vocoder (multigan.load of a vocoder run), got "
                                f"{type(vocoder).__name__}")
        want = self.vocoder_mel_settings()
        nyquist = self.sample_rate / 2
        have = {k: mel.get(k) for k in want}
        if have["fmax"] == nyquist:  # the full band, spelt out
            have["fmax"] = None
        diffs = [f"{k}={mel.get(k)} (needs {want[k] if k != 'fmax' else f'null or {nyquist:g}'})"
                 for k in want if have[k] != want[k]]
        if diffs:
            fix = " ".join(f"mel.{k}={'null' if v is None else v}" for k, v in want.items())
            raise MultiganError("this vocoder was trained on other mel features than this SpecGAN produces: "
                                + ", ".join(diffs) + f". Train one on the same audio with a vocoder recipe "
                                f"and the overrides {fix} (and generator.upsample_rates multiplying to "
                                f"{self.hop})")
        self.__dict__["_vocoder"] = vocoder

    def _vocode(self, logmel: torch.Tensor) -> torch.Tensor:
        """Log-mels ``[B, size, size]`` (SpecGAN framing) to waveforms ``[B, length]`` with the vocoder.

        SpecGAN frames are centred (frame ``t`` at sample ``t * hop``), the vocoder's at ``t * hop + hop / 2``:
        the output is read from half a hop on to line the two up.
        """
        voc = self._vocoder
        p = next(voc.parameters())
        wav = voc(None, logmel.to(device=p.device, dtype=p.dtype)).float().to(logmel.device)
        start = self.hop // 2
        return wav.reshape(wav.shape[0], -1)[:, start:start + self.length]

    def to_audio(self, output: torch.Tensor) -> torch.Tensor:
        """Denormalise and invert generated images to waveforms ``[B, length]``."""
        logspec = self.normalizer.denormalize(output.float().squeeze(1))
        if self._vocoder is not None:
            return self._vocode(logspec)
        if self.feature == "mel":
            mel_to_lin = torchaudio.transforms.InverseMelScale(
                self.n_fft // 2 + 1, self.size, self.sample_rate, norm="slaney", mel_scale="slaney"
            ).to(logspec.device)
            linear = mel_to_lin(logspec.exp()).clamp_min(1e-5)
            logmag = linear.log()
        else:
            floor = logspec.new_full((logspec.shape[0], 1, logspec.shape[-1]), math.log(1e-5))
            logmag = torch.cat([logspec, floor], dim=1)  # the dropped Nyquist bin
        return griffin_lim(logmag, self.n_fft, self.hop, self.gl_iters, length=self.length)


class SpecGANDiscriminator(nn.Module):
    """Strided 2-D convolutions (x1/2 each) to 4x4, then a linear logit plus a label projection.

    Returns one sub-discriminator: ``[[feature maps..., logits [B]]]``.
    """

    def __init__(self, num_classes: int = 10, dim: int = 32, size: int = 64, use_spectral_norm: bool = True):
        super().__init__()
        n_down = _ups(size)
        norm = spectral_norm if use_spectral_norm else (lambda m: m)
        chans = [1] + [dim * 2**i for i in range(n_down)]
        self.convs = nn.ModuleList(norm(nn.Conv2d(a, b, 4, 2, padding=1)) for a, b in zip(chans[:-1], chans[1:]))
        features = chans[-1] * 16
        self.head = ProjectionHead(features, num_classes, use_spectral_norm)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> list[list[torch.Tensor]]:
        h, maps = x, []
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
            maps.append(h)
        logits = self.head(h, cond)
        return [maps + [logits]]
