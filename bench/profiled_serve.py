"""``fitdata serve`` under cProfile on the main thread's CPU clock: ``python
bench/profiled_serve.py OUT.pstats serve --port N``. Used by ``bench/webhooks.py --profile``.

The CPU clock (``time.thread_time``), not the wall clock: on a machine shared with the
database and the load generator, a wall-clock profile charges a socket send with the time
the kernel gave the woken Postgres backend, which is not this process's work.
"""

from __future__ import annotations

import cProfile
import runpy
import sys
import time


def main() -> None:
    out, arguments = sys.argv[1], sys.argv[2:]
    sys.argv = ["fitdata", *arguments]
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    try:
        runpy.run_module("fitdata_adapters.cli", run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        profile.disable()
        profile.dump_stats(out)


if __name__ == "__main__":
    main()
