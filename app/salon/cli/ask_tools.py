"""Tool calls in ``salon ask``: rows on standard error as they stream, and the approval question.

On a terminal the question is asked on the terminal itself (``/dev/tty``, so ``git diff | salon ask`` can still
ask), everything shown inert; without one, a call runs only where ``--allow-tool`` names it, and ``--deny-tools``
answers the rest "deny". Otherwise the run is stopped, saying which option would let it go on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fnmatch
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TextIO, cast

from salon import terminal
from salon.events import RequiresAction, StepCompleted, StepDelta, ToolCall
from salon.runner.run import Decision, Run

ANSWERS: dict[str, Decision] = {"o": "once", "once": "once", "y": "once", "yes": "once", "a": "always",
                                "always": "always", "d": "deny", "deny": "deny", "n": "deny", "no": "deny", "": "deny"}


class Refused(Exception):
    """No way to ask, and no option said what to do: the message names the options."""


class ToolRows:
    """One line per tool call on standard error: ``⚙ server.tool {arguments…}`` as they stream, then its end."""

    def __init__(self, stderr: TextIO) -> None:
        self.stderr = stderr
        self.open = False

    def delta(self, event: StepDelta) -> None:
        if event.tool:
            self.close()
            name = f"{event.server}.{event.tool}" if event.server else event.tool
            self.stderr.write(f"salon: tool {name} ")
            self.open = True
        self.stderr.write(event.arguments)
        self.stderr.flush()

    def close(self) -> None:
        if self.open:
            self.stderr.write("\n")
            self.stderr.flush()
            self.open = False

    def completed(self, event: StepCompleted) -> None:
        self.close()
        for call in event.calls:
            if call.status == "completed":
                said = f"done, {len(call.output or ''):,} characters back"
            elif call.status == "denied":
                said = "denied, not run"
            else:
                said = f"{call.status}: {call.error}"
            self.stderr.write(f"salon: tool {call.name} {said}\n")
        self.stderr.flush()


class Approver:
    """Answers a run's :class:`RequiresAction` from the options, or by asking on the terminal."""

    def __init__(self, args: argparse.Namespace, stderr: TextIO, agent_name: str,
                 describe_server: Callable[[str], str], open_tty: Callable[[], TextIO | None] | None = None) -> None:
        self.allowed: Sequence[str] = tuple(getattr(args, "allow_tools", []) or ())
        self.deny_rest = bool(getattr(args, "deny_tools", False))
        self.stderr = stderr
        self.agent_name = agent_name
        self.describe_server = describe_server
        self._open_tty = open_tty or _open_tty
        self.cancelled = asyncio.Event()

    def preset(self, call: ToolCall) -> Decision | None:
        if any(fnmatch.fnmatchcase(call.name, pattern) for pattern in self.allowed):
            return "once"
        return "deny" if self.deny_rest else None

    async def answer(self, run: Run, event: RequiresAction) -> None:
        """Decide every call of ``event``; raises :class:`Refused` when one can be neither decided nor asked."""
        for call in event.calls:
            decision = self.preset(call)
            if decision is None:
                decision = await self._ask(call)
            if decision is None:
                return  # cancelled while asking: the run ends cancelled
            run.decide(call.id, decision)

    async def _ask(self, call: ToolCall) -> Decision | None:
        tty = self._open_tty() if terminal.is_terminal(self.stderr) else None
        if tty is None:
            raise Refused(f"{self.agent_name} wants to run the tool {call.name}, and there is no terminal to ask "
                          f"on: pass --allow-tool {call.name} (or '{call.server or call.tool}.*') to allow it, or "
                          "--deny-tools to answer without tools")
        try:
            tty.write(self.question(call))
            tty.flush()
            line = await self._read_line(tty)
            while line is not None and line.strip().lower() not in ANSWERS:
                tty.write("Answer o (once), a (always) or d (deny): ")
                tty.flush()
                line = await self._read_line(tty)
        finally:
            tty.close()
        return None if line is None else ANSWERS[line.strip().lower()]

    def question(self, call: ToolCall) -> str:
        """The question, every part of it from the model or the config made inert."""
        server = self.describe_server(call.server)
        lines = [
            f"salon: {self.agent_name} wants to run a tool",
            f"  tool       {call.tool}",
            f"  server     {call.server} ({server})" if call.server else "  server     (none)",
            f"  arguments  {call.arguments}",
            f"Allow it? [o]nce, [a]lways for {self.agent_name}, [d]eny (default): ",
        ]
        return terminal.inert("\n".join(lines))

    async def _read_line(self, tty: TextIO) -> str | None:
        """A line from the terminal, or None when the run was cancelled (Ctrl-C) while waiting for it."""
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[str] = loop.create_future()

        def read() -> None:
            try:
                line = tty.readline()
            except (OSError, ValueError):
                line = ""
            def answer() -> None:
                if not answered.done():
                    answered.set_result(line)

            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
                loop.call_soon_threadsafe(answer)

        # A daemon thread, not the default executor: asyncio.run would wait at exit for a read nobody will finish.
        threading.Thread(target=read, daemon=True, name="salon tool question").start()
        cancelled: asyncio.Future[Any] = asyncio.ensure_future(self.cancelled.wait())
        try:
            await asyncio.wait({answered, cancelled}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cancelled.cancel()
        return answered.result() if answered.done() else None


class _Tty:
    """The controlling terminal, for one question: written and read apart (a terminal cannot seek)."""

    def __init__(self, fd: int) -> None:
        self._in = open(fd, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed in close()
        self._out = open(os.dup(fd), "w", encoding="utf-8", errors="replace")  # noqa: SIM115

    def write(self, text: str) -> int:
        return self._out.write(text)

    def flush(self) -> None:
        self._out.flush()

    def readline(self) -> str:
        return self._in.readline()

    def close(self) -> None:
        self._out.close()
        # The reading thread may still hold the input side (cancelled mid-question); it ends with the process.


def _open_tty() -> TextIO | None:
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    return cast(TextIO, _Tty(fd))
