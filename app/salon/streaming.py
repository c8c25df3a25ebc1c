"""The streaming guides' Python API, on Salon's event stream: chunks, a collector, and the interrupted error.

The guides write ``async for chunk in agent.stream(prompt): print(chunk.content)``, collect with
``StreamingResponse().add_chunk(chunk)`` and catch ``StreamInterruptedError`` for its ``partial_response``. Their
snippets run against Salon with their imports changed to this module::

    from salon.streaming import Agent, StreamingResponse, StreamInterruptedError

Every chunk is made from the events of a :class:`salon.runner.run.Run` (:func:`chunks_from_events`), the same events
the TUI, ``salon ask`` and ``salon serve`` consume; nothing here talks to a provider. The agent handle itself lives
in :mod:`salon.agent_handle` and is imported from here on first use, so this module stays light. It is not imported
here even for type checking: the handle is built on this module, and a checker finds it at ``salon.StreamingAgent``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from salon._lazy import lazy_exports
from salon.errors import RunError, SalonError, StreamInterrupted, StreamStalled
from salon.events import (
    Event,
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    RunCancelled,
    RunCompleted,
    RunFailed,
)
from salon.ids import new_id
from salon.reply import Reply, Usage

_FROM_HANDLE = ("Agent", "AgentStream", "StreamingAgent", "agent", "supports_streaming")
"""The guides import these from here too; they live in :mod:`salon.agent_handle`, loaded on first use."""

__all__ = ["StreamChunk", "StreamInterruptedError", "StreamingResponse", "chunks_from_events", *_FROM_HANDLE]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """One piece of a streamed reply.

    ``metadata`` always names ``agent`` (its id), ``agent_name``, ``model``, ``message_id``, ``step`` (0 for the
    first message of a run, 1 for the second…) and ``run_id``. The chunk that closes a message has no text
    (``content == ""``) unless the message was not streamed, and adds ``message_end`` (True), ``status``,
    ``usage`` (the provider's own counts, a :class:`~salon.reply.Usage`), ``finish_reason``, ``thinking`` and
    ``reply`` (the whole :class:`~salon.reply.Reply`). ``is_final`` is true only on the run's very last chunk.
    """

    content: str
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    is_final: bool = False
    timestamp: float = field(default_factory=time.time)

    @property
    def token(self) -> str | None:
        """The guides' provider token: Salon's pieces are the provider's own, so it is the content (or None)."""
        return self.content or None

    def __str__(self) -> str:
        return self.content


class StreamInterruptedError(SalonError):
    """A stream cut short: the server failed mid-reply, or the stream was cancelled.

    ``partial_response`` is the text of the message that was cut (what had arrived of it); ``completed`` the
    replies of the run's messages that finished before it; ``cause`` the run's own error, or None for a
    cancel.
    """

    def __init__(self, message: str, partial_response: str = "", *, cause: RunError | None = None,
                 completed: tuple[Reply, ...] = ()) -> None:
        super().__init__(message)
        self.partial_response = partial_response
        self.cause = cause
        self.completed = completed


@dataclass(slots=True)
class StreamingResponse:
    """Collects chunks into one response: ``add_chunk`` each, then read the text and the figures.

    ``chunk_count`` counts the pieces of text received (a chunk that only closes a message carries figures, not
    text, and is not counted). ``usage`` is the final message's usage as its provider reported it (None until that
    message has ended); ``duration`` the seconds from this collector's creation to the final chunk (None before).
    """

    chunks: list[StreamChunk] = field(default_factory=list)
    complete_text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    start_time: float = field(default_factory=time.time)
    end_time: float | None = None
    usage: Usage | None = None
    stream_id: str = field(default_factory=lambda: new_id("stream"))

    def add_chunk(self, chunk: StreamChunk) -> None:
        self.chunks.append(chunk)
        self.complete_text += chunk.content
        if chunk.metadata.get("message_end"):
            self.usage = chunk.metadata.get("usage")
            self.metadata.update(chunk.metadata)
        if chunk.is_final:
            self.end_time = chunk.timestamp

    @property
    def content(self) -> str:
        """The complete text (the guides' ``response.content`` of ``await agent.arun(prompt)``)."""
        return self.complete_text

    @property
    def chunk_count(self) -> int:
        return sum(1 for chunk in self.chunks if chunk.content)

    @property
    def duration(self) -> float | None:
        return None if self.end_time is None else self.end_time - self.start_time

    @property
    def total_tokens(self) -> int | None:
        """Input plus output tokens of the final message, when the provider counted both."""
        if self.usage is None or self.usage.input_tokens is None or self.usage.output_tokens is None:
            return None
        return self.usage.input_tokens + self.usage.output_tokens


async def chunks_from_events(events: AsyncIterator[Event], streamed: Callable[[int], bool],
                             clock: Callable[[], float] = time.time) -> AsyncIterator[StreamChunk]:
    """The chunks of one run's ``events``; raises :class:`StreamInterruptedError` or the run's typed error.

    ``streamed(step)`` says whether that step's message is streamed: if not, its text comes as the one chunk that
    closes it. A message's closing chunk is held until the next event shows whether the run goes on, so that only
    the run's last chunk is ``is_final``.
    """
    completed: list[Reply] = []
    cut: Reply | None = None
    meta: dict[str, Any] = {}
    held: StreamChunk | None = None
    async for event in events:
        if held is not None:
            # What follows a message's closing chunk says whether it was the run's last.
            yield StreamChunk(held.content, held.metadata, isinstance(event, RunCompleted), held.timestamp)
            held = None
        match event:
            case MessageCreated():
                meta = {"agent": event.agent_id, "agent_name": event.agent_name, "model": event.model,
                        "message_id": event.message_id, "step": event.step, "run_id": event.run_id}
            case MessageDelta(text=text) if text and streamed(meta.get("step", 0)):
                yield StreamChunk(text, MappingProxyType(meta), timestamp=clock())
            case MessageCompleted(reply=reply, status="complete"):
                completed.append(reply)
                content = "" if streamed(event.step) else reply.text
                held = StreamChunk(content, _closing(meta, event), timestamp=clock())
            case MessageCompleted(reply=reply):
                cut = reply
            case RunFailed(exception=error):
                if error.partial or isinstance(error, StreamInterrupted | StreamStalled):
                    raise StreamInterruptedError(str(error), error.partial, cause=error,
                                                 completed=tuple(completed)) from error
                raise error
            case RunCancelled():
                raise StreamInterruptedError("the stream was cancelled", cut.text if cut else "",
                                             completed=tuple(completed))


def _closing(meta: Mapping[str, Any], event: MessageCompleted) -> Mapping[str, Any]:
    reply = event.reply
    return MappingProxyType({**meta, "message_end": True, "status": event.status, "usage": reply.usage,
                             "finish_reason": reply.finish_reason, "thinking": reply.thinking, "reply": reply})


__getattr__ = lazy_exports(__name__, dict.fromkeys(_FROM_HANDLE, "salon.agent_handle"))
