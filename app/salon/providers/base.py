"""What every provider offers the runner: a stream of chunks for one completion, and a list of its models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from salon.messages import ChatMessage, Role, ToolRequest

# The turns a provider is sent are the conversation model's (salon.messages); they are named here too because they
# are half of the provider contract.
__all__ = ["ChatMessage", "CompletionRequest", "ModelInfo", "Provider", "Role", "ToolRequest", "ToolSpec"]


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
