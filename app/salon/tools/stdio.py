"""The stdio transport to an MCP server: its messages read in time linear in their size.

The SDK's own ``stdio_client`` joins what it has buffered with each new chunk and splits the whole again, so one
large message costs time in the square of its size: a tool answering 5 MB kept ``salon ask`` busy for seconds of
CPU before Salon could cut the answer to what it keeps (measured with cProfile: ``stdout_reader`` and
``str.split`` were most of Salon's own time). Here each chunk is searched once for the end of a line and a message
is joined once. Starting and stopping the server follow the SDK's (and the protocol's): the server in a session of
its own, stdin closed, then the whole process group terminated after a grace period.

Only ``tools/mcp_client.py`` imports this module (the SDK loads only when an agent that uses tools runs).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import IO, Any

import anyio
import mcp_types
from anyio.abc import Process
from mcp.client.stdio import StdioServerParameters, get_default_environment, stdio_client
from mcp.os.posix.utilities import terminate_posix_process_tree
from mcp.shared.message import SessionMessage

EXIT_GRACE = 2.0
"""Seconds a server has to exit once its stdin is closed (the SDK's figure), and again after SIGTERM."""
_GONE = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError)


@contextlib.asynccontextmanager
async def stdio_transport(command: str, args: list[str], env: dict[str, str] | None, errlog: IO[str]
                          ) -> AsyncIterator[Any]:
    """Start the server and yield the (read, write) streams an ``mcp.Client`` talks through."""
    if sys.platform == "win32":  # the SDK's process handling there (job objects) is not repeated here
        parameters = StdioServerParameters(command=command, args=args, env=env)
        async with stdio_client(parameters, errlog=errlog) as streams:  # type: ignore[arg-type]
            yield streams
        return
    process = await anyio.open_process([command, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=errlog, env=get_default_environment() | (env or {}),
                                       start_new_session=True)
    to_session, from_server = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    to_server, from_session = anyio.create_memory_object_stream[SessionMessage](0)

    async def read() -> None:
        assert process.stdout is not None
        pending: list[bytes] = []  # the start of a message whose end has not arrived
        try:
            async with to_session:
                async for chunk in process.stdout:
                    start = 0
                    while (end := chunk.find(b"\n", start)) != -1:
                        pending.append(chunk[start:end])
                        line, pending = b"".join(pending), []
                        start = end + 1
                        if line.strip():
                            await to_session.send(_parse(line))
                    if start < len(chunk):
                        pending.append(chunk[start:])
        except _GONE:
            pass  # the server closed its output, or the session went away: the session sees the stream end
        finally:
            await _drain(process)

    async def write() -> None:
        assert process.stdin is not None
        try:
            async with from_session:
                async for message in from_session:
                    text = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send(text.encode("utf-8") + b"\n")
        except _GONE:
            await to_session.aclose()  # a server that stopped reading: its requests must not wait for ever

    async with anyio.create_task_group() as group:
        group.start_soon(read)
        group.start_soon(write)
        try:
            yield from_server, to_server
        finally:
            with anyio.CancelScope(shield=True):
                for stream in (from_server, to_server):
                    await stream.aclose()
                await _stop(process)
            group.cancel_scope.cancel()


def _parse(line: bytes) -> SessionMessage | Exception:
    """One line from the server: a message, or the error the session reports for it."""
    try:
        return SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as error:
        return error


async def _drain(process: Process) -> None:
    """Read and drop what the server still writes, so a server flushing its output can exit."""
    assert process.stdout is not None
    with anyio.CancelScope(shield=True), contextlib.suppress(*_GONE):
        async for _ in process.stdout:
            pass


async def _stop(process: Process) -> None:
    """Close the server's stdin, give it time to exit, then terminate its whole process group."""
    assert process.stdin is not None and process.stdout is not None
    with contextlib.suppress(*_GONE):
        await process.stdin.aclose()
    if not await _exited(process, EXIT_GRACE):
        await terminate_posix_process_tree(process, EXIT_GRACE)
        await _exited(process, EXIT_GRACE)
    with contextlib.suppress(*_GONE):
        await process.stdout.aclose()


async def _exited(process: Process, within: float) -> bool:
    # Polled, not process.wait(): on asyncio that also waits for the pipes to close, which a child the server
    # started can keep open after the server itself has gone.
    with anyio.move_on_after(within):
        while process.returncode is None:
            await anyio.sleep(0.01)
    return process.returncode is not None
