"""Where trained digit classifiers and real-data anchors are kept, and the train-once-then-load entry point.

Entries live under ``$MULTIGAN_CACHE/digits`` or ``~/.cache/multigan/digits`` (safetensors + JSON, no
pickle), keyed by a hash of the audio files' names and contents and of the classifier's
hyper-parameters, so a changed dataset or config retrains.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Union

import torch

from ...errors import MultiganError
from ...files import write_atomically
from ..dataset import audio_files
from .classifier import DigitClassifier, DigitClassifierConfig
from .data import load_fsdd
from .training import classifier_accuracy, train_classifier

__all__ = ["anchors_file", "cache_entry", "data_fingerprint", "default_cache_dir", "load_classifier",
           "load_or_train_classifier", "save_classifier"]

PathLike = Union[str, os.PathLike]
logger = logging.getLogger("multigan")

#: Bumped whenever training or the cache layout changes, so old caches are not reused.
CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """``$MULTIGAN_CACHE/digits`` if ``MULTIGAN_CACHE`` is set, else ``~/.cache/multigan/digits``."""
    root = os.environ.get("MULTIGAN_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "multigan") / "digits"


def data_fingerprint(data_dir: PathLike) -> str:
    """SHA-256 over the relative names and contents of every audio file under ``data_dir``."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise MultiganError(f"FSDD data folder {data_dir} does not exist or is not a folder")
    digest = hashlib.sha256()
    for path in audio_files(data_dir):
        digest.update(path.relative_to(data_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _classifier_key(fingerprint: str, config: DigitClassifierConfig) -> str:
    payload = json.dumps({"format": CACHE_FORMAT, "data": fingerprint, "config": config.to_dict()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _cache_root(cache_dir: PathLike | None) -> Path:
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()


def cache_entry(data_dir: PathLike, cache_dir: PathLike | None, config: DigitClassifierConfig) -> Path:
    """The folder :func:`load_or_train_classifier` uses for ``data_dir`` and ``config`` under ``cache_dir``."""
    return _cache_root(cache_dir) / _classifier_key(data_fingerprint(data_dir), config)


def _weights_hash(classifier: DigitClassifier) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(classifier.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def anchors_file(classifier: DigitClassifier, data_dir: PathLike, cache_dir: PathLike | None, n: int, splits: int,
                 seed: int) -> Path:
    """The JSON file caching the real-data anchors of ``classifier`` on ``data_dir`` at ``n`` samples."""
    name = f"{_weights_hash(classifier)}_{data_fingerprint(data_dir)[:16]}_n{n}_k{splits}_s{seed}.json"
    return _cache_root(cache_dir) / "anchors" / name


def save_classifier(classifier: DigitClassifier, folder: PathLike, meta: Mapping[str, Any] | None = None) -> Path:
    """Write ``classifier.safetensors`` and ``classifier.json`` (config + ``meta``) into ``folder``."""
    from safetensors.torch import save_file

    folder = Path(folder)
    state = {k: v.detach().cpu().contiguous() for k, v in classifier.state_dict().items()}
    write_atomically(folder / "classifier.safetensors", lambda p: save_file(state, str(p)))
    info = {"format": CACHE_FORMAT, "config": classifier.config.to_dict(), "meta": dict(meta or {})}
    write_atomically(folder / "classifier.json", lambda p: p.write_text(json.dumps(info, indent=2)))
    return folder


def load_classifier(folder: PathLike, device: str | torch.device = "cpu") -> DigitClassifier:
    """Rebuild a classifier written by :func:`save_classifier` (eval mode); the global RNG is left alone."""
    from safetensors.torch import load_file

    folder = Path(folder)
    info = json.loads((folder / "classifier.json").read_text())
    with torch.random.fork_rng(devices=[]):  # the initial weights drawn here are replaced by the file's
        model = DigitClassifier(DigitClassifierConfig.from_dict(info["config"]))
    model.load_state_dict(load_file(str(folder / "classifier.safetensors")))
    model.meta = info.get("meta", {})  # type: ignore[attr-defined]
    return model.to(device).eval()


def load_or_train_classifier(
    data_dir: PathLike,
    cache_dir: PathLike | None = None,
    config: DigitClassifierConfig = DigitClassifierConfig(),
    *,
    device: str | torch.device = "cpu",
    log: Callable[[str], None] | None = None,
) -> DigitClassifier:
    """The classifier for the FSDD folder ``data_dir``: from the cache, or trained on its train split.

    The cache entry ``cache_dir/<key>/`` (default :func:`default_cache_dir`) is keyed by the names and
    contents of the audio files and by ``config``; training takes a few CPU minutes and also records
    the test-split accuracy in ``classifier.json``. An unreadable entry is retrained.
    """
    data_dir = Path(data_dir)
    folder = cache_entry(data_dir, cache_dir, config)
    if (folder / "classifier.json").is_file() and (folder / "classifier.safetensors").is_file():
        try:
            return load_classifier(folder, device)
        except Exception as exc:  # corrupt or foreign files: retrain over them
            logger.warning("digit classifier cache %s is unreadable (%s); retraining", folder, exc)
    logger.info("training the digit classifier on %s (cached in %s)", data_dir, folder)
    started = time.perf_counter()
    train = load_fsdd(data_dir, "train", config.sample_rate)
    model = train_classifier(train, config, log=log)
    seconds = time.perf_counter() - started
    meta: dict[str, Any] = {"data_dir": str(data_dir), "train_clips": len(train), "train_seconds": round(seconds, 1),
                            "torch_threads": torch.get_num_threads()}
    try:
        test = load_fsdd(data_dir, "test", config.sample_rate)
        meta.update(test_clips=len(test), test_accuracy=classifier_accuracy(model, test))
    except MultiganError:  # a folder without a test split still gets a classifier
        pass
    save_classifier(model, folder, meta)
    model.meta = meta  # type: ignore[attr-defined]
    logger.info("digit classifier trained in %.0f s (test accuracy %s)", seconds, meta.get("test_accuracy"))
    return model.to(device).eval()
