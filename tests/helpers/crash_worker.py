"""Worker for test_crash: a recipe (``RECIPE``, default ``toy_ring``), killed with SIGKILL inside its N-th
checkpoint or export write.

``KILL_ON=N`` (environment): the N-th folder written through ``multigan.checkpoint`` (checkpoints and the
export) is fully staged, then the process kills itself before the staging folder is renamed into place --
the worst moment for an atomic write. Without ``KILL_ON`` it is the plain recipe. Arguments go to the recipe.
"""
import os
import runpy
import signal
import sys
from pathlib import Path

import multigan.checkpoint as checkpoint

kill_on = int(os.environ.get("KILL_ON", "0"))
original, calls = checkpoint.write_atomically, [0]


def write_then_maybe_die(final, write, *, folder=False):
    calls[0] += 1
    if calls[0] != kill_on:
        return original(final, write, folder=folder)

    def staged_then_killed(tmp):
        write(tmp)
        os.kill(os.getpid(), signal.SIGKILL)

    return original(final, staged_then_killed, folder=folder)


checkpoint.write_atomically = write_then_maybe_die
recipe = f"{os.environ.get('RECIPE', 'toy_ring')}.py"
sys.argv = [recipe, *sys.argv[1:]]
runpy.run_path(str(Path(__file__).resolve().parents[2] / "recipes" / recipe), run_name="__main__")
