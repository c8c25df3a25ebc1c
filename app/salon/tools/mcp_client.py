"""One connection to one MCP server through the official ``mcp`` SDK: the only module that imports it.

The SDK's client is an async context manager bound to the task that enters it (anyio task groups), while Salon
starts a server from whichever run first needs it and stops it from ``Session.aclose``. So each connection lives
in its own task, entered and left there; runs send calls to it from theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
from dataclasses import dataclass
from typing import IO, Any

import mcp
from mcp.client.streamable_http import streamable_http_client

from salon.config.mcp_servers import McpServerSettings, resolve_command

START_TIMEOUT = 30.0
"""Seconds a server may take to start and list its tools (a first ``uvx`` run downloads for a while)."""
STDERR_TAIL = 600


class McpFailure(Exception):
    """The server could not be used: it did not start, died, or broke the protocol. The text says which."""


@dataclass(frozen=True, slots=True)
class ToolInfo:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A tool's answer as text; ``is_error`` when the tool itself reported failure."""

    text: str
    is_error: bool


class McpConnection:
    def __init__(self, settings: McpServerSettings) -> None:
        self.settings = settings
        self.tools: list[ToolInfo] = []
        self._client: mcp.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._gone = asyncio.Event()
        self._errlog: IO[str] | None = None
        # The SDK's client outlives its server's process; a call that found it gone marks it for a restart.
        self._broken = False

    @property
    def alive(self) -> bool:
        return self._client is not None and not self._gone.is_set() and not self._broken

    async def start(self) -> list[ToolInfo]:
        """Start (or connect to) the server and list its tools; raises :class:`McpFailure` saying why not."""
        ready: asyncio.Future[list[ToolInfo]] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._serve(ready), name=f"mcp server {self.settings.name}")
        try:
            self.tools = await asyncio.wait_for(asyncio.shield(ready), START_TIMEOUT)
        except TimeoutError:
            await self.aclose()
            raise McpFailure(f"did not answer within {START_TIMEOUT:g} s of starting{self._said()}") from None
        return self.tools

    async def _serve(self, ready: asyncio.Future[list[ToolInfo]]) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = await stack.enter_async_context(mcp.Client(self._transport()))
                tools: list[ToolInfo] = []
                cursor: str | None = None
                for _ in range(100):  # a paginator that never ends must not hang start-up
                    listed = await client.list_tools(cursor=cursor)
                    tools += [ToolInfo(t.name, t.description or "", dict(t.input_schema)) for t in listed.tools]
                    cursor = listed.next_cursor
                    if not cursor:
                        break
                self._client = client
                ready.set_result(tools)
                await self._stop.wait()
        except BaseException as error:  # whatever ended the connection is reported to the caller, not raised here
            if not ready.done():
                ready.set_exception(McpFailure(self._why(error)))
            if isinstance(error, asyncio.CancelledError):
                raise
        finally:
            self._client = None
            self._gone.set()

    def _transport(self) -> Any:
        settings = self.settings
        if settings.url:
            return streamable_http_client(settings.url)
        # The server's stderr goes to a private temporary file, never onto the TUI; its tail explains a failure,
        # so it stays open past the connection (closed by aclose).
        if self._errlog is None:
            self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        from salon.tools.stdio import stdio_transport

        return stdio_transport(resolve_command(settings.command or ""), list(settings.args),
                               dict(settings.env) or None, self._errlog)

    async def call(self, tool: str, arguments: dict[str, Any], timeout: float) -> Outcome:
        """Call ``tool``; raises :class:`McpFailure` when the server is gone, ``TimeoutError`` past ``timeout``."""
        client = self._client
        if client is None or self._gone.is_set():
            raise McpFailure(f"is not running{self._said()}")
        call = asyncio.ensure_future(client.call_tool(tool, arguments, read_timeout_seconds=timeout))
        gone = asyncio.ensure_future(self._gone.wait())
        try:
            done, _ = await asyncio.wait({call, gone}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not call.done():
                call.cancel()
                with contextlib.suppress(BaseException):
                    await call
        if call in done:
            try:
                result = call.result()
            except Exception as error:
                if self._gone.is_set() or "connection closed" in str(error).lower():
                    self._broken = True
                    raise McpFailure(f"stopped during the call{self._said()}") from None
                if "timed out" in str(error).lower():
                    raise TimeoutError from None
                raise McpFailure(f"failed the call: {error}") from None
            return Outcome(_text(result), bool(result.is_error))
        if gone in done:
            self._broken = True
            raise McpFailure(f"stopped during the call{self._said()}")
        raise TimeoutError

    async def aclose(self) -> None:
        self._stop.set()
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), 10)
            except (TimeoutError, Exception):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._errlog is not None:
            self._errlog.close()
            self._errlog = None

    def _why(self, error: BaseException) -> str:
        leaf = _leaf(error)
        if isinstance(leaf, FileNotFoundError):
            return f"could not be started: no program {self.settings.command!r} ({leaf.strerror})"
        if isinstance(leaf, PermissionError):
            return f"could not be started: {self.settings.command!r} is not executable"
        if "connection closed" in str(leaf).lower():
            return f"closed the connection before it was ready{self._said()}{self._likely_cause()}"
        return f"could not be used: {leaf or type(leaf).__name__}{self._said()}{self._likely_cause()}"

    def _likely_cause(self) -> str:
        """A missing module is almost always a server installed into another Python than the one started."""
        found = _NO_MODULE.search(self._stderr())
        if found is None or self.settings.command is None:
            return ""
        module, program = found.group(1), resolve_command(self.settings.command)
        named = f"{self.settings.command!r} ({program})" if program != self.settings.command else repr(program)
        return (f". Likely cause: {named} has no module {module!r}; install the server into that Python "
                f"(`{program} -m pip install …`), or set command in [mcp_servers.{self.settings.name}] to the "
                "Python it is installed in")

    def _said(self) -> str:
        """The tail of what the server wrote to stderr, for a message that explains what happened."""
        text = self._stderr()
        return f" (it said: {text[-STDERR_TAIL:]})" if text else ""

    def _stderr(self) -> str:
        if self._errlog is None:
            return ""
        try:
            self._errlog.flush()
            self._errlog.seek(0)
            return self._errlog.read().strip()
        except (OSError, ValueError):
            return ""


_NO_MODULE = re.compile(r"No module named '?([\w.]+)'?")


def _leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _text(result: Any) -> str:
    parts = []
    for block in result.content or ():
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{kind}: {getattr(block, 'mime_type', 'unknown type')}, not shown]")
        elif kind == "resource_link":
            parts.append(f"[resource: {getattr(block, 'uri', '')}]")
        else:
            parts.append(f"[{kind or 'content'} not shown]")
    if not parts and result.structured_content is not None:
        import json

        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)
