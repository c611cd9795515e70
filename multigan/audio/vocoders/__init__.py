"""Neural vocoders: mel spectrogram -> waveform, trained with the modality-agnostic trainer.

* :mod:`.vocoder` -- :class:`~multigan.audio.vocoders.vocoder.Vocoder`, a generator family by name bundled with
  the exact mel front end it was trained on (what ``multigan.load`` returns for a vocoder run);
* :mod:`.registry` -- the generator families by name (:mod:`.hifigan`, :mod:`.vocos`, :mod:`.bigvgan`: each one file
  holding the network, its typed config section and its checks);
* :mod:`.discriminators` -- MPD, MSD, MRD, CQT, MBD by name, with one config section each, combined with weights;
* :mod:`.sections` and :mod:`.training` -- the config sections every vocoder recipe shares and the pipeline
  (config in, run out); :mod:`.data` the corpus, crops and ground-truth-aligned mels; :mod:`.metrics` the
  validator and the Griffin-Lim baseline;
* :mod:`.evaluation` -- the field's evaluation protocol (PESQ-wb, MR-STFT, mel L1, periodicity, V/UV F1, predicted
  MOS, intervals), ``multigan eval-vocoder`` and the listening page;
* :mod:`.mel_input` -- mels made elsewhere: reading them and telling when they do not fit;
* :mod:`.imports` -- published checkpoints (HiFi-GAN, Vocos, BigVGAN) as multigan runs; :mod:`.init`
  ``--init-from`` them;
* :mod:`.cli` -- the ``multigan vocode`` sub-command; :mod:`.onnx_export` ``export-onnx``; :mod:`.streaming` exact
  chunked vocoding.

This package's ``__init__`` imports nothing: import the module you need.
"""
