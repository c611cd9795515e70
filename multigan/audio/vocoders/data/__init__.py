"""Vocoder training data: clips and random crops with their mels, lazy reads, the corpus and its split, and
ground-truth-aligned mels.

* :mod:`.clips` -- :class:`~.clips.SegmentDataset` (random crops of decoded clips), validation clips;
* :mod:`.lazy` -- :class:`~.lazy.ClipReader` and :class:`~.lazy.LazySegmentDataset` (only the crop is decoded);
* :mod:`.corpus` -- :class:`~.corpus.VocoderCorpus` (the indexed clips, the split, the training crops);
* :mod:`.aligned` -- crops of the audio with an acoustic model's own mels (GTA fine-tuning).

This package's ``__init__`` imports nothing: import the module you need.
"""
