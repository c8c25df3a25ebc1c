"""What every provider offers the runner: a stream of chunks for one completion, and a list of its models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolRequest:
    """A tool call an assistant turn made, as it goes back to the model: ``name`` is the function name the model
    was offered, ``arguments`` the JSON text it sent."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn sent to a model. An assistant turn may carry ``tool_calls``; a ``tool`` turn answers one of them
    (``tool_call_id`` for OpenAI-style APIs, ``tool_name`` for Ollama's)."""

    role: Role
    content: str
    tool_calls: tuple[ToolRequest, ...] = ()
    tool_call_id: str | None = None
    tool_name: str | None = None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model: its function name and its arguments' JSON schema."""

    name: str
    description: str
    parameters: Mapping[str, Any]

    def wire(self) -> dict[str, Any]:
        """The ``{"type": "function", ...}`` object both Ollama's and OpenAI's APIs take."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": dict(self.parameters)}}


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One completion: ``model`` is the provider's own name for it (no ``ollama/`` prefix)."""

    model: str
    messages: Sequence[ChatMessage]
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    stream: bool = True
    tools: tuple[ToolSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model a provider offers; ``ref`` is what an agent's ``model`` key names."""

    ref: str
    name: str
    size: int | None = None
    details: str = ""
    capabilities: tuple[str, ...] = ()


class Provider(Protocol):
    label: str

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Yield the completion's chunks; with ``request.stream`` false, exactly one.

        With ``request.tools``, tool calls arrive as :class:`~salon.reply.ToolCallPiece` on chunks; a model that
        cannot use tools raises :class:`salon.errors.ToolsUnsupported`.

        Raises :class:`salon.errors.ProviderError` subclasses only.
        """
        ...

    async def list_models(self) -> list[ModelInfo]: ...

    async def aclose(self) -> None: ...


from salon.reply import Chunk  # noqa: E402  (after Protocol so the module reads top-down)
