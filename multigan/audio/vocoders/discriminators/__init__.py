"""Vocoder discriminators by name, each with its config section, and a combinator that weights them.

* :mod:`.mpd` -- HiFi-GAN's multi-period discriminator (``"mpd"``);
* :mod:`.msd` -- HiFi-GAN's multi-scale discriminator (``"msd"``);
* :mod:`.mrd` -- UnivNet's multi-resolution STFT discriminator, as Vocos trains it (``"mrd"``);
* :mod:`.combined` -- several discriminators as one, each part weighted;
* :mod:`.registry` -- the names, the recipe's ``discriminator`` section and :func:`~.registry.build_discriminators`.

Every discriminator follows the core convention: ``forward(x, cond=None)`` with ``x`` of shape ``[B, 1, T]``
(or ``[B, T]``) returns one list of feature maps per sub-discriminator whose last item is the flattened logits
(``[B, N]``); the item before the logits is the unflattened output conv (the same values): the reference
feature-matching loss sums over every conv output including that one, and the core's feature matching uses all
items but the last, so the loss is the published one. ``cond`` is accepted and ignored (they are unconditional).

This package's ``__init__`` imports nothing: import the module you need.
"""
