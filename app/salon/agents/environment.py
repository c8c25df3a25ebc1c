"""The environment a Python agent's ``agent.py`` is given as ``env``, as the agent hub's documents describe it.

An agent written for the hub runs under Salon with one change, its import line::

    from salon.agent_env import Environment   # was: from nearai.agents.environment import Environment

It is synchronous, as in the documents: Salon runs ``agent.py`` in a worker thread, and each call that needs a
model waits there while Salon's event loop talks to the provider. Every ``completion(..., stream=True)`` becomes
one streamed message in every face (the chat app, ``salon ask``, ``salon serve``, the Python API).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["CompletionChunk", "CompletionStream", "CompletionText", "Environment", "RunStopped"]


class RunStopped(BaseException):
    """Raised inside agent.py at its next call to ``env`` once the user stopped the run (Esc, Ctrl-C).

    A ``BaseException``, as ``KeyboardInterrupt`` is, so an agent's ``except Exception`` does not swallow it.
    """


class CompletionText(str):
    """The whole text of a ``completion(..., stream=False)``: a ``str``, which also remembers its figures."""

    reply: Any = None
    model: str = ""


@dataclass(frozen=True, slots=True)
class _Delta:
    content: str
    role: str = "assistant"


@dataclass(frozen=True, slots=True)
class _Choice:
    delta: _Delta
    index: int = 0
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class CompletionChunk:
    """One piece of a streamed completion, shaped like an OpenAI stream chunk (``chunk.choices[0].delta.content``)."""

    id: str
    model: str
    content: str
    thinking: str = ""
    choices: list[_Choice] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", [_Choice(_Delta(self.content))])

    def model_dump(self) -> dict[str, Any]:
        """The chunk as a plain dict (the documents print ``json.dumps(chunk.model_dump())``)."""
        return {"id": self.id, "object": "chat.completion.chunk", "model": self.model,
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": self.content},
                             "finish_reason": None}]}


class _Host(Protocol):
    """What the environment asks of the run that hosts it (``salon.runner.python_agent``)."""

    def history(self) -> list[dict[str, str]]: ...

    def open_stream(self, messages: Sequence[Mapping[str, Any]], model: str, params: dict[str, Any]) -> Any: ...

    def pull(self, stream: Any) -> CompletionChunk | None: ...

    def text_of(self, stream: Any) -> str: ...

    def complete(self, messages: Sequence[Mapping[str, Any]], model: str, params: dict[str, Any]) -> CompletionText: ...

    def write_reply(self, text: str, reply: Any, model: str) -> None: ...


class CompletionStream:
    """A streamed completion: iterate it for its chunks (once), or hand it to :meth:`Environment.add_reply`."""

    def __init__(self, host: _Host, state: Any) -> None:
        self._host = host
        self._state = state

    def __iter__(self) -> Iterator[CompletionChunk]:
        return self

    def __next__(self) -> CompletionChunk:
        chunk = self._host.pull(self._state)
        if chunk is None:
            raise StopIteration
        return chunk

    @property
    def text(self) -> str:
        """The text received so far (all of it once the stream is exhausted)."""
        return self._host.text_of(self._state)


class Environment:
    """``env`` for an agent.py: the conversation, completions through Salon's providers, and replies."""

    def __init__(self, host: _Host) -> None:
        self._host = host
        self._added: list[dict[str, str]] = []
        self.user_input_requested = False

    def list_messages(self) -> list[dict[str, str]]:
        """The conversation so far, oldest first, as ``{"role", "content"}`` dicts, with the replies this run has
        added (:meth:`add_reply`). A fresh list each time: changing it changes nothing."""
        return [dict(m) for m in (*self._host.history(), *self._added)]

    def get_last_message(self, role: str = "user") -> dict[str, str] | None:
        """The latest message of ``role``, or None."""
        return next((m for m in reversed(self.list_messages()) if m["role"] == role), None)

    def completion(self, messages: Sequence[Mapping[str, Any]], model: str = "", stream: bool = False,
                   **params: Any) -> CompletionText | CompletionStream:
        """Ask the agent's model to answer ``messages``.

        ``stream=True`` returns a :class:`CompletionStream` that becomes one streamed message as it is read;
        ``stream=False`` the whole text, which becomes a message only when given to :meth:`add_reply`. ``model`` is
        accepted and ignored: the agent's model (or the one the user chose, ``--model``) answers every completion.
        Generation parameters (``temperature``, ``max_tokens`` …) are passed on.
        """
        if stream:
            return CompletionStream(self._host, self._host.open_stream(messages, model, params))
        return self._host.complete(messages, model, params)

    def add_reply(self, message: str | CompletionStream) -> None:
        """Write a reply to the conversation: a stream is read to its end (its message completes), a text becomes
        a message of its own."""
        if isinstance(message, CompletionStream):
            for _ in message:
                pass
            text = message.text
        elif isinstance(message, str):
            text = str(message)
            self._host.write_reply(text, getattr(message, "reply", None), getattr(message, "model", ""))
        else:
            raise TypeError(f"add_reply takes the text or the stream of a completion, not {type(message).__name__}")
        self._added.append({"role": "assistant", "content": text})

    def add_message(self, role: str, message: str | CompletionStream) -> None:
        """The older documents' spelling: ``add_message("agent", result)`` is :meth:`add_reply`."""
        if role not in ("agent", "assistant"):
            raise ValueError(f"add_message writes the agent's replies (role \"agent\" or \"assistant\"), not {role!r}")
        self.add_reply(message)

    def __getattr__(self, name: str) -> Any:
        # Only for names the class lacks: a hub service Salon does not provide, named with what it does provide.
        raise AttributeError(f"Salon's environment has no {name!r} (it provides list_messages, completion, "
                             "add_reply, add_message, get_last_message and request_user_input)")

    def request_user_input(self) -> None:
        """End the turn and wait for the user: the run ends when agent.py returns, and the next prompt starts
        another."""
        self.user_input_requested = True
