"""ScratchGAN-style training on COCO captions through the recipe (``objective.kind=reinforce``): MLE, a few
REINFORCE steps with a per-token LSTM discriminator, an export that ``multigan eval-text`` scores; a
sequence-level discriminator is refused with one error."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file

import multigan

from test_text_training import _recipe

TINY = ["--preset", "scratchgan-cpu-small", "data.max_sentences=200", "data.val_fraction=0.2", "mle.epochs=1",
        "mle.batch_size=32", "generator.lstm.embed_dim=8", "generator.lstm.hidden_dim=16",
        "discriminator.lstm.embed_dim=8", "discriminator.lstm.hidden_dim=16", "train.batch_size=16",
        "train.val_every=2", "train.ckpt_every=2", "train.progress=false", "eval.samples=30",
        "eval.final_samples=10", "mle.matched_compute=off"]


@pytest.fixture(scope="module")
def scratch_run(data_dir, tmp_path_factory) -> tuple[Path, Path, dict]:
    """Captions (200 of them used), and one tiny run: 1 MLE epoch and 4 REINFORCE steps."""
    src = data_dir / "coco-captions" / "image_coco.txt"
    if not src.is_file():
        pytest.skip(f"{src} is missing")
    captions = tmp_path_factory.mktemp("coco") / "captions.txt"
    shutil.copy(src, captions)
    out = tmp_path_factory.mktemp("runs") / "scratch"
    summary = _recipe().main(["--data", str(captions), "--out", str(out), "--max-steps", "4", *TINY])
    return captions, out, summary


def test_reinforce_trains_from_the_mle_weights(scratch_run):
    _, out, summary = scratch_run
    assert summary["steps"] == 4 and summary["config"]["objective"]["kind"] == "reinforce"
    assert summary["config"]["generator"]["arch"] == "lstm"
    mle, gan = load_file(out / "mle" / "generator.safetensors"), load_file(out / "export" / "generator.safetensors")
    assert mle.keys() == gan.keys() and any(not mle[k].equal(gan[k]) for k in mle)  # the GAN steps moved G
    state = multigan.checkpoint.load_checkpoint(out / "checkpoints" / "step-00000004")
    baseline = float(state["discriminator"]["reward_baseline"])
    assert -1.0 < baseline < 1.0 and baseline != 0.0  # the moving-average baseline was updated and saved
    rows = [json.loads(line) for line in (out / "validation.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4]
    assert all(r["inv_temperature"] == 1.0 for r in rows)  # no temperature schedule under REINFORCE
    m = summary["adversarial"]
    assert 0 <= m["bleu4"] <= m["bleu2"] <= 1 and m["nll_gen"] > 0


def test_eval_text_scores_the_scratchgan_export(scratch_run, tmp_path):
    from multigan.cli import main as cli_main

    captions, out, _ = scratch_run
    real = tmp_path / "real.txt"
    real.write_text("\n".join(captions.read_text().splitlines()[:200]) + "\n")
    target = tmp_path / "frontier.json"
    assert cli_main(["eval-text", str(out), "--references", str(out / "references.txt"), "--real", str(real),
                     "--temperatures", "0.8,1.0", "-n", "30", "--out", str(target)]) == 0
    report = json.loads(target.read_text())
    assert [c["label"] for c in report["curves"]][:2] == ["GAN", "MLE"]
    gan = report["curves"][0]["points"]
    assert [p["temperature"] for p in gan] == [0.8, 1.0]
    assert all(0 <= p["bleu2"] <= 1 and p["nll_gen"] > 0 for p in gan)


def test_reinforce_needs_a_per_token_discriminator(scratch_run, tmp_path, capsys):
    captions, _, _ = scratch_run
    with pytest.raises(SystemExit) as exc:
        _recipe().main(["--data", str(captions), "--out", str(tmp_path / "bad"), *TINY, "discriminator.arch=cnn"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: objective.kind=reinforce needs a per-token discriminator: discriminator.arch must be "
                   "one of lstm, got cnn"]
    assert not (tmp_path / "bad" / "mle").exists()  # refused before any training
