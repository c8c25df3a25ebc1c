"""Salon's error types: each carries a message a user can act on, shown once where it is caught."""

from __future__ import annotations

from pathlib import Path


class SalonError(Exception):
    """Base of every error Salon reports to a user; ``str(error)`` is the whole message."""


class FileError(SalonError):
    """A file of the user's that cannot be used, located as ``path:line: reason``."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line else str(self.path)
        super().__init__(f"{where}: {reason}")


class AgentFileError(FileError):
    """An agent file that cannot be loaded."""

    @property
    def agent_id(self) -> str:
        """The id of the agent the file defines: its name, or its folder's for an agent folder's files."""
        if self.path.name in ("metadata.json", "agent.py"):
            return self.path.parent.name
        return self.path.stem


class ConfigError(SalonError):
    """A settings file that cannot be read; Salon falls back to defaults for what it could not read."""


class UnknownAgent(SalonError):
    def __init__(self, agent_id: str, known: list[str]) -> None:
        self.agent_id = agent_id
        hint = f" Known agents: {', '.join(sorted(known))}." if known else ""
        super().__init__(f"no agent named '{agent_id}'.{hint} See `salon agents list`.")


class RunError(SalonError):
    """What ends a run as failed (``RunFailed.exception``): the provider's, the tools' or the agent's own code's.

    ``retryable`` says whether trying again may help.
    """

    retryable = False
    partial = ""
    """The text of the reply that arrived before the failure (set by the run that met it)."""


class ProviderError(RunError):
    """A completion that failed at the provider."""


class ServerUnreachable(ProviderError):
    retryable = True

    def __init__(self, host: str, detail: str = "") -> None:
        self.host = host
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"cannot reach Ollama at {host}{extra}. Start it with `ollama serve` "
            "(or set OLLAMA_HOST / [ollama] host in config.toml)."
        )


class ModelNotFound(ProviderError):
    def __init__(self, model: str, detail: str = "", pull_hint: bool = True) -> None:
        self.model = model
        hint = f" Download it with `ollama pull {model}`." if pull_hint else ""
        super().__init__(f"model '{model}' not found{': ' + detail if detail else ''}.{hint}")


class ThinkingUnsupported(ProviderError):
    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(
            f"model '{model}' does not support thinking; remove `think` from the agent's [params]."
        )


class ToolsUnsupported(ProviderError):
    """The model cannot call tools, and the agent offered it some."""

    def __init__(self, model: str, detail: str = "") -> None:
        self.model = model
        extra = f" ({detail})" if detail else ""
        super().__init__(f"model '{model}' does not support tools{extra}; pick a model that does, or remove "
                         "`tools` from the agent.")


class ToolError(RunError):
    """A run's tools could not be used at all: no server configured, a server that would not start."""


class AgentCodeError(RunError):
    """A Python agent's own code failed (or may not run): its file, line and message."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


class ServerBusy(ProviderError):
    retryable = True


class StreamInterrupted(ProviderError):
    """The server stopped mid-reply: an error line, a dropped connection or garbage on the wire."""

    retryable = True


class StreamStalled(ProviderError):
    retryable = True

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(
            f"no data from the server for {seconds:g} s; the reply was stopped. "
            "Raise the read timeout ([ollama] read_timeout in config.toml) for slow models."
        )


class AuthError(ProviderError):
    pass


class MissingKey(AuthError):
    def __init__(self, variables: list[str], model: str) -> None:
        self.variables = variables
        names = " or ".join(variables) if variables else "the provider's API key"
        super().__init__(f"{model} needs an API key: set {names} (or api_key_env in config.toml).")


class RateLimited(ProviderError):
    retryable = True


class ContextTooLong(ProviderError):
    pass


class BadRequest(ProviderError):
    pass


class ProviderUnreachable(ProviderError):
    """A cloud or OpenAI-compatible server that could not be reached; not Ollama, so no `ollama serve` hint."""

    retryable = True

    def __init__(self, provider: str, api_base: str | None, detail: str = "") -> None:
        self.provider = provider
        self.api_base = api_base
        extra = f" ({detail})" if detail else ""
        if api_base:
            hint = f"Is that server running? Check api_base in [providers.{provider}] of config.toml."
            where = f" at {api_base}"
        else:
            hint = (f"Check the network connection; to use another server, set api_base in "
                    f"[providers.{provider}] of config.toml.")
            where = ""
        super().__init__(f"cannot reach {provider}{where}{extra}. {hint}")


class ProviderStalled(StreamStalled):
    """A cloud stream gone silent; it names the provider's own read_timeout setting, not Ollama's."""

    def __init__(self, seconds: float, provider: str) -> None:
        self.seconds = seconds
        self.provider = provider
        # StreamStalled's own message points at [ollama]; only the type and `seconds` are shared.
        ProviderError.__init__(
            self,
            f"no data from {provider} for {seconds:g} s; the reply was stopped. Raise read_timeout in "
            f"[providers.{provider}] of config.toml for slow models.",
        )


class UnknownProvider(ProviderError):
    """A model reference whose prefix is neither a provider litellm knows nor a configured OpenAI-compatible one."""

    def __init__(self, ref: str, prefix: str) -> None:
        self.ref = ref
        self.prefix = prefix
        super().__init__(
            f"no provider for '{ref}': '{prefix}' is not a provider litellm knows. For an OpenAI-compatible "
            f"server (LM Studio, vLLM, llama.cpp) add [providers.{prefix}] with api_base = "
            f"\"http://HOST:PORT/v1\" to config.toml."
        )


class RedirectRefused(ProviderError):
    """The server answered with a redirect: followed, it would carry the prompt (and any key) to another place."""

    def __init__(self, server: str, status: int, source: str, target: str) -> None:
        self.source = source
        self.target = target
        where = "another origin" if source != target else "the same server"
        super().__init__(
            f"{server} at {source} answered {status} redirecting to {target} ({where}); Salon does not follow "
            "redirects, so nothing was sent there. Point Salon at the server itself."
        )


class LocalModelError(ProviderError):
    """A ``gguf/…`` model that Salon runs in its own process and cannot run."""


class EngineMissing(LocalModelError):
    """llama-cpp-python, the optional extra that runs GGUF files, is not installed (or does not load)."""

    def __init__(self, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"gguf/… models run inside Salon on llama-cpp-python, which is not installed{extra}. Install it "
            "with `pip install 'salon[local]'` (it compiles llama.cpp: allow some minutes), or use an "
            "ollama/… model."
        )


class ModelFileError(LocalModelError):
    """A model file that is missing, cut off, or not a GGUF file; ``reason`` follows the path."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class NotEnoughMemory(LocalModelError):
    """Loading the model would need more memory than the machine has free; checked before loading."""

    def __init__(self, model: str, needed: int, available: int, detail: str) -> None:
        self.needed = needed
        self.available = available
        super().__init__(
            f"not enough memory for {model}: it needs about {needed / 2**30:.1f} GiB ({detail}) but "
            f"{available / 2**30:.1f} GiB is available. Close other programs, lower num_ctx in the agent's "
            "[params], or pick a smaller quantisation."
        )
