"""Spoken digits (the Free Spoken Digit Dataset, FSDD): data, the digit-classifier evaluator and recipe support.

* :mod:`.data`: FSDD file names, the official split (takes 0-4 test, 5-49 train) and decoded clips.
* :mod:`.classifier`, :mod:`.training`: the CNN digit classifier on log-mels and how it is trained.
* :mod:`.cache`: trained classifiers and anchors cached on disk (train once, then load).
* :mod:`.evaluator`: IS, FID, D_self/D_train and label accuracy of generated digits, with real-data anchors.
* :mod:`.cli`: the ``multigan eval-digits`` sub-command.
* :mod:`.recipe_support`: what the SpecGAN and WaveGAN recipes share (imports the trainer; not loaded here).
"""
from .cache import load_or_train_classifier
from .classifier import DigitClassifier, DigitClassifierConfig
from .data import FSDD_PATTERN, FsddClips, fsdd_split, load_fsdd
from .evaluator import DigitEvaluator, eval_digits, evaluate_samples, real_anchors
from .training import classifier_accuracy, train_classifier

__all__ = [
    "FSDD_PATTERN",
    "DigitClassifier",
    "DigitClassifierConfig",
    "DigitEvaluator",
    "FsddClips",
    "classifier_accuracy",
    "eval_digits",
    "evaluate_samples",
    "fsdd_split",
    "load_fsdd",
    "load_or_train_classifier",
    "real_anchors",
    "train_classifier",
]
