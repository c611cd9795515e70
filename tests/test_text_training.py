"""Real MLE and adversarial steps on 200 COCO captions through the recipe; multigan.load -> generate;
write_samples; the frontier the recipe writes and the CLI's eval-text; the matched-compute MLE; resume skips
the finished MLE stage."""
from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import multigan
from multigan.errors import MultiganError
from multigan.text.mle import is_done, pretrain_mle
from multigan.text.relgan import RelGANGenerator
from multigan.text.tokenizer import WordTokenizer

ROOT = Path(__file__).resolve().parents[1]
TINY = ["data.max_sentences=200", "data.val_fraction=0.2", "mle.epochs=2", "mle.batch_size=32",
        "generator.relgan.head_size=16", "generator.relgan.embed_dim=16", "discriminator.cnn.embed_dim=16",
        "discriminator.cnn.num_rep=8", "discriminator.cnn.num_filters=[8,8,8,8]", "train.batch_size=16", "train.n_critic=2", "train.val_every=2",
        "train.ckpt_every=2", "train.progress=false", "train.cpu_threads=1", "eval.samples=40",
        "eval.final_samples=20", "temperature.maximum=10", "train.ema_decay=0.999", "eval.frontier_samples=30",
        "eval.frontier_temperatures=[0.7,1.0]"]


def _recipe():
    if "coco_relgan_recipe" in sys.modules:
        return sys.modules["coco_relgan_recipe"]
    spec = importlib.util.spec_from_file_location("coco_relgan_recipe", ROOT / "recipes" / "coco_relgan.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def captions(data_dir, tmp_path_factory) -> Path:
    src = data_dir / "coco-captions" / "image_coco.txt"
    if not src.is_file():
        pytest.skip(f"{src} is missing")
    dst = tmp_path_factory.mktemp("coco") / "captions.txt"
    shutil.copy(src, dst)
    return dst


@pytest.fixture(scope="module")
def run_dir(captions, tmp_path_factory) -> tuple[Path, dict]:
    """One tiny recipe run: 2 MLE epochs and 4 adversarial steps on 160 training captions."""
    out = tmp_path_factory.mktemp("runs") / "coco"
    summary = _recipe().main(["--data", str(captions), "--out", str(out), "--max-steps", "4", *TINY])
    return out, summary


def test_recipe_runs_mle_then_adversarial_steps(run_dir):
    out, summary = run_dir
    assert is_done(out / "mle") and (out / "tokenizer.json").is_file()
    history = json.loads((out / "mle" / "done.json").read_text())["history"]
    assert len(history) == 2 and history[1]["train_nll"] < history[0]["train_nll"]
    assert summary["steps"] == 4
    for stage in ("mle", "adversarial"):
        m = summary[stage]
        assert 0 <= m["bleu2"] <= 1 and 0 <= m["self_bleu2"] <= 1 and m["nll_gen"] > 0
        assert m["bleu2"] >= m["bleu3"] >= m["bleu4"] >= m["bleu5"]
    rows = [json.loads(line) for line in (out / "validation.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4]
    # train.ema_decay=0.999: the EMA generator (validated, exported) copies the -inf logit mask, never NaN
    assert all(0 < r["nll_gen"] < 50 and r["nll_gen"] < r["nll_gen_sentence"] < 500 for r in rows), rows
    assert rows[1]["inv_temperature"] > rows[0]["inv_temperature"] > 1.0  # the schedule advances
    state = multigan.checkpoint.load_checkpoint(out / "checkpoints" / "step-00000004")
    assert float(state["generator"]["inv_temperature"]) == pytest.approx(10.0)  # saved: resumable
    assert len((out / "samples.txt").read_text().splitlines()) == 20


def test_load_generate_and_write_samples(run_dir, tmp_path):
    out, _ = run_dir
    tg = multigan.load(out)
    assert isinstance(tg, RelGANGenerator) and not tg.training and tg.tokenizer is not None
    assert all(torch.isfinite(p).all() for p in tg.parameters())
    texts = tg.generate(5, seed=0, temperature=1.0)
    assert len(texts) == 5 and all(t.split() for t in texts) and all(isinstance(t, str) for t in texts)
    assert texts == tg.generate(5, seed=0) and texts != tg.generate(5, seed=1)
    vocab = set(tg.tokenizer.backend.get_vocab())
    assert all(w in vocab for t in texts for w in t.split())
    path = tg.write_samples(7, tmp_path / "s.txt", seed=0)
    assert path.read_text().splitlines() == tg.generate(7, seed=0)


def test_recipe_writes_the_frontier(run_dir):
    out, summary = run_dir
    report = json.loads((out / "frontier.json").read_text())
    assert (out / "frontier.png").stat().st_size > 1000
    assert list((out / "logs" / "frontier").iterdir())  # TensorBoard
    curves = {c["label"]: c for c in report["curves"]}
    assert set(curves) == {"GAN", "MLE", "MLE, matched compute"}
    assert curves["GAN"]["export_step"] == summary["export_step"]
    keys = {"bleu2", "bleu5", "self_bleu2", "self_bleu5", "self_bleu_fixed2", "self_bleu_fixed5", "nll_gen",
            "nll_gen_sentence", "nll_self", "distinct1", "distinct4", "mean_length", "distinct_sentences"}
    for c in curves.values():
        assert [p["temperature"] for p in c["points"]] == [0.7, 1.0]
        for p in c["points"]:
            assert keys <= set(p), keys - set(p)
            assert 0 <= p["bleu5"] <= p["bleu2"] <= 1 and 0 < p["nll_gen"] < p["nll_gen_sentence"]
        cold, warm = c["points"]
        assert cold["self_bleu2"] > warm["self_bleu2"] and cold["nll_self"] < warm["nll_self"]  # T trades diversity
    real = report["real"]
    assert real["samples"] == 30 and "nll_gen" not in real and 0 < real["bleu2"] <= 1
    references = (out / "references.txt").read_text().splitlines()
    assert report["num_references"] == len(references) == 40 and real["pool"] == 160  # 200 lines - 40 references
    assert set(report["gaps"]) == {"GAN vs MLE", "GAN vs MLE, matched compute"}
    assert set(summary["frontier"]["gan_above_mle"]) == set(report["gaps"])
    matched = summary["compute"]["mle_matched"]
    assert matched["clock"] == "cpu" and matched["epochs"] >= 1 and matched["lr"] == 1e-4  # the cpu preset's g_lr


def test_cli_generate_and_eval_text(run_dir, captions, tmp_path):
    from multigan.cli import main as cli_main
    from multigan.text.cli import register

    out, _ = run_dir
    target = tmp_path / "samples.txt"
    assert cli_main(["generate", str(out), "-n", "12", "--seed", "3", "--out", str(target)]) == 0
    assert target.read_text().splitlines() == multigan.load(out).generate(12, seed=3)
    assert cli_main(["generate", str(out), "-n", "12", "--seed", "3", "--top-p", "0.5", "--out", str(target)]) == 0
    assert target.read_text().splitlines() == multigan.load(out).generate(12, seed=3, top_p=0.5)

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    real = tmp_path / "real.txt"  # what the recipe used: data.max_sentences=200
    real.write_text("\n".join(captions.read_text().splitlines()[:200]) + "\n")
    args = parser.parse_args(["eval-text", str(out), "--references", str(out / "references.txt"), "--real",
                              str(real), "--temperatures", "0.7,1.0", "-n", "30", "--out",
                              str(tmp_path / "frontier.json")])
    args.func(args)
    report = json.loads((tmp_path / "frontier.json").read_text())
    assert (tmp_path / "frontier.png").stat().st_size > 1000
    recipe_report = json.loads((out / "frontier.json").read_text())
    # the CLI reproduces what the recipe wrote (same references, real text, samples and seeds)
    assert [c["points"] for c in report["curves"]] == [c["points"] for c in recipe_report["curves"]]
    assert report["real"]["bleu2"] == recipe_report["real"]["bleu2"]


def test_eval_text_top_p_lm_scores_and_training_seeds(run_dir, captions, tmp_path):
    """Two copies of one run as two "seeds": top-p curves for each MLE generator, the LM and reverse-LM scores on
    every point, means with intervals (zero spread: identical runs) and a verdict, one JSON and one PNG."""
    from multigan.cli import main as cli_main

    out, _ = run_dir
    runs = [tmp_path / "s0", tmp_path / "s1"]
    for r in runs:
        shutil.copytree(out, r)
    real = tmp_path / "real.txt"
    real.write_text("\n".join(captions.read_text().splitlines()[:200]) + "\n")
    target = tmp_path / "seeds.json"
    assert cli_main(["eval-text", *map(str, runs), "--references", str(out / "references.txt"), "--real", str(real),
                     "--temperatures", "1.0", "--top-p", "0.5,1.0", "-n", "80", "--lm-scores", "--training-seeds",
                     "--out", str(target)]) == 0
    report = json.loads(target.read_text())
    assert (tmp_path / "seeds.png").stat().st_size > 1000 and report["seeds"] == 2 and len(report["per_run"]) == 2
    labels = [c["label"] for c in report["curves"]]
    assert labels == ["GAN", "MLE", "MLE, matched compute", "MLE, top-p", "MLE, matched compute, top-p"]
    top = report["curves"][3]["points"]
    assert [(p["temperature"], p["top_p"]) for p in top] == [(1.0, 0.5), (1.0, 1.0)]
    assert "nll_gen" not in top[0] and "nll_gen" in top[1]  # no likelihood under the truncated distribution
    # top-p = 1 at T = 1 is the MLE's own T = 1 point, sample for sample
    assert top[1]["bleu4"] == report["curves"][1]["points"][0]["bleu4"]
    assert top[0]["self_bleu4"] > top[1]["self_bleu4"]  # the nucleus trades diversity
    for c in report["curves"]:
        for p in c["points"]:
            assert p["reverse_lm"] > 0 and p["lm_score"] > 0 and p["ci95"]["bleu4"] == 0.0
    assert report["real"]["reverse_lm"] > 0
    assert set(report["verdict"]) == set(report["per_run"][0]["gaps"])
    assert report["lm_scores"]["reverse"] and report["lm_scores"]["lm_train_sentences"] == 160


def test_gpt2_mle_baseline_at_the_runs_compute_joins_the_frontier(run_dir, tmp_path):
    """A GPT-2-config generator trained by MLE on the run's split for its compute becomes one more MLE curve."""
    from multigan.text.architectures import GeneratorConfig, GPT2GeneratorConfig
    from multigan.text.baselines import run_compute, train_baseline
    from multigan.text.frontier import evaluate_frontier, run_contenders

    out, summary = run_dir
    run = tmp_path / "run"
    shutil.copytree(out, run)
    spent = summary["compute"]["mle_cpu_seconds"] + summary["compute"]["adversarial_cpu_seconds"]
    assert run_compute(run) == pytest.approx(spent)
    cfg = GeneratorConfig(arch="gpt2", gpt2=GPT2GeneratorConfig(n_embd=16, n_layer=1, n_head=2))
    info = train_baseline(run, "gpt2", cfg, lr=1e-3, batch_size=32, budget_s=0.5)
    assert info["label"] == "MLE, gpt2 (matched compute)" and info["epochs"] >= 1 and info["budget_cpu_seconds"] == 0.5
    assert info["cpu_seconds"] < 0.5 + 5  # stops after the batch that spends the budget (and one validation)
    assert train_baseline(run, "gpt2", cfg, budget_s=0.5)["epochs"] == info["epochs"]  # done: not retrained
    contenders = run_contenders(run)
    assert [c.label for c in contenders][-1] == info["label"]
    assert type(contenders[-1].generator).__name__ == "GPT2Generator"
    refs = (run / "references.txt").read_text().splitlines()
    report = evaluate_frontier(contenders, refs, [1.0], 20, top_ps=[0.9])
    assert "GAN vs MLE, gpt2 (matched compute)" in report["gaps"]
    assert report["curves"][-1]["label"] == "MLE, gpt2 (matched compute), top-p"
    with pytest.raises(MultiganError, match="baseline name"):
        train_baseline(run, "gpt-2", cfg, budget_s=1)


def test_matched_compute_mle_continues_for_a_time_budget(captions, tmp_path):
    lines = captions.read_text().splitlines()[:120]
    tok = WordTokenizer.train(lines)
    ids = tok.encode_batch(lines)
    torch.manual_seed(0)
    g = RelGANGenerator(vocab_size=tok.vocab_size, seq_len=tok.seq_len, embed_dim=8, head_size=8)
    pretrain_mle(g, ids[:100], ids[100:], tmp_path / "mle", epochs=2, batch_size=25, seed=1)
    g.load_state_dict({k: torch.zeros_like(v) for k, v in g.state_dict().items()})  # start_from must reload
    with pytest.raises(MultiganError, match="epochs or a time budget"):
        pretrain_mle(g, ids[:100], ids[100:], tmp_path / "x", epochs=0, batch_size=25)
    source = json.loads((tmp_path / "mle" / "done.json").read_text())
    start = load_file(str(tmp_path / "mle" / "generator.safetensors"))  # the selected weights: where a GAN starts
    result = pretrain_mle(g, ids[:100], ids[100:], tmp_path / "matched", epochs=0, batch_size=25, lr=1e-3, seed=1,
                          start_from=tmp_path / "mle", max_seconds=0.3, clock="cpu")
    assert result.stop_reason == "time_budget" and result.epochs == len(result.history) >= 1
    assert 0.3 <= result.cpu_seconds < 5
    assert [h["epoch"] for h in result.history] == list(range(1, result.epochs + 1))
    # the starting weights are epoch 0, the score to beat: the kept weights are never worse on validation
    assert result.best_nll == min([source["best_nll"]] + [h["nll_gen"] for h in result.history])
    if result.best_epoch == 0:
        assert all(torch.equal(start[k], v) for k, v in g.state_dict().items())
    assert is_done(tmp_path / "matched") and is_done(tmp_path / "mle")


def test_resume_skips_finished_mle(run_dir, captions):
    out, _ = run_dir
    before = (out / "mle" / "generator.safetensors").stat().st_mtime_ns
    summary = _recipe().main(["--data", str(captions), "--out", str(out), "--max-steps", "6", "--resume", *TINY])
    assert summary["steps"] == 6
    assert (out / "mle" / "generator.safetensors").stat().st_mtime_ns == before


def test_pretrain_mle_resumes_after_an_interrupted_epoch(captions, tmp_path):
    lines = captions.read_text().splitlines()[:120]
    tok = WordTokenizer.train(lines)
    ids = tok.encode_batch(lines)
    kw = dict(vocab_size=tok.vocab_size, seq_len=tok.seq_len, embed_dim=8, head_size=8)

    def fresh():
        torch.manual_seed(0)
        return RelGANGenerator(**kw)

    full = pretrain_mle(fresh(), ids[:100], ids[100:], tmp_path / "full", epochs=2, batch_size=25, seed=1)
    pretrain_mle(fresh(), ids[:100], ids[100:], tmp_path / "part", epochs=1, batch_size=25, seed=1)
    (tmp_path / "part" / "done.json").unlink()  # as if stopped after epoch 1 of 2
    resumed = pretrain_mle(fresh(), ids[:100], ids[100:], tmp_path / "part", epochs=2, batch_size=25, seed=1)
    assert [h["nll_gen"] for h in resumed.history] == pytest.approx([h["nll_gen"] for h in full.history], rel=1e-5)
