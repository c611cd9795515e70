"""benchmarks/gpu_check.py keeps working: on the CPU with --tiny it fills every row of its table."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
PRECISIONS = ("fp32", "bf16", "fp16")


def load_script():
    """The benchmark script as a module."""
    spec = importlib.util.spec_from_file_location("gpu_check_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_tiny_cpu_run_fills_the_table(tmp_path):
    check = load_script()
    out = tmp_path / "gpu_check.json"
    returned = check.main(["--device", "cpu", "--tiny", "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["rows"] == returned["rows"]
    assert result["device"] == "cpu" and result["tiny"] and result["torch"] == torch.__version__
    assert "--tiny" in result["command"]
    rows = {(r["model"], r["precision"]): r for r in result["rows"]}
    assert set(rows) == {(m, p) for m in check.MODELS for p in PRECISIONS}
    assert len(check.MODELS) == 10  # with BigVGAN-v2 22k, 24k, 44k
    for model in check.MODELS:
        for precision in ("fp32", "bf16"):
            row = rows[(model, precision)]
            assert row["status"] == "ok", (model, precision, row["message"])
            assert row["finite"] is True and row["timed_steps"] == 2
            assert row["steps_per_s"] > 0 and row["samples_per_s"] > 0
            assert row["peak_mem_mib"] is None  # CPU
        fp16 = rows[(model, "fp16")]
        if fp16["status"] == "ok":
            assert fp16["finite"] is True and fp16["steps_per_s"] > 0, (model, fp16)
        else:  # a core that refuses fp16 on the CPU
            assert fp16["status"] == "skipped" and "fp16" in fp16["message"], (model, fp16)
        ratios = result["ratios"][model]
        fp32_rate = rows[(model, "fp32")]["steps_per_s"]
        assert ratios["bf16/fp32"] == pytest.approx(rows[(model, "bf16")]["steps_per_s"] / fp32_rate, rel=1e-2)
        if fp16["status"] == "ok":
            assert ratios["fp16/fp32"] == pytest.approx(fp16["steps_per_s"] / fp32_rate, rel=1e-2)
        else:
            assert ratios["fp16/fp32"] is None


def test_a_failing_model_becomes_an_error_row(tmp_path, monkeypatch):
    check = load_script()

    def broken(*args, **kwargs):
        raise RuntimeError("no such kernel")

    monkeypatch.setattr(check.MODELS["toy"], "build", broken)
    result = check.main(["--device", "cpu", "--tiny", "--models", "toy,specgan", "--precisions", "fp32",
                         "--out", str(tmp_path / "out.json")])
    toy, specgan = result["rows"]
    assert toy["status"] == "error" and "RuntimeError: no such kernel" in toy["message"]
    assert specgan["status"] == "ok" and specgan["finite"] is True
    assert result["ratios"]["toy"] == {"bf16/fp32": None, "fp16/fp32": None}


def test_runs_without_soundfile_soxr_librosa_pesq(tmp_path):
    """The GPU machine may lack the audio I/O packages: the audio models still build and train."""
    out = tmp_path / "out.json"
    argv = ["gpu_check.py", "--device", "cpu", "--tiny", "--threads", "1", "--models", "wavegan,hifigan_v1",
            "--precisions", "fp32", "--out", str(out)]
    code = ("import runpy, sys\n"
            "for name in ('soundfile', 'soxr', 'librosa', 'pesq'):\n"
            "    sys.modules[name] = None  # makes their import fail\n"
            f"sys.argv = {argv!r}\n"
            f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [(r["model"], r["status"]) for r in result["rows"]] == [("wavegan", "ok"), ("hifigan_v1", "ok")]


def test_cuda_requested_without_cuda_is_a_clear_error(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    check = load_script()
    with pytest.raises(SystemExit) as exc:
        check.main(["--device", "cuda", "--out", str(tmp_path / "out.json")])
    assert exc.value.code == 2
    assert "no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()
