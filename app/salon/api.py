"""Salon as a Python library: the same runs and events that the TUI and the CLI consume."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from salon.agents.definition import Agent, AgentCatalog, default_directories, load_agents
from salon.config.read import Config, load_config
from salon.errors import SalonError
from salon.events import Event, MessageCompleted, MessageDelta, RequiresAction, RunFailed, ToolCall
from salon.providers import ChatMessage, ModelInfo, Providers, bare_model, is_gguf, is_ollama
from salon.reply import Reply
from salon.runner.run import Decision, Run

if TYPE_CHECKING:
    from salon.tools.approvals import Approvals
    from salon.tools.host import ToolHost

BUNDLED_DEFAULT_AGENT = "assistant"

__all__ = ["ChatMessage", "ModelInfo", "ModelListing", "PullStatus", "Session", "ask", "run", "stream_text"]


@dataclass(frozen=True, slots=True)
class PullStatus:
    """One progress report of a model download, as the server sent it."""

    status: str
    completed: int | None = None
    total: int | None = None


@dataclass(frozen=True, slots=True)
class ModelListing:
    """Every model Salon can name: the model server's (if it answered) and those configured in config.toml."""

    models: list[ModelInfo] = field(default_factory=list)
    error: SalonError | None = None
    """Why the model server's models are missing, when it did not answer."""


class Session:
    """Agents, settings and open provider connections, shared by the runs of one program.

    Faces (the TUI, ``salon ask``, ``salon serve``) ask the session for everything beyond a run's events —
    models, downloads, warm-up — and never talk to a provider themselves, so a new provider changes no face.
    """

    def __init__(self, config: Config | None = None, catalog: AgentCatalog | None = None) -> None:
        self.config = config or load_config()
        self.catalog = catalog or load_agents(default_directories())
        self.providers = Providers(self.config)
        self._tools: ToolHost | None = None
        self._approvals: Approvals | None = None

    @property
    def tools(self) -> ToolHost:
        """The user's MCP servers; each starts when an agent that uses it first runs, and stops with the session."""
        if self._tools is None:
            from salon.tools.host import ToolHost

            self._tools = ToolHost(self.config.mcp_servers)
        return self._tools

    @property
    def approvals(self) -> Approvals:
        """Which tool calls run unasked (the user's ``approve = "auto"`` and remembered "always")."""
        if self._approvals is None:
            from salon.tools.approvals import Approvals

            self._approvals = Approvals(self.config)
        return self._approvals

    @property
    def default_agent_id(self) -> str:
        """``default_agent`` from config.toml, or the bundled default when no file of that id exists any more."""
        return BUNDLED_DEFAULT_AGENT if self.default_agent_warning else self.config.default_agent

    @property
    def default_agent_warning(self) -> str | None:
        """What to tell the user when ``default_agent`` names an agent whose file is gone (None otherwise).

        A deleted file must not stop Salon from starting; a broken one is still reported as its own error.
        """
        wanted = self.config.default_agent
        known = self.catalog.agents
        if wanted in known or BUNDLED_DEFAULT_AGENT not in known or any(e.agent_id == wanted
                                                                          for e in self.catalog.errors):
            return None
        return (f"default_agent '{wanted}' in config.toml names no agent (was its file deleted?); using "
                f"'{BUNDLED_DEFAULT_AGENT}'")

    def agent(self, agent: str | Agent | None = None, model: str | None = None) -> Agent:
        chosen = agent if isinstance(agent, Agent) else self.catalog.get(agent or self.default_agent_id)
        return chosen.with_model(model) if model else chosen

    def run(self, agent: str | Agent | None, prompt: str | None, *, history: Sequence[ChatMessage] = (),
            model: str | None = None, stream: bool | None = None, clock: Callable[[], float] | None = None) -> Run:
        """A run of ``agent``; ``clock`` times its replies (tests and the TUI fix it for repeatable figures)."""
        messages = list(history)
        if prompt is not None:
            messages.append(ChatMessage("user", prompt))
        chosen = self.agent(agent, model)
        if chosen.program is not None:
            # Its agent.py writes the messages; the run it gets has the same events, so no face knows the difference.
            from salon.runner.python_agent import PythonRun

            return PythonRun(chosen, messages, self.providers, stream=stream, clock=clock)
        if not chosen.uses_tools:
            return Run(chosen, messages, self.providers, stream=stream, clock=clock)
        return Run(chosen, messages, self.providers, stream=stream, clock=clock, tools=self.tools,
                   approvals=self.approvals)

    # -- models ------------------------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The model server the session asks for local models (the Ollama host)."""
        return self.config.resolved_ollama_host()

    def needs_host(self, refs: Iterable[str]) -> bool:
        """Whether any of these model refs is served by the model server (which may be down)."""
        return any(is_ollama(ref) for ref in refs)

    async def host_models(self) -> list[ModelInfo]:
        """The model server's models; raises :class:`~salon.errors.ProviderError` when it does not answer."""
        return await self.providers.ollama().list_models()

    async def configured_models(self) -> list[ModelInfo]:
        """The models that need no model server: GGUF files found on this machine (read from their headers, no
        llama.cpp) and the cloud models named in config.toml (no network call, no litellm import)."""
        local = await self.providers.gguf().list_models()
        if not self.config.providers:
            return local
        return local + await self.providers.cloud().list_models()

    async def list_models(self) -> ModelListing:
        """The model server's models, then the configured ones; the server being down is reported, not raised."""
        error: SalonError | None = None
        try:
            models = await self.host_models()
        except SalonError as failure:
            models, error = [], failure
        return ModelListing(models + await self.configured_models(), error)

    def missing_model(self, refs: Iterable[str], available: Iterable[ModelInfo]) -> str | None:
        """The first of ``refs`` the model server lacks (its bare name, ready to pull), given what it listed."""
        have = {bare_model(model.ref) for model in available}
        return next((bare_model(ref) for ref in refs if is_ollama(ref) and bare_model(ref) not in have), None)

    def pullable_model(self, refs: Iterable[str]) -> str | None:
        """The first of ``refs`` that can be downloaded to the model server, by its bare name."""
        return next((bare_model(ref) for ref in refs if is_ollama(ref)), None)

    async def pull(self, model: str) -> AsyncIterator[PullStatus]:
        """Download ``model`` to the model server, reporting progress; raises a ProviderError on failure."""
        async for status, completed, total in self.providers.ollama().pull(model):
            yield PullStatus(status, completed, total)

    def supports_streaming(self, ref: str) -> bool:
        """Whether model ``ref`` streams (see :mod:`salon.providers.capabilities`); loads litellm for a cloud one."""
        from salon.providers.capabilities import streams_natively

        return streams_natively(self.config, ref)

    async def warm_up(self, refs: Iterable[str]) -> None:
        """Load now, off the event loop, what the first reply of these models would wait for (litellm)."""
        if all(is_ollama(ref) or is_gguf(ref) for ref in refs):
            return
        from salon.providers.cloud.provider import import_litellm_async

        with suppress(Exception):  # not installed, or broken: the reply itself says so, with a way out
            await import_litellm_async()

    async def aclose(self) -> None:
        if self._tools is not None:
            await self._tools.aclose()
        await self.providers.aclose()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def run(agent: str | Agent | None, prompt: str, *, history: Sequence[ChatMessage] = (),
              model: str | None = None, stream: bool | None = None, config: Config | None = None,
              decide: Callable[[ToolCall], Decision] | None = None) -> AsyncIterator[Event]:
    """Every event of one run: ``async for event in salon.run("socrates", "What is virtue?")``.

    A tool call that needs approval is answered by ``decide`` ("once", "always" or "deny"); without one it is
    denied, the model told: a library call never runs a tool nobody allowed, nor waits for an answer that cannot
    come. (``Session.run`` gives the :class:`Run` itself, for callers that answer with ``run.decide``.)
    """
    async with Session(config) as session:
        current = session.run(agent, prompt, history=history, model=model, stream=stream)
        async for event in answering(current, current.events(), decide):
            yield event


async def answering(run: Run, events: AsyncIterator[Event], decide: Callable[[ToolCall], Decision] | None
                    ) -> AsyncGenerator[Event]:
    """``events`` of ``run``, each tool call that waits for approval answered by ``decide`` (none: "deny")."""
    async for event in events:
        yield event
        if isinstance(event, RequiresAction):
            for call in event.calls:
                run.decide(call.id, decide(call) if decide is not None else "deny")


async def ask(agent: str | Agent | None, prompt: str, **options: object) -> Reply:
    """The final reply of the run's last message.

    A failed run raises its own error type (:class:`~salon.errors.ServerUnreachable`,
    :class:`~salon.errors.ModelNotFound`, :class:`~salon.errors.StreamInterrupted` …); its ``partial`` attribute
    holds the text that arrived before the failure.
    """
    last: Reply | None = None
    async for event in run(agent, prompt, **options):  # type: ignore[arg-type]
        if isinstance(event, MessageCompleted):
            last = event.reply
        elif isinstance(event, RunFailed):
            raise event.exception
    assert last is not None, "a run that did not fail always completes a message"
    return last


async def stream_text(agent: str | Agent | None, prompt: str, **options: object) -> AsyncIterator[str]:
    """Only the text, as it arrives, for callers that want nothing else; a failed run raises its typed error."""
    async for event in run(agent, prompt, **options):  # type: ignore[arg-type]
        if isinstance(event, MessageDelta) and event.text:
            yield event.text
        elif isinstance(event, RunFailed):
            raise event.exception
