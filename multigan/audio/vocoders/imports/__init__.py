"""Published vocoder checkpoints as multigan runs: one module per source format.

* :mod:`.hifigan` -- the reference HiFi-GAN repository's ``g_``/``do_`` files (with :mod:`.reference`, its
  parameter names);
* :mod:`.vocos` -- a Vocos mel checkpoint (``pytorch_model.bin`` + ``config.yaml``);
* :mod:`.common` -- what they share: reading torch files safely, checking the out dir, mapping tensors and
  optimizer states, writing the run, printing the result;
* :mod:`.cli` -- the ``multigan import-checkpoint FAMILY ...`` sub-command.

This package's ``__init__`` imports nothing: import the module you need.
"""
