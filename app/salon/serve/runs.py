"""Live runs: each driven by its own task, whatever its watchers do, with a replay buffer for late joiners.

A run's events are turned into frames once and appended to its buffer; every watcher reads the buffer from the
start at its own pace and then waits for more. A watcher that disconnects, or is slow, never stops or slows the run;
a watcher that connects late gets everything sent so far, then the rest live.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from salon.agents.definition import Agent
from salon.events import (
    Event,
    MessageCompleted,
    MessageCreated,
    RequiresAction,
    RunCancelled,
    RunCompleted,
    RunCreated,
    RunFailed,
)
from salon.runner.run import Decision, Run
from salon.serve import payloads
from salon.serve.sse import Frame

KEEP_FINISHED = 64        # finished runs kept for GET; older ones are forgotten (404)
KEEP_REPLAY = 8           # finished runs whose events can still be streamed again; older ones answer 410
SHUTDOWN_GRACE = 5.0      # seconds a cancelled run gets to write its partial reply when the server stops


class ServerStopping(Exception):
    def __init__(self) -> None:
        super().__init__("the server is stopping; start the run again once it is back")


class ThreadBusy(Exception):
    def __init__(self, thread_id: str, run_id: str) -> None:
        super().__init__(f"thread {thread_id} already has a run in progress ({run_id}); wait for it to end or "
                         f"cancel it (POST /v1/threads/{thread_id}/runs/{run_id}/cancel)")
        self.run_id = run_id


class LiveRun:
    """One run of an agent on a thread, as the HTTP face sees it."""

    def __init__(self, run: Run, thread_id: str, agent: Agent, on_event: Callable[[Event], None],
                 on_end: Callable[[], None], redact: Callable[[str], str] = str) -> None:
        self.run = run
        self.id = run.id
        self.thread_id = thread_id
        self.agent = agent
        self.status = "queued"
        self.created_at = time.time()
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.last_error: dict[str, str] | None = None
        self.message_ids: list[str] = []
        self.frames: list[Frame] = []
        self._completed: list[MessageCompleted] = []
        self._on_event = on_event
        self._on_end = on_end
        self._redact = redact
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.required_action: dict[str, Any] | None = None
        self._undecided: set[str] = set()
        # Set by the first cancel: the run ends a moment later (it writes its partial reply first), and a second
        # cancel in that moment must not be told it stopped the run too.
        self.cancelling = False

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def replayable(self) -> bool:
        return not (self.ended and not self.frames)

    def release_frames(self) -> None:
        """Drop a finished run's replay buffer (its messages stay in the store)."""
        if self.ended:
            self.frames = []

    def start(self) -> None:
        self._task = asyncio.create_task(self._drive(), name=f"salon-serve-{self.id}")

    def cancel(self) -> bool:
        """Ask the run to stop; ``True`` only for the first asking of a run still going (the rest are told 409)."""
        if self.ended or self.cancelling:
            return False
        self.cancelling = True
        self.run.cancel()
        return True

    def decide(self, decisions: list[tuple[str, Decision]]) -> None:
        """Answer tool calls the run waits on; raises ``KeyError`` naming a call it does not wait on.

        Every call is checked before any is answered, so a request with one bad id changes nothing.
        """
        for call_id, _ in decisions:
            if call_id not in self._undecided:
                raise KeyError(call_id)
        for call_id, decision in decisions:
            self.run.decide(call_id, decision)
            self._undecided.discard(call_id)
        if not self._undecided and self.status == "requires_action":
            self.status, self.required_action = "in_progress", None
            self._publish("thread.run.in_progress", payloads.run(self))

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    def usage(self) -> dict[str, int] | None:
        counts = [c.reply.usage for c in self._completed]
        if not counts or any(u.input_tokens is None or u.output_tokens is None for u in counts):
            return None
        prompt = sum(u.input_tokens or 0 for u in counts)
        completion = sum(u.output_tokens or 0 for u in counts)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    async def follow(self, ping_every: float = 15.0) -> AsyncIterator[list[Frame]]:
        """Every frame from the first, then live ones until the run ends; an empty list after ``ping_every`` of quiet.

        Frames come in batches of all that is there: a watcher that fell behind (or joined late) catches up in
        one write instead of one per event.
        """
        index = 0
        while True:
            if index < len(self.frames):
                batch = self.frames[index:]
                index += len(batch)
                yield batch
                continue
            if self.ended:
                return
            wakeup = self._wakeup
            try:
                await asyncio.wait_for(wakeup.wait(), ping_every)
            except TimeoutError:
                yield []

    # -- driving ----------------------------------------------------------------------------------------------

    async def _drive(self) -> None:
        try:
            async for event in self.run:
                # Saved before it is sent: what a client has seen is in the database.
                self._on_event(event)
                self._publish_event(event)
        except Exception as error:  # a defect, not a provider failure (those arrive as RunFailed): end visibly
            print(f"salon serve: run {self.id} stopped by an internal error: {error!r}", file=sys.stderr)
            self._end("failed", {"code": "internal_error", "message": f"internal error: {error}"})
            self._publish("thread.run.failed", payloads.run(self))
        finally:
            if not self.ended:  # cancelled from outside (server shutdown) before the run could say so
                self._end("cancelled")
                self._publish("thread.run.cancelled", payloads.run(self))
            self._on_end()

    def _publish_event(self, event: Event) -> None:
        match event:
            case RunCreated():
                self._publish(event.name, payloads.run(self))
                self._publish("thread.run.queued", payloads.run(self))
                self.status, self.started_at = "in_progress", time.time()
                self._publish("thread.run.in_progress", payloads.run(self))
            case MessageCreated():
                self.message_ids.append(event.message_id)
                data = payloads.event(event, self.thread_id)
                self._publish(event.name, data)
                self._publish("thread.message.in_progress", data)
            case MessageCompleted():
                self._completed.append(event)
                self._publish(event.name, payloads.event(event, self.thread_id, self._redact))
            case RequiresAction():
                self.status = "requires_action"
                self.required_action = payloads.event(event, self.thread_id)["required_action"]
                self._undecided = {call.id for call in event.calls}
                self._publish(event.name, payloads.run(self))
            case RunCompleted():
                self._end("completed")
                self._publish(event.name, payloads.run(self))
            case RunFailed():
                self._end("failed", {"code": event.error_type, "message": self._redact(event.error)})
                self._publish(event.name, payloads.run(self))
            case RunCancelled():
                self._end("cancelled")
                self._publish(event.name, payloads.run(self))
            case _:
                self._publish(event.name, payloads.event(event, self.thread_id, self._redact))

    def _end(self, status: str, error: dict[str, str] | None = None) -> None:
        self.status, self.last_error, self.ended_at = status, error, time.time()
        self.required_action, self._undecided = None, set()

    def _publish(self, name: str, payload: dict[str, Any]) -> None:
        self.frames.append(Frame(name, payload))
        wakeup, self._wakeup = self._wakeup, asyncio.Event()
        wakeup.set()


class RunRegistry:
    """The runs of this server: at most one in progress per thread, the last finished ones kept for replay."""

    def __init__(self, keep_finished: int = KEEP_FINISHED, keep_replay: int = KEEP_REPLAY) -> None:
        self._runs: OrderedDict[str, LiveRun] = OrderedDict()
        self._active: dict[str, LiveRun] = {}
        self._keep = keep_finished
        self._keep_replay = keep_replay
        self.closing = False

    def active(self, thread_id: str) -> LiveRun | None:
        return self._active.get(thread_id)

    def check_idle(self, thread_id: str) -> None:
        if (live := self._active.get(thread_id)) is not None:
            raise ThreadBusy(thread_id, live.id)

    def get(self, thread_id: str, run_id: str) -> LiveRun | None:
        live = self._runs.get(run_id)
        return live if live is not None and live.thread_id == thread_id else None

    def start(self, run: Run, thread_id: str, agent: Agent, on_event: Callable[[Event], None],
              on_end: Callable[[], None], redact: Callable[[str], str] = str) -> LiveRun:
        if self.closing:
            raise ServerStopping()
        self.check_idle(thread_id)

        def ended() -> None:
            self._active.pop(thread_id, None)
            on_end()
            self._forget_old()

        live = LiveRun(run, thread_id, agent, on_event, ended, redact)
        self._runs[live.id] = live
        self._active[thread_id] = live
        live.start()
        return live

    def _forget_old(self) -> None:
        # A long reply is hundreds of thousands of frames: only the last few finished runs keep theirs.
        finished = [run_id for run_id, live in self._runs.items() if live.ended]
        for run_id in finished[: max(0, len(finished) - self._keep_replay)]:
            self._runs[run_id].release_frames()
        for run_id in finished[: max(0, len(finished) - self._keep)]:
            del self._runs[run_id]

    async def close(self) -> None:
        """Cancel every run in progress and let each write its partial reply and send its last events (server
        shutdown); no run starts after this."""
        self.closing = True
        running = list(self._active.values())
        for live in running:
            live.cancel()
        # One grace for all of them together: a hundred runs stop in five seconds, not in five hundred.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(live.wait() for live in running), return_exceptions=True),
                                   SHUTDOWN_GRACE)
