"""The serving processes' garbage collector settings (docs/performance.md, issue 15).

A serving process keeps a large heap for its whole life once it is wired: modules,
protobuf descriptors, FastAPI routes and pydantic models, clients and pools. CPython's
cyclic collector walks all of it on every full collection and much of it on the
middle generation's; on the repayment bench that was about a quarter of the serving
process's CPU, with pauses of over half a second. ``settle()``, called once a process
is wired and before it serves, collects what startup left behind and freezes the rest
(``gc.freeze``: the collector stops scanning those objects; reference counting still
frees them), then raises the youngest generation's threshold so the short-lived
allocations of request handling start collections less often. Cyclic garbage made
while serving is still collected, only in fewer, larger passes.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def settle(gen0_threshold: int) -> None:
    """Freeze the heap built so far and set the youngest generation's threshold.

    ``gen0_threshold`` 0 leaves the collector as CPython sets it (no freeze either).
    """
    if gen0_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
    log.debug("heap settled: %d objects frozen, gen0 threshold %d", gc.get_freeze_count(),
              gen0_threshold)
