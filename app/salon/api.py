"""Salon as a Python library: the same runs and events that the TUI and the CLI consume."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

from salon.agents import Agent, AgentCatalog, default_directories, load_agents
from salon.config import Config, load_config
from salon.errors import ProviderError
from salon.events import Event, MessageCompleted, MessageDelta, RunFailed
from salon.providers import ChatMessage, Providers
from salon.reply import Reply
from salon.runner import Run

BUNDLED_DEFAULT_AGENT = "assistant"


class Session:
    """Agents, settings and open provider connections, shared by the runs of one program."""

    def __init__(self, config: Config | None = None, catalog: AgentCatalog | None = None) -> None:
        self.config = config or load_config()
        self.catalog = catalog or load_agents(default_directories())
        self.providers = Providers(self.config)

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
        if wanted in known or BUNDLED_DEFAULT_AGENT not in known or any(e.path.stem == wanted
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
        return Run(self.agent(agent, model), messages, self.providers, stream=stream, clock=clock)

    async def aclose(self) -> None:
        await self.providers.aclose()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def run(agent: str | Agent | None, prompt: str, *, history: Sequence[ChatMessage] = (),
              model: str | None = None, stream: bool | None = None,
              config: Config | None = None) -> AsyncIterator[Event]:
    """Every event of one run: ``async for event in salon.run("socrates", "What is virtue?")``."""
    async with Session(config) as session:
        async for event in session.run(agent, prompt, history=history, model=model, stream=stream):
            yield event


async def ask(agent: str | Agent | None, prompt: str, **options: object) -> Reply:
    """The final reply of the run's last message; raises :class:`ProviderError` if the run failed."""
    last: Reply | None = None
    async for event in run(agent, prompt, **options):  # type: ignore[arg-type]
        if isinstance(event, MessageCompleted):
            last = event.reply
        elif isinstance(event, RunFailed):
            raise ProviderError(event.error)
    assert last is not None, "a run that did not fail always completes a message"
    return last


async def stream_text(agent: str | Agent | None, prompt: str, **options: object) -> AsyncIterator[str]:
    """Only the text, as it arrives, for callers that want nothing else."""
    async for event in run(agent, prompt, **options):  # type: ignore[arg-type]
        if isinstance(event, MessageDelta) and event.text:
            yield event.text
        elif isinstance(event, RunFailed):
            raise ProviderError(event.error)
