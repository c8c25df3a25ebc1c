"""The frame pacer: steady frames while drawing is cheap, spaced out while it is not."""

from __future__ import annotations

from salon.tui.pacing import FramePacer


class Clocks:
    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0


def _run(pacer: FramePacer, clocks: Clocks, frames: int, cpu_per_second: float) -> None:
    for _ in range(frames):
        step = pacer.interval
        clocks.wall += step
        clocks.cpu += step * cpu_per_second
        assert pacer.due()
        pacer.drew()


def test_cheap_frames_are_drawn_at_the_fastest_rate():
    clocks = Clocks()
    pacer = FramePacer(fastest=0.1, slowest=0.5, budget=0.2, wall=lambda: clocks.wall, cpu=lambda: clocks.cpu)
    _run(pacer, clocks, 20, cpu_per_second=0.05)
    assert pacer.interval == 0.1


def test_costly_frames_are_spaced_out_but_never_beyond_the_slowest():
    clocks = Clocks()
    pacer = FramePacer(fastest=0.1, slowest=0.5, budget=0.2, wall=lambda: clocks.wall, cpu=lambda: clocks.cpu)
    _run(pacer, clocks, 30, cpu_per_second=0.9)
    assert pacer.interval == 0.5


def test_the_rate_comes_back_when_frames_get_cheap_again():
    clocks = Clocks()
    pacer = FramePacer(fastest=0.1, slowest=0.5, budget=0.2, wall=lambda: clocks.wall, cpu=lambda: clocks.cpu)
    _run(pacer, clocks, 30, cpu_per_second=0.9)
    _run(pacer, clocks, 30, cpu_per_second=0.02)
    assert pacer.interval == 0.1


def test_a_frame_is_not_due_before_its_interval():
    clocks = Clocks()
    pacer = FramePacer(fastest=0.1, slowest=0.5, budget=0.2, wall=lambda: clocks.wall, cpu=lambda: clocks.cpu)
    pacer.drew()
    clocks.wall += 0.05
    assert not pacer.due()
    clocks.wall += 0.03  # within a quarter interval of the due time: ticks jitter
    assert pacer.due()
