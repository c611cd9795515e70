"""One mel front-end description (multigan.audio.mel_front_end) for HiFi-GAN, BigVGAN and Vocos: each computes what
the published code computes on a real LJ Speech clip, wrong choices would show, bad descriptions are one error,
exports store it (older exports keep HiFi-GAN's), and mels of another front end are named in a warning."""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import multigan
from multigan.audio.features import LogMel
from multigan.audio.io import resample
from multigan.audio.mel_front_end import FRONT_END_PRESETS, MelFrontEnd, MelFrontEndError, resolve_front_end
from multigan.audio.vocoders.front_end_check import diagnose_front_end
from multigan.audio.vocoders.mel_input import MelInputWarning, mel_statistics
from multigan.audio.vocoders.vocoder import DEFAULT_MEL, Vocoder
from multigan.checkpoint import export_generator
from multigan.errors import MultiganError
from helpers.bigvgan_reference import reference_mel
from helpers.vocos_reference import vocos_reference_mel

LJ = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ljspeech-mini" / "wavs"
pytestmark = pytest.mark.skipif(not LJ.is_dir(), reason="LJ Speech mini set not available")
pytest.importorskip("librosa")

#: (rate, n_fft, hop, n_mels, fmax) of BigVGAN-v2's 22k, 24k and 44k presets (HiFi-GAN's is the 22k one)
BIGVGAN = [(22050, 1024, 256, 80, 8000.0), (24000, 1024, 256, 100, 12000.0), (44100, 2048, 512, 128, 22050.0)]
VOCOS = FRONT_END_PRESETS["vocos"]
HIFIGAN = FRONT_END_PRESETS["hifigan"]
TINY_VOCOS = {"dim": 8, "intermediate_dim": 12, "num_layers": 1}


def clip(rate: int, index: int = 0, seconds: float = 2.0, pause: int = 0) -> torch.Tensor:
    """LJ Speech clip ``index`` resampled to ``rate``, ``[1, T]`` with ``T`` whole hops of 512, followed by ``pause``
    samples of digital silence (where the log floor shows)."""
    y, sr = sf.read(str(sorted(LJ.glob("*.wav"))[index]), dtype="float32")
    y = resample(y[: int(seconds * sr)], sr, rate)
    y = np.concatenate([y[: len(y) // 512 * 512], np.zeros(pause, np.float32)])
    return torch.from_numpy(y)[None]


def settings(rate: int, n_fft: int, hop: int, n_mels: int, fmax) -> dict:
    return {**DEFAULT_MEL, "sample_rate": rate, "n_fft": n_fft, "hop_size": hop, "win_size": n_fft,
            "n_mels": n_mels, "fmax": fmax}


def vary(front_end: MelFrontEnd, **changes) -> MelFrontEnd:
    return MelFrontEnd.from_dict({**front_end.to_dict(), **changes})


# --------------------------------------------------------------------------- faithfulness


@pytest.mark.parametrize("rate, n_fft, hop, n_mels, fmax", BIGVGAN)
def test_hifigan_bigvgan_front_end_is_the_published_mel(rate, n_fft, hop, n_mels, fmax) -> None:
    y = clip(rate, pause=8192)
    ref = reference_mel(y, n_fft, n_mels, rate, hop, n_fft, 0.0, fmax)  # meldataset.mel_spectrogram, librosa's bank
    ours = LogMel.from_settings(settings(rate, n_fft, hop, n_mels, fmax), "bigvgan")(y)
    assert ours.shape == ref.shape == (1, n_mels, y.shape[-1] // hop)
    assert (ours - ref).abs().max().item() < 1e-4
    # a wrong norm, floor or framing is far off (each on this real clip)
    for wrong in (vary(HIFIGAN, norm=None), vary(HIFIGAN, filterbank="htk"), vary(HIFIGAN, log_floor=1e-7),
                  vary(HIFIGAN, padding="center")):
        other = LogMel.from_settings(settings(rate, n_fft, hop, n_mels, fmax), wrong)(y)
        if other.shape != ref.shape:  # centred frames: one more, each shifted by half a hop
            other = other[..., : ref.shape[-1]]
        assert (other - ref).abs().max().item() > 0.1, wrong


def test_vocos_front_end_is_the_published_feature_extractor() -> None:
    import torchaudio

    y = clip(24000, index=1, pause=8192)
    s = settings(24000, 1024, 256, 100, None)
    ref = vocos_reference_mel(y, 24000, 1024, 256, 100)
    ours = LogMel.from_settings(s, "vocos")(y)
    assert ours.shape == ref.shape == (1, 100, y.shape[-1] // 256 + 1)
    assert (ours - ref).abs().max().item() < 1e-4
    # bit for bit what the reference module computes: torchaudio's MelSpectrogram(power=1), safe_log
    module = torchaudio.transforms.MelSpectrogram(sample_rate=24000, n_fft=1024, hop_length=256, n_mels=100,
                                                  center=True, power=1)
    assert torch.equal(ours, torch.log(torch.clip(module(y), min=1e-7)))
    same = LogMel.from_settings(s, vary(VOCOS, padding="same"))(y)
    assert (same - vocos_reference_mel(y, 24000, 1024, 256, 100, padding="same")).abs().max().item() < 1e-4
    for wrong in (vary(VOCOS, norm="slaney"), vary(VOCOS, filterbank="slaney"), vary(VOCOS, log_floor=1e-5),
                  vary(VOCOS, magnitude_eps=1e-3), vary(VOCOS, padding="same")):
        other = LogMel.from_settings(s, wrong)(y)
        n = min(other.shape[-1], ref.shape[-1])
        assert (other[..., :n] - ref[..., :n]).abs().max().item() > 0.05, wrong


def test_default_front_end_is_bit_identical_to_the_hifigan_path() -> None:
    y = clip(22050, index=2)
    before = LogMel(22050, 1024, 256, 80, 0.0, 8000.0, 1024, style="hifigan", persistent=False)
    assert torch.equal(LogMel.from_settings(DEFAULT_MEL)(y), before(y))
    assert torch.equal(LogMel.from_settings(DEFAULT_MEL, HIFIGAN.to_dict())(y), before(y))
    assert resolve_front_end(None) == resolve_front_end("bigvgan") == MelFrontEnd()


# --------------------------------------------------------------------------- the description


@pytest.mark.parametrize("data, key", [
    ({"padding": "valid"}, "padding"), ({"log_floor": -1e-5}, "log_floor"), ({"log_floor": 0}, "log_floor"),
    ({"log_floor": float("nan")}, "log_floor"), ({"filterbank": "mel"}, "filterbank"), ({"norm": "area"}, "norm"),
    ({"magnitude_eps": -1.0}, "magnitude_eps"), ({"pad_mode": "zeros", "padding": "center"}, "pad_mode"),
    ({"pad_mode": "constant"}, "pad_mode"), ({"center": True}, "center"), ({"log_floor": "1e-5"}, "log_floor"),
    ({"norm": True}, "norm"),
])
def test_bad_descriptions_are_one_error_naming_the_key(data, key) -> None:
    with pytest.raises(MelFrontEndError, match=key) as info:
        MelFrontEnd.from_dict(data)
    assert "\n" not in str(info.value)
    with pytest.raises(MelFrontEndError, match="unknown preset 'wavenet'"):
        resolve_front_end("wavenet")
    with pytest.raises(MelFrontEndError, match="expected a mapping"):
        MelFrontEnd.from_dict([1, 2])


def test_description_round_trips_and_names_itself() -> None:
    for fe in FRONT_END_PRESETS.values():
        assert MelFrontEnd.from_dict(json.loads(json.dumps(fe.to_dict()))) == fe
    assert VOCOS.name == "Vocos" and HIFIGAN.name == "HiFi-GAN/BigVGAN" and vary(VOCOS, log_floor=1e-6).name == "custom"
    assert "log floor 1e-07" in VOCOS.describe() and "centred" in VOCOS.describe()
    assert VOCOS.frames(25600, 256) == 101 and HIFIGAN.frames(25600, 256) == 100


# --------------------------------------------------------------------------- exports


def test_exports_store_the_front_end_and_older_exports_keep_hifigans(tmp_path: Path) -> None:
    s = settings(24000, 1024, 256, 100, None)
    voc = Vocoder(generator=TINY_VOCOS, mel=s, generator_class="vocos", front_end="vocos")
    export_generator(voc, tmp_path / "vocos", {"step": 0})
    loaded = multigan.load(tmp_path / "vocos")
    assert loaded.config["front_end"] == VOCOS.to_dict() and loaded.front_end == VOCOS
    y = clip(24000)
    assert torch.equal(loaded.mel(y), LogMel.from_settings(s, "vocos")(y))
    assert loaded.resynthesize(y[0].numpy(), 24000).shape == (y.shape[-1],)
    # an export made before front ends were stored: no "front_end" in its config -> HiFi-GAN's
    export_generator(Vocoder(generator=TINY_VOCOS, generator_class="vocos"), tmp_path / "old", {"step": 0})
    config_file = tmp_path / "old" / "generator.json"
    config = json.loads(config_file.read_text())
    assert config["config"].pop("front_end") == HIFIGAN.to_dict()
    config_file.write_text(json.dumps(config))
    old = multigan.load(tmp_path / "old")
    y22 = clip(22050)
    assert old.front_end == HIFIGAN and torch.equal(old.mel(y22), LogMel.from_settings(DEFAULT_MEL)(y22))
    # a bad stored description: one error naming the file and the key
    config["config"]["front_end"] = {"padding": "valid"}
    config_file.write_text(json.dumps(config))
    with pytest.raises(MultiganError, match=r"generator.json: .*mel front end: padding='valid'"):
        multigan.load(tmp_path / "old")


def test_training_refuses_another_front_end() -> None:
    from multigan.audio.vocoders.training import build_vocoder_trainer

    voc = Vocoder(generator=TINY_VOCOS, generator_class="vocos", front_end="vocos")
    with pytest.raises(MultiganError, match="training computes its mels with the HiFi-GAN/BigVGAN front end"):
        build_vocoder_trainer(voc, None, None, [], Path("unused"), segment=8192)


# --------------------------------------------------------------------------- mels of another front end


def _mels(front_end: MelFrontEnd, indices, gain: float = 1.0) -> list[torch.Tensor]:
    ext = LogMel.from_settings(DEFAULT_MEL, front_end)
    return [ext(clip(22050, i, seconds=4.0)[0] * gain) for i in indices]


def test_another_front_ends_mels_are_named_with_training_statistics() -> None:
    """Band-profile test: loudness-free, so it holds at any level of the input."""
    for own, other in ((HIFIGAN, VOCOS), (VOCOS, HIFIGAN)):
        stats = mel_statistics(_mels(own, range(10)))
        for gain in (1.0, 0.3, 0.05):
            for mel in _mels(other, range(20, 24), gain):
                message = diagnose_front_end(mel, own, DEFAULT_MEL, stats)
                assert message and other.name in message and own.name in message, (own.name, gain)
            for mel in _mels(own, range(20, 24), gain):
                assert diagnose_front_end(mel, own, DEFAULT_MEL, stats) is None, (own.name, gain)


def test_another_front_ends_mels_are_named_without_statistics() -> None:
    """An imported vocoder has no training statistics: the log floor and the ceiling still show."""
    y = clip(22050, 3, seconds=3.0)[0]
    y = torch.cat([y, torch.zeros(8192)])  # a pause of digital silence: each front end's floor
    hifi, vocos = (LogMel.from_settings(DEFAULT_MEL, fe)(y) for fe in (HIFIGAN, VOCOS))
    assert math.isclose(float(vocos.min()), math.log(1e-7), abs_tol=1e-4)
    message = diagnose_front_end(vocos, HIFIGAN, DEFAULT_MEL)  # -16.12 below HiFi-GAN's -11.51
    assert "-16.12" in message and "-11.51" in message and "Vocos" in message and "HiFi-GAN/BigVGAN" in message
    message = diagnose_front_end(hifi, VOCOS, DEFAULT_MEL)  # silence piled up at -11.51
    assert "-11.51" in message and "HiFi-GAN/BigVGAN" in message and "Vocos" in message
    loud = _mels(VOCOS, [4])[0]  # no silence: the unnormalised filterbank exceeds the Slaney ceiling
    assert "above" in diagnose_front_end(loud, HIFIGAN, DEFAULT_MEL)
    for own, mel in ((HIFIGAN, hifi), (VOCOS, vocos)):
        assert diagnose_front_end(mel, own, DEFAULT_MEL) is None


def test_vocoder_warns_once_naming_both_front_ends() -> None:
    voc = Vocoder(generator=TINY_VOCOS, generator_class="vocos", front_end="vocos").eval()
    y = torch.cat([clip(22050, 5, seconds=2.0)[0], torch.zeros(4096)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.no_grad():
            voc(LogMel.from_settings(DEFAULT_MEL)(y)[None])
    messages = [str(w.message) for w in caught if issubclass(w.category, MelInputWarning)]
    assert len(messages) == 1 and "HiFi-GAN/BigVGAN" in messages[0] and "Vocos" in messages[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", MelInputWarning)
        with torch.no_grad():
            voc(voc.mel(y))
