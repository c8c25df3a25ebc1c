"""When a streaming reply may draw its next frame: steadily, and never so often that drawing eats the machine.

Every frame of a growing reply re-lays out and repaints the chat (Textual repaints whole regions, not characters),
so a frame costs the same whether it adds one token or fifty. The pacer draws at ``fastest`` while the process
stays under its CPU ``budget`` and backs off towards ``slowest`` when frames cost more (a slow or busy machine, a
very wide terminal), coming back as soon as they get cheaper.
"""

from __future__ import annotations

import time
from collections.abc import Callable

FASTEST = 1 / 12
SLOWEST = 1 / 2
BUDGET = 0.10
"""The share of one core a live reply may keep busy (drawing plus receiving) before frames are spaced out."""

_STEP = 1.3


class FramePacer:
    """Call :meth:`due` on every tick; call :meth:`drew` after each frame that changed the screen."""

    __slots__ = ("_cpu", "_interval", "_last", "_next", "_wall", "budget", "fastest", "slowest")

    def __init__(self, fastest: float = FASTEST, slowest: float = SLOWEST, budget: float = BUDGET,
                 *, wall: Callable[[], float] = time.perf_counter,
                 cpu: Callable[[], float] = time.process_time) -> None:
        self.fastest = fastest
        self.slowest = max(slowest, fastest)
        self.budget = budget
        self._wall = wall
        self._cpu = cpu
        self._interval = fastest
        self._last: tuple[float, float] | None = None
        self._next = 0.0

    @property
    def interval(self) -> float:
        """Seconds until the next frame may be drawn, as things stand."""
        return self._interval

    def due(self) -> bool:
        # A quarter of the fastest interval early is close enough: ticks arrive with jitter, and a frame that just
        # misses its moment would otherwise wait a whole extra tick.
        return self._wall() >= self._next - self.fastest / 4

    def drew(self) -> None:
        wall, cpu = self._wall(), self._cpu()
        if self._last is not None:
            span = wall - self._last[0]
            share = (cpu - self._last[1]) / span if span > 0 else 0.0
            if share > self.budget:
                self._interval = min(self.slowest, self._interval * _STEP)
            elif share < self.budget * 0.6:
                self._interval = max(self.fastest, self._interval / _STEP)
        self._last = (wall, cpu)
        self._next = wall + self._interval
