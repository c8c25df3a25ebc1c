"""``salon ask``: one prompt in, the reply out; composes with pipes."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TextIO

from salon.api import Session
from salon.errors import SalonError
from salon.events import MessageCompleted, MessageCreated, MessageDelta, RunCancelled, RunCreated, RunFailed
from salon.reply import Reply
from salon.runner import Run

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def read_prompt(args: argparse.Namespace, stdin: TextIO) -> str:
    """The prompt argument, standard input, or both (``git diff | salon ask "Review this"``)."""
    given = " ".join(args.prompt)
    piped = "" if stdin.isatty() else stdin.read().strip()
    if given and piped:
        return f"{given}\n\n{piped}"
    if given or piped:
        return given or piped
    if stdin.isatty():
        raise SalonError("no prompt: give one as an argument or pipe it in (echo 'hi' | salon ask)")
    raise SalonError("the prompt read from standard input is empty")


def usage_line(name: str, reply: Reply) -> str:
    usage = reply.usage
    tokens = f"{usage.input_tokens or '?'} in / {usage.output_tokens or '?'} out"
    if usage.estimated:
        tokens += " (estimated)"
    rate = f", {reply.tokens_per_second:.1f} tok/s" if reply.tokens_per_second else ""
    return f"[{name} · {reply.model} · {tokens}{rate}, {reply.duration:.2f} s]"


async def ask_command(args: argparse.Namespace, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    prompt = read_prompt(args, sys.stdin)
    async with Session() as session:
        run = session.run(args.agent, prompt, model=args.model, stream=args.stream)
        loop = asyncio.get_running_loop()

        def interrupt() -> None:
            run.cancel()
            # A second Ctrl-C falls through to Python's default and ends the process at once.
            loop.remove_signal_handler(signal.SIGINT)

        loop.add_signal_handler(signal.SIGINT, interrupt)
        try:
            return await _print_run(run, args, stdout, stderr)
        finally:
            loop.remove_signal_handler(signal.SIGINT)


async def _print_run(run: Run, args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    live = bool(args.stream)
    labelled = False
    printed_any = False
    async for event in run:
        match event:
            case RunCreated(steps=steps):
                labelled = steps > 1
            case MessageCreated(agent_name=name):
                if labelled:
                    stdout.write(("\n" if printed_any else "") + f"## {name}\n\n")
                    stdout.flush()
            case MessageDelta(text=text, thinking=thinking):
                if thinking and args.thinking:
                    stderr.write(thinking)
                    stderr.flush()
                if live and text:
                    stdout.write(text)
                    stdout.flush()
            case MessageCompleted(reply=reply, agent_name=name):
                if not live:
                    if args.thinking and reply.thinking:
                        stderr.write(reply.thinking + "\n")
                    stdout.write(reply.text)
                if reply.text or labelled:
                    stdout.write("\n")
                    stdout.flush()
                    printed_any = True
                if args.usage:
                    stderr.write(usage_line(name, reply) + "\n")
            case RunFailed(error=error):
                stderr.write(f"salon: {error}\n")
                return EXIT_ERROR
            case RunCancelled():
                stderr.write("salon: interrupted; the partial reply is above\n")
                return EXIT_INTERRUPTED
    return EXIT_OK
