"""The vocoder recipes' validation callback and the Griffin-Lim baseline.

Metrics on full-length held-out clips (each a mean over clips), all computed by the evaluation protocol's
:class:`~multigan.audio.vocoders.evaluation.protocol.ClipScorer` (the functions ``multigan eval-vocoder`` uses):
``mel_l1`` (full-band loss mel), ``mel_l1_8k`` (the input band, 0-8 kHz, the band Griffin-Lim is given),
``mr_stft``, ``pesq_wb`` (``eval.pesq``), and with ``eval.pitch=tiny|full`` ``periodicity`` / ``vuv_f1`` /
``pitch_rmse``, with ``eval.mos=true`` the predicted ``mos``. Any of them can select the best checkpoint
(``train.early_stop_metric``, ``train.early_stop_mode``).

:class:`GriffinLimBaseline` inverts the same input mels with NNLS (mel -> linear magnitude) and Griffin-Lim;
:class:`VocoderValidator` scores it once per validation set (cached in the run directory) and reports every
metric beside it (``gl_*``) and the gap (``gl_gap_*``, positive when the vocoder is ahead).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from ..features import LogMel
from ..io import save_wav
from .data.clips import ValidationClip
from .evaluation.mos import MosPredictor
from .evaluation.pitch import optional_tracker
from .evaluation.protocol import METRICS, ClipScorer

__all__ = ["GriffinLimBaseline", "VocoderValidator"]

log = logging.getLogger("multigan")

#: Metrics where lower is better (the gap to Griffin-Lim is then ``gl - vocoder``).
LOWER_IS_BETTER = tuple(k for k, m in METRICS.items() if not m.higher_is_better)


def _np(x: Tensor | np.ndarray) -> np.ndarray:
    return x.detach().cpu().float().numpy() if isinstance(x, Tensor) else np.asarray(x, np.float32)


def _mean(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    keys = rows[0].keys()
    return {k: float(np.nanmean([r[k] for r in rows])) if not all(math.isnan(r[k]) for r in rows) else math.nan
            for k in keys}


class GriffinLimBaseline:
    """Waveform from a log-mel by NNLS mel inversion and fast Griffin-Lim (librosa), the classical baseline.

    The algorithm of ``librosa.feature.inverse.mel_to_audio``: the mel (``log(mel_basis @ |STFT|)``, the
    vocoder's framing, Slaney filterbank, power 1) is exponentiated and turned into a non-negative linear
    magnitude by non-negative least squares (``librosa.feature.inverse.mel_to_stft``), then ``n_iter``
    iterations of fast Griffin-Lim (``librosa.griffinlim``: momentum 0.99, zero-padded centred frames, a
    random initial phase seeded with ``seed``) recover a phase. The recipes use 100 iterations
    (``eval.griffin_lim_iters``): on LJ Speech clips that scores a lower mel L1 than ``mel_to_audio``'s 32
    (tests/test_vocoder.py checks it), so the baseline is at least as strong as librosa's. Bins above the mel's
    ``fmax`` stay empty (the information is not in the mel). The vocoder's framing centres frame ``t`` at
    ``t*hop + hop/2``, librosa's at ``t*hop``: the result is shifted by ``hop/2`` samples to line up.
    """

    def __init__(self, mel_cfg: Mapping[str, Any], n_iter: int = 100, seed: int = 0) -> None:
        self.cfg, self.n_iter, self.seed = dict(mel_cfg), int(n_iter), int(seed)

    def describe(self) -> dict:
        """What the result depends on (used as the cache key)."""
        return {"method": "librosa nnls+fast griffin_lim (constant pad)", "n_iter": self.n_iter, "seed": self.seed,
                "mel": self.cfg}

    def __call__(self, log_mel: Tensor, length: int) -> Tensor:
        """Log-mel ``[n_mels, frames]`` to a waveform ``[length]`` (CPU float32)."""
        import librosa

        c = self.cfg
        fmax = c["fmax"] if c["fmax"] is not None else c["sample_rate"] / 2
        mag = librosa.feature.inverse.mel_to_stft(
            np.exp(_np(log_mel)).astype(np.float64), sr=c["sample_rate"], n_fft=c["n_fft"], power=1.0,
            fmin=c["fmin"], fmax=fmax, norm="slaney", htk=False)
        hop, frames = c["hop_size"], mag.shape[-1]
        inner = max(frames - 1, 1) * hop  # librosa's centred frames of a signal of (frames - 1) * hop samples
        y = librosa.griffinlim(mag, n_iter=self.n_iter, hop_length=hop, win_length=c["win_size"], n_fft=c["n_fft"],
                               window="hann", center=True, pad_mode="constant", momentum=0.99, init="random",
                               random_state=self.seed, length=inner)
        y = torch.from_numpy(np.asarray(y, dtype=np.float32))
        shift = hop // 2
        y = torch.nn.functional.pad(y, (shift, max(length - shift - inner, 0)))
        return y[:length].contiguous()


class VocoderValidator:
    """Validation callback for :class:`multigan.Trainer`: vocodes full held-out clips and scores them.

    Args:
        clips: the validation clips (audio at the vocoder's rate, a whole number of hops long).
        mel_cfg: the vocoder's input mel settings (``fmax`` of the input); the loss mel uses ``loss_fmax``.
        loss_fmax: ``fmax`` of the mel used for ``mel_l1`` (``None``: full band, as published).
        with_pesq: compute wideband PESQ.
        pitch: ``"tiny"`` / ``"full"``: periodicity, V/UV F1 and pitch RMSE with that CREPE model; ``None``: off.
        mos: compute the predicted MOS (DistillMOS).
        griffin_lim: the baseline (``None``: no baseline); its scores are cached in
            ``run_dir/griffin_lim/metrics.json`` with a key of the clips and settings.
        log_clips: how many clips to log to TensorBoard as audio and mel images.
    """

    def __init__(self, clips: Sequence[ValidationClip], mel_cfg: Mapping[str, Any], loss_fmax: Optional[float] = None,
                 with_pesq: bool = True, griffin_lim: Optional[GriffinLimBaseline] = None, log_clips: int = 1,
                 pitch: Optional[str] = None, mos: bool = False) -> None:
        if not clips:
            raise ValueError("VocoderValidator needs at least one validation clip")
        self.clips, self.with_pesq, self.gl, self.log_clips = list(clips), with_pesq, griffin_lim, int(log_clips)
        self.mel_cfg, self.loss_fmax = dict(mel_cfg), loss_fmax
        self.input_mel = LogMel.from_settings(self.mel_cfg)
        self.loss_mel = LogMel.from_settings({**self.mel_cfg, "fmax": loss_fmax})
        self.pitch = None if pitch in (None, "none") else pitch
        self.scorer = ClipScorer(self.loss_mel, self.input_mel, with_pesq, optional_tracker(self.pitch),
                                 MosPredictor() if mos else None)
        self._baseline: Optional[dict[str, float]] = None
        #: Griffin-Lim's and the last :meth:`evaluate`'s metrics of each clip (in clip order), for the final report.
        self.baseline_rows: Optional[list[dict[str, float]]] = None
        self.last_rows: Optional[list[dict[str, float]]] = None
        self._references_logged = False

    # --- the baseline -----------------------------------------------------------------------------------------

    def _cache_key(self) -> str:
        digest = hashlib.sha256()
        for c in self.clips:
            digest.update(c.name.encode())
            digest.update(c.audio.numpy().tobytes())
        extra = {"gl": self.gl.describe() if self.gl else None, "metrics": self.scorer.keys, "pitch": self.pitch,
                 "loss_fmax": self.loss_fmax}
        digest.update(json.dumps(extra, sort_keys=True).encode())
        return digest.hexdigest()[:16]

    def baseline(self, run_dir: Optional[Path] = None) -> dict[str, float]:
        """Griffin-Lim's mean metrics on the clips, computed once (cached in ``run_dir/griffin_lim``)."""
        if self._baseline is not None or self.gl is None:
            return self._baseline or {}
        return self._compute_baseline(run_dir)

    def _compute_baseline(self, run_dir: Optional[Path]) -> dict[str, float]:
        key = self._cache_key()
        cache = Path(run_dir) / "griffin_lim" / "metrics.json" if run_dir is not None else None
        if cache is not None and cache.is_file():
            saved = json.loads(cache.read_text())
            if saved.get("key") == key:
                self._baseline = saved["mean"]
                self.baseline_rows = [saved["clips"][clip.name] for clip in self.clips]
                return self._baseline
        rows, per_clip = [], {}
        for clip in self.clips:
            wav = self.gl(clip.mel, clip.audio.shape[-1])
            row = self.scorer.score(wav, clip.audio, self.mel_cfg["sample_rate"], clip.name)
            rows.append(row)
            per_clip[clip.name] = row
            if cache is not None:
                save_wav(cache.parent / f"{Path(clip.name).stem}.wav", wav, self.mel_cfg["sample_rate"])
        self._baseline, self.baseline_rows = _mean(rows), rows
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({"key": key, "method": self.gl.describe(), "mean": self._baseline,
                                         "clips": per_clip}, indent=2))
        log.info("Griffin-Lim baseline on %d validation clips: %s", len(self.clips),
                 ", ".join(f"{k} {v:.4g}" for k, v in self._baseline.items()))
        return self._baseline

    def griffin_lim_wavs(self, run_dir: Optional[Path]) -> Optional[list[Tensor]]:
        """The baseline's resynthesis of each clip, read from its cache in ``run_dir`` (``None`` when absent)."""
        if self.gl is None or run_dir is None:
            return None
        import soundfile as sf

        files = [Path(run_dir) / "griffin_lim" / f"{Path(c.name).stem}.wav" for c in self.clips]
        if not all(f.is_file() for f in files):
            return None
        return [torch.from_numpy(sf.read(str(f), dtype="float32")[0]) for f in files]

    # --- scoring ------------------------------------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self, vocode: Callable[[Tensor], Tensor], device: torch.device | str = "cpu",
                 run_dir: Optional[Path] = None) -> tuple[dict[str, float], list[Tensor]]:
        """Metrics of ``vocode`` (mel ``[1, n_mels, frames]`` -> ``[1, T]``) with the baseline; and the waveforms."""
        rows, wavs = [], []
        for clip in self.clips:
            wav = vocode(clip.mel[None].to(device)).reshape(-1).float()
            rows.append(self.scorer.score(wav, clip.audio, self.mel_cfg["sample_rate"], clip.name))
            wavs.append(wav.cpu())
        self.last_rows = rows
        metrics = _mean(rows)
        base = self.baseline(run_dir)
        for k, v in base.items():
            metrics[f"gl_{k}"] = v
            metrics[f"gl_gap_{k}"] = (v - metrics[k]) if k in LOWER_IS_BETTER else (metrics[k] - v)
        return metrics, wavs

    def __call__(self, ctx: Any) -> dict[str, float]:
        """The :class:`multigan.ValidationContext` callback: score ``ctx.generator`` and log to TensorBoard.

        Adds ``cpu_seconds``: the trainer's CPU time in training steps so far (all threads of this process;
        validation, the Griffin-Lim baseline and checkpoints excluded; carried across ``--resume``).
        """
        gen = ctx.generator
        metrics, wavs = self.evaluate(lambda mel: gen(None, mel), ctx.device, ctx.run_dir)
        if ctx.writer is not None:
            self._log(ctx.writer, ctx.step, wavs, ctx.run_dir)
        metrics["cpu_seconds"] = round(float(getattr(ctx, "train_cpu_seconds", 0.0)), 2)
        return metrics

    def _log(self, writer: Any, step: int, wavs: Sequence[Tensor], run_dir: Optional[Path]) -> None:
        sr = self.mel_cfg["sample_rate"]
        self.input_mel.cpu()
        for i, (clip, wav) in enumerate(zip(self.clips[: self.log_clips], wavs)):
            name = Path(clip.name).stem
            writer.add_audio(f"vocoded/{name}", wav.clamp(-1, 1)[None], step, sample_rate=sr)
            writer.add_figure(f"mel/{name}", _mel_figure(self.input_mel(clip.audio), self.input_mel(wav), name, step),
                              step)
            if not self._references_logged:
                writer.add_audio(f"real/{name}", clip.audio[None], 0, sample_rate=sr)
                gl_file = Path(run_dir) / "griffin_lim" / f"{name}.wav" if run_dir is not None else None
                if gl_file is not None and gl_file.is_file():
                    import soundfile as sf

                    gl_wav, _ = sf.read(str(gl_file), dtype="float32")
                    writer.add_audio(f"griffin_lim/{name}", torch.from_numpy(gl_wav)[None], 0, sample_rate=sr)
        self._references_logged = True


def _mel_figure(real: Tensor, fake: Tensor, name: str, step: int):
    """A two-panel figure: the real clip's input mel above the vocoded clip's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(8, 4.5), sharex=True)
    lo, hi = float(real.min()), float(real.max())
    for ax, spec, title in ((axes[0], real, f"{name}: real"), (axes[1], fake, f"vocoded, step {step}")):
        ax.imshow(spec.cpu().numpy(), origin="lower", aspect="auto", vmin=lo, vmax=hi, cmap="magma")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("mel bin")
    axes[1].set_xlabel("frame")
    fig.tight_layout()
    return fig
