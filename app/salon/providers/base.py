"""What every provider offers the runner: a stream of chunks for one completion, and a list of its models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One completion: ``model`` is the provider's own name for it (no ``ollama/`` prefix)."""

    model: str
    messages: Sequence[ChatMessage]
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    stream: bool = True


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

        Raises :class:`salon.errors.ProviderError` subclasses only.
        """
        ...

    async def list_models(self) -> list[ModelInfo]: ...

    async def aclose(self) -> None: ...


from salon.reply import Chunk  # noqa: E402  (after Protocol so the module reads top-down)
