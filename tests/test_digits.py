"""Tests of multigan.metrics (IS/FID/nearest-neighbour) and multigan.audio.spoken_digits: the digit classifier,
its cache, ``eval_digits`` and the ``eval-digits`` sub-command (tiny classifiers on copies of real FSDD clips)."""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from multigan import cli
from multigan.audio.io import load_audio
from multigan.audio.spoken_digits import cache, evaluator
from multigan.audio.spoken_digits.classifier import DigitClassifier, DigitClassifierConfig
from multigan.audio.spoken_digits.cli import register
from multigan.audio.spoken_digits.data import load_fsdd, require_split
from multigan.audio.spoken_digits.evaluator import (
    DigitEvaluator,
    DigitReference,
    eval_digits,
    evaluate_samples,
    real_anchors,
)
from multigan.audio.spoken_digits.recipe_support import FSDDData, fsdd_train_set
from multigan.audio.spoken_digits.training import classifier_accuracy, train_classifier
from multigan.config import ConfigError, from_dict
from multigan.errors import MultiganError
from multigan.metrics import (
    fid,
    inception_score,
    label_accuracy,
    nearest_neighbour_distances,
    predicted_class_entropy,
)

FSDD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fsdd" / "recordings"
SPEAKERS = ("george", "jackson", "nicolas", "theo", "yweweler")
TRAIN_TAKES = (5, 12, 20, 33)  # 10 digits x 5 speakers x 4 takes = 200 train clips
TEST_TAKES = (0, 3)  # 100 test clips
# light augmentation so that 10 short epochs learn: about 1 CPU second of training
TINY = DigitClassifierConfig(channels=(8, 16, 32), embed_dim=16, epochs=10, batch_size=20, lr=5e-3,
                             speed=(0.95, 1.05), gain_db=(0.0, 0.0), shift_prob=0.0, noise_prob=0.0, eq_db=0.0,
                             time_stretch=(1.0, 1.0), freq_masks=0, time_masks=0)


# ----------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fsdd_dir(tmp_path_factory) -> Path:
    """300 real FSDD clips (200 train, 100 test takes) copied into a tmp folder."""
    if not FSDD.is_dir():
        pytest.skip(f"FSDD recordings not found at {FSDD}")
    root = tmp_path_factory.mktemp("fsdd")
    for d in range(10):
        for s in SPEAKERS:
            for t in TRAIN_TAKES + TEST_TAKES:
                shutil.copy(FSDD / f"{d}_{s}_{t}.wav", root / f"{d}_{s}_{t}.wav")
    return root


@pytest.fixture(scope="module")
def tiny(fsdd_dir: Path) -> DigitClassifier:
    """A tiny classifier trained on the 200 train clips."""
    return train_classifier(load_fsdd(fsdd_dir, "train"), TINY)


def _copy_tree(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


# ------------------------------------------------------------------------------------------ metrics


def test_inception_score_peaked_is_number_of_classes_and_uniform_is_one():
    peaked = np.eye(10)[np.arange(200) % 10]  # every chunk of 20 holds each class twice
    mean, std = inception_score(peaked, splits=10)
    assert mean == pytest.approx(10.0, abs=1e-9) and std == pytest.approx(0.0, abs=1e-9)
    mean, std = inception_score(np.full((200, 10), 0.1), splits=10)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)
    # all samples predicted as the same class with certainty: no diversity, IS 1
    assert inception_score(np.eye(10)[np.zeros(50, dtype=int)], splits=5)[0] == pytest.approx(1.0)


def test_inception_score_hand_computed_and_chunking():
    # one chunk, two samples: p1 = (1, 0), p2 = (0.5, 0.5); marginal (0.75, 0.25)
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    kl1 = math.log(1 / 0.75)
    kl2 = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert inception_score(p, splits=1)[0] == pytest.approx(math.exp((kl1 + kl2) / 2), rel=1e-12)
    # class-sorted rows: consecutive chunks each hold one class (IS 1) unless shuffled first
    sorted_rows = np.eye(10)[np.repeat(np.arange(10), 100)]
    assert inception_score(sorted_rows, splits=10)[0] == pytest.approx(1.0)
    assert inception_score(sorted_rows, splits=10, shuffle_seed=0)[0] > 9.0
    assert inception_score(torch.tensor(sorted_rows), splits=10)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="splits"):
        inception_score(p, splits=3)


def test_fid_identical_is_zero_and_shift_is_squared_norm():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 6))
    assert fid(a, a) == pytest.approx(0.0, abs=1e-8)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 1.5])
    assert fid(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-8)
    assert fid(torch.tensor(a, dtype=torch.float32), torch.tensor(a + shift, dtype=torch.float32)) == pytest.approx(
        float(shift @ shift), rel=1e-4)


def test_fid_matches_scipy_sqrtm_formula():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(1)
    a = rng.standard_normal((300, 5)) * np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    b = rng.standard_normal((250, 5)) @ rng.standard_normal((5, 5)) + 0.3
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s_a @ s_b).real
    expected = float((mu_a - mu_b) @ (mu_a - mu_b) + np.trace(s_a + s_b - 2 * covmean))
    assert fid(a, b) == pytest.approx(expected, rel=1e-7)


def test_nearest_neighbour_distances_on_hand_made_points():
    samples = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 0.0]])
    train = np.array([[0.0, 1.0], [10.0, 10.0]])
    out = nearest_neighbour_distances(samples, train)
    # nearest other sample: 3 (p0-p2), 4 (p1-p2), 3 (p2-p0)
    assert out["d_self"] == pytest.approx(10.0 / 3.0)
    assert out["d_train"] == pytest.approx((1.0 + math.sqrt(18.0) + math.sqrt(10.0)) / 3.0)
    # a collapsed set: exact duplicates are at distance 0
    assert nearest_neighbour_distances(np.ones((5, 3)))["d_self"] == 0.0
    assert "d_train" not in nearest_neighbour_distances(samples)
    # memorised samples: D_train 0
    assert nearest_neighbour_distances(train, train)["d_train"] == 0.0
    # rows are flattened, chunking does not change the answer
    many = np.random.default_rng(0).standard_normal((1100, 2, 2))
    big = nearest_neighbour_distances(many)["d_self"]
    flat = many.reshape(1100, 4)
    d = np.sqrt(((flat[:, None] - flat[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    assert big == pytest.approx(d.min(1).mean(), rel=1e-10)


def test_label_accuracy():
    probs = np.eye(10)[[1, 2, 3, 4]]
    assert label_accuracy(probs, [1, 2, 0, 4]) == 0.75
    assert label_accuracy(torch.tensor(probs), torch.tensor([1, 2, 3, 4])) == 1.0
    with pytest.raises(ValueError):
        label_accuracy(probs, [1, 2])


def test_predicted_class_entropy():
    assert predicted_class_entropy(np.eye(10)[np.arange(50) % 10]) == pytest.approx(math.log(10))
    assert predicted_class_entropy(torch.eye(4)[[3, 3, 3]]) == 0.0


# --------------------------------------------------------------------------------------- classifier


def test_place_pads_and_cuts_to_the_canvas():
    model = DigitClassifier(TINY)
    short = model.place(torch.ones(2, 1, 100))
    assert short.shape == (2, 8000) and short[:, :100].eq(1).all() and short[:, 100:].eq(0).all()
    long = model.place(torch.arange(9000.0).expand(3, 9000))
    assert long.shape == (3, 8000) and long[0, -1] == 7999
    with pytest.raises(ValueError):
        model.place(torch.ones(8000))


def test_classifier_learns_digits_on_200_clips_and_is_deterministic(fsdd_dir: Path, tiny: DigitClassifier):
    test = load_fsdd(fsdd_dir, "test")
    assert len(test) == 100
    accuracy = classifier_accuracy(tiny, test)
    assert accuracy >= 0.5  # chance is 0.1
    again = train_classifier(load_fsdd(fsdd_dir, "train"), TINY)
    for (name, a), (_, b) in zip(tiny.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name
    analysis = tiny.analyse(test.canvas(8000))
    assert analysis.probs.shape == (100, 10) and analysis.embeddings.shape == (100, 16)
    assert analysis.logmels.shape == (100, 40 * 63)
    assert torch.allclose(analysis.probs.sum(1), torch.ones(100), atol=1e-5)


def test_training_leaves_the_global_rng_alone(fsdd_dir: Path):
    clips = load_fsdd(fsdd_dir, "train").subset(range(0, 200, 10))
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_classifier(clips, DigitClassifierConfig(channels=(4,), embed_dim=4, epochs=1, batch_size=10))
    assert torch.equal(torch.rand(3), expected)


# -------------------------------------------------------------------------------------------- cache


def test_cache_hit_miss_and_retrain_on_data_change(fsdd_dir: Path, tmp_path: Path, monkeypatch):
    data = _copy_tree(fsdd_dir, tmp_path / "data")
    cache_dir = tmp_path / "cache"
    config = DigitClassifierConfig(channels=(4, 8), embed_dim=8, epochs=1, batch_size=50)
    calls = []
    real_train = cache.train_classifier

    def counting_train(*args, **kwargs):
        calls.append(1)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(cache, "train_classifier", counting_train)
    first = cache.load_or_train_classifier(data, cache_dir, config)
    assert len(calls) == 1
    entries = [p for p in cache_dir.iterdir() if p.is_dir()]
    assert len(entries) == 1
    assert sorted(p.name for p in entries[0].iterdir()) == ["classifier.json", "classifier.safetensors"]
    meta = json.loads((entries[0] / "classifier.json").read_text())["meta"]
    assert meta["train_clips"] == 200 and 0.0 <= meta["test_accuracy"] <= 1.0

    second = cache.load_or_train_classifier(data, cache_dir, config)  # hit: same weights, no training
    assert len(calls) == 1
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name
    assert not second.training

    (data / "9_theo_33.wav").unlink()  # the dataset changed: miss
    cache.load_or_train_classifier(data, cache_dir, config)
    assert len(calls) == 2
    shutil.copy(fsdd_dir / "9_theo_33.wav", data / "9_theo_33.wav")  # same content again: hit
    cache.load_or_train_classifier(data, cache_dir, config)
    assert len(calls) == 2
    new_config = DigitClassifierConfig(channels=(4, 8), embed_dim=8, epochs=1, batch_size=50, seed=1)
    cache.load_or_train_classifier(data, cache_dir, new_config)  # new config: miss
    assert len(calls) == 3


def test_corrupt_cache_entry_is_retrained(fsdd_dir: Path, tmp_path: Path):
    config = DigitClassifierConfig(channels=(4,), embed_dim=4, epochs=1, batch_size=100)
    cache.load_or_train_classifier(fsdd_dir, tmp_path, config)
    entry = next(p for p in tmp_path.iterdir() if p.is_dir())
    (entry / "classifier.safetensors").write_bytes(b"not a safetensors file")
    model = cache.load_or_train_classifier(fsdd_dir, tmp_path, config)
    assert isinstance(model, DigitClassifier)
    assert len((entry / "classifier.safetensors").read_bytes()) > 100


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("MULTIGAN_CACHE", str(tmp_path))
    assert cache.default_cache_dir() == tmp_path / "digits"
    monkeypatch.delenv("MULTIGAN_CACHE")
    assert cache.default_cache_dir() == Path.home() / ".cache" / "multigan" / "digits"


# ---------------------------------------------------------------------------------------- evaluation


def _write_samples(fsdd_dir: Path, dest: Path, names: dict[str, str]) -> Path:
    """Copy real clips (values of ``names``) to ``dest`` under new names (keys)."""
    dest.mkdir(parents=True, exist_ok=True)
    for new, old in names.items():
        shutil.copy(fsdd_dir / old, dest / new)
    return dest


def _sample_names(n_per_digit: int = 3) -> dict[str, str]:
    """``{digit}_{i}.wav`` -> a real test clip of that digit."""
    out, i = {}, 0
    for d in range(10):
        for k in range(n_per_digit):
            out[f"{d}_{i}.wav"] = f"{d}_{SPEAKERS[k % 5]}_{TEST_TAKES[k % 2]}.wav"
            i += 1
    return out


def test_evaluate_samples_keys_and_real_vs_noise(fsdd_dir: Path, tiny: DigitClassifier):
    train = load_fsdd(fsdd_dir, "train").canvas(8000)
    reference = DigitReference.from_wavs(tiny, train)
    test = load_fsdd(fsdd_dir, "test")
    real = evaluate_samples(tiny, test.canvas(8000), test.labels, reference=reference)
    assert {"n_samples", "inception_score", "inception_score_std", "fid", "d_self", "d_train",
            "label_accuracy"} <= set(real)
    assert real["n_samples"] == 100
    assert real["label_accuracy"] == pytest.approx(classifier_accuracy(tiny, test))
    noise = evaluate_samples(tiny, 0.1 * torch.randn(100, 8000, generator=torch.Generator().manual_seed(0)),
                             reference=reference)
    assert "label_accuracy" not in noise
    assert real["inception_score"] > noise["inception_score"]
    assert real["fid"] < noise["fid"]
    copies = evaluate_samples(tiny, train[:50], reference=reference)  # memorised: at distance 0 from train
    assert copies["d_train"] == pytest.approx(0.0, abs=1e-3) and real["d_train"] > 10.0
    collapsed = evaluate_samples(tiny, train[:1].expand(20, -1), reference=reference)
    assert collapsed["d_self"] == pytest.approx(0.0, abs=1e-3) and real["d_self"] > 10.0
    assert collapsed["inception_score"] == pytest.approx(1.0)


def test_eval_digits_label_accuracy_with_a_stub_classifier(fsdd_dir: Path, tmp_path: Path):
    class AlwaysThree(DigitClassifier):
        def classify_features(self, feats):
            logits, emb = super().classify_features(feats)
            return torch.nn.functional.one_hot(torch.full((feats.shape[0],), 3), 10).float() * 20.0, emb

    stub = AlwaysThree(TINY).eval()
    samples = _write_samples(fsdd_dir, tmp_path / "samples", _sample_names())
    ev = DigitEvaluator(fsdd_dir, cache_dir=tmp_path / "cache", classifier=stub)
    result = eval_digits(fsdd_dir, samples, evaluator=ev)
    assert result["labelled"] is True and result["n_samples"] == 30
    assert result["label_accuracy"] == pytest.approx(0.1)  # only the three "3_*" files are right
    assert result["inception_score"] == pytest.approx(1.0)


def test_eval_digits_with_a_trained_classifier_and_anchors(fsdd_dir: Path, tiny: DigitClassifier, tmp_path: Path):
    names = _sample_names()
    samples = _write_samples(fsdd_dir, tmp_path / "samples", names)
    ev = DigitEvaluator(fsdd_dir, cache_dir=tmp_path / "cache", classifier=tiny)
    result = eval_digits(fsdd_dir, samples, evaluator=ev)
    wavs = torch.stack([tiny.place(load_audio(fsdd_dir / old, 8000)[None])[0] for old in names.values()])
    expected = (tiny.predict(wavs) == torch.tensor([int(n[0]) for n in names])).double().mean().item()
    assert result["label_accuracy"] == pytest.approx(expected)
    anchors = result["anchors"]
    assert anchors["n"] == 30
    for key in ("real_train_is", "real_test_is", "noise_is", "real_test_fid", "noise_fid", "real_test_d_self"):
        assert math.isfinite(anchors[key]), key
    assert anchors["real_train_is"] > anchors["noise_is"]
    cached = list((tmp_path / "cache" / "anchors").glob("*_n30_*.json"))
    assert len(cached) == 1
    assert real_anchors(tiny, fsdd_dir, 30, cache_dir=tmp_path / "cache") == anchors  # read back from the cache

    # unlabelled names and other sample rates: no label accuracy, files resampled to 8 kHz
    plain = tmp_path / "plain"
    plain.mkdir()
    for i, old in enumerate(list(names.values())[:4]):
        wav = load_audio(fsdd_dir / old, 16000).numpy()
        sf.write(plain / f"clip{i}.wav", wav, 16000, subtype="PCM_16")
    result = eval_digits(fsdd_dir, plain, evaluator=ev)
    assert result["labelled"] is False and "label_accuracy" not in result and result["n_samples"] == 4


def test_eval_digits_cli_subcommand(fsdd_dir: Path, tiny: DigitClassifier, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr(evaluator, "load_or_train_classifier", lambda *args, **kwargs: tiny)
    samples = _write_samples(fsdd_dir, tmp_path / "samples", _sample_names(2))
    parser = argparse.ArgumentParser(prog="multigan")
    register(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "out" / "metrics.json"
    args = parser.parse_args(["eval-digits", "--data", str(fsdd_dir), "--samples", str(samples),
                              "--cache", str(tmp_path / "cache"), "--out", str(out)])
    args.func(args)
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert printed["n_samples"] == 20 and 0.0 <= printed["label_accuracy"] <= 1.0
    assert printed["anchors"]["n"] == 20

    assert cli.main(["eval-digits", "--data", str(fsdd_dir), "--samples", str(tmp_path / "missing")]) == 2
    assert "error:" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------- recipe support


def test_fsdd_data_needs_a_folder_and_the_train_set_is_the_train_split(fsdd_dir: Path):
    with pytest.raises(ConfigError, match="--data"):
        from_dict(FSDDData, {"path": ""})
    conditional = fsdd_train_set(FSDDData(path=str(fsdd_dir)), canvas=8192)
    assert len(conditional) == 200 and conditional.num_classes == 10 and conditional[0]["real"].shape == (1, 8192)
    unconditional = fsdd_train_set(FSDDData(path=str(fsdd_dir), conditional=False), canvas=8192)
    assert len(unconditional) == 200 and unconditional.num_classes == 0
    lazy = fsdd_train_set(FSDDData(path=str(fsdd_dir), in_memory=False), canvas=8192)  # items read on demand
    assert lazy._wavs == [] and len(lazy) == 200
    for i in (0, 57, 199):
        assert torch.equal(lazy[i]["real"], conditional[i]["real"]) and torch.equal(lazy[i]["cond"],
                                                                                   conditional[i]["cond"])


def test_a_missing_test_split_is_refused_before_any_training(fsdd_dir: Path, tmp_path: Path, capsys) -> None:
    assert require_split(fsdd_dir, "test", "x") == 100 and require_split(fsdd_dir, "train", "x") == 200
    train_only = tmp_path / "train_only"
    train_only.mkdir()
    for path in sorted(fsdd_dir.glob("*_[5-9].wav"))[:20]:
        shutil.copy(path, train_only / path.name)
    with pytest.raises(MultiganError, match="holds no test-split clip .* takes 0-4"):
        require_split(train_only, "test", "the anchors need")
    from helpers.recipes import load_recipe
    recipe = load_recipe("fsdd_wavegan")
    with pytest.raises(SystemExit) as exc:  # refused at once: no classifier trained, no step taken
        recipe.main(["--data", str(train_only), "--out", str(tmp_path / "run"), "--max-steps", "2"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "eval.enabled=false" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_the_evaluator_never_touches_the_training_random_stream(fsdd_dir: Path, tmp_path: Path) -> None:
    """A recipe draws the same noise whether the classifier cache was cold (trained now) or warm (loaded):
    loading used to draw the classifier's initial weights from the global stream (different GAN weights at
    step 10 of the same command, depending on the cache)."""
    import multigan

    for cache_state in ("cold", "warm", "warm again"):
        torch.manual_seed(7)
        expected = torch.rand(3)
        torch.manual_seed(7)
        ev = DigitEvaluator(fsdd_dir, cache_dir=tmp_path / "cache", config=TINY)
        ev.evaluate(torch.zeros(4, 8000), [0, 1, 2, 3])
        assert torch.equal(torch.rand(3), expected), cache_state
    from multigan.checkpoint import export_generator
    from multigan.toy import RingGenerator
    export_generator(RingGenerator(4, 8, 1), tmp_path / "export", {"step": 1})
    torch.manual_seed(7)
    multigan.load(tmp_path / "export")
    assert torch.equal(torch.rand(3), expected)  # loading a model draws nothing either
