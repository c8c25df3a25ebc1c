"""``salon ask``: one prompt in, the reply out; composes with pipes."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, TextIO

from salon import terminal
from salon.cli.common import add_common
from salon.cli.exitcodes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK
from salon.errors import SalonError
from salon.surrogates import mend

# The session, the store, the events and the tool prompts load when a prompt is sent, not for `salon --help`:
# every `salon` command builds this subcommand's parser.
if TYPE_CHECKING:
    from salon.agents.definition import Agent
    from salon.api import ChatMessage, Session
    from salon.cli.ask_tools import Approver
    from salon.cli.common import Subcommands
    from salon.events import Event
    from salon.reply import Reply
    from salon.runner.run import Run
    from salon.store import Exchange, StoreError

# Each stops the reply, keeps the partial text (interrupted) and ends the command.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def add_parser(sub: Subcommands) -> None:
    ask = sub.add_parser("ask", help="send one prompt and print the reply (reads stdin if no prompt)",
                         description="Send one prompt to an agent and print its reply. Reads the prompt "
                                     "from standard input when none is given.")
    add_common(ask)
    ask.add_argument("prompt", nargs="*", help="the prompt; standard input when omitted")
    ask.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                     help="--stream (or --stream=true) prints text as it arrives, also for an agent whose file "
                          "says stream = false: unlike the agent documents, the call's flag wins over the agent's; "
                          "--no-stream (or --stream=false) asks the provider for the whole reply at once "
                          "(default: the agent's own setting, final text printed)")
    ask.add_argument("--thinking", action="store_true", help="print the model's thinking to standard error")
    ask.add_argument("--usage", action="store_true", help="print tokens and timing to standard error")
    ask.add_argument("--allow-tool", dest="allow_tools", metavar="NAME", action="append", default=[],
                     help="let the agent run this tool without asking: SERVER.TOOL, or a pattern like 'time.*' "
                          "(repeatable); needed where there is no terminal to ask on")
    ask.add_argument("--deny-tools", action="store_true",
                     help="deny every tool call --allow-tool does not allow (the model is told, and answers "
                          "without it)")
    terminal.add_raw_option(ask)
    continuing = ask.add_mutually_exclusive_group()
    continuing.add_argument("--continue", "-c", dest="continue_", action="store_true",
                            help="continue the latest conversation (its history is sent to the model)")
    continuing.add_argument("--conversation", metavar="ID",
                            help="continue this conversation (an id or a unique start of one; see `salon history`)")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return asyncio.run(ask_command(args, out, err))


def read_prompt(args: argparse.Namespace, stdin: TextIO) -> str:
    """The prompt argument, standard input, or both (``git diff | salon ask "Review this"``)."""
    # Bytes that are not UTF-8 in an argument arrive as lone surrogates, which SQLite cannot store.
    given = mend(" ".join(args.prompt))
    piped = "" if stdin.isatty() else stdin.read().strip()
    if given and piped:
        return f"{given}\n\n{piped}"
    if given or piped:
        return given or piped
    if args.prompt:
        # `salon ask ""`: the argument was there, only empty; standard input was never the question.
        raise SalonError("the prompt is empty: give some text (salon ask \"…\") or pipe it in")
    if stdin.isatty():
        raise SalonError("no prompt: give one as an argument or pipe it in (echo 'hi' | salon ask)")
    raise SalonError("the prompt read from standard input is empty")


def usage_line(name: str, reply: Reply) -> str:
    from salon.reply import shown_rate

    tokens = reply.usage.describe(grouped=False)
    shown = shown_rate(reply.tokens_per_second, reply.duration)
    rate = f", {shown:.1f} tok/s" if shown else ""
    return f"[{name} · {reply.model} · {tokens}{rate}, {reply.duration:.2f} s]"


async def ask_command(args: argparse.Namespace, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    # The reply, the server's errors and the model's name: inert on a terminal, exact through a pipe (terminal.py).
    stdout = terminal.writer(stdout, raw=getattr(args, "raw", False))
    stderr = terminal.writer(stderr)
    from salon.api import Session

    prompt = read_prompt(args, sys.stdin)
    async with Session() as session:
        # A broken config.toml is read as defaults; said here, or the user's host or timeouts vanish silently.
        for warning in session.config.warnings:
            stderr.write(f"salon: warning: {warning}\n")
        if not args.agent and session.default_agent_warning:
            stderr.write(f"salon: warning: {session.default_agent_warning}\n")
        _check_ollama_host(session, args)
        agent, history, exchange, redact = _begin_exchange(session, args, prompt, stderr)
        for error in session.catalog.shadowing_errors(agent.id):
            stderr.write(f"salon: warning: {error}; using {agent.path} instead\n")
        run = session.run(agent, prompt, history=history, stream=args.stream)
        approver = None
        if agent.uses_tools:
            from salon.cli.ask_tools import Approver

            approver = Approver(args, stderr, agent.name, session.tools.describe)
        loop = asyncio.get_running_loop()
        received: list[int] = []

        def interrupt(signum: int) -> None:
            received.append(signum)
            run.cancel()
            if approver is not None:
                approver.cancelled.set()
            # A second Ctrl-C falls through to Python's default and ends the process at once.
            loop.remove_signal_handler(signal.SIGINT)

        for signum in _STOP_SIGNALS:
            loop.add_signal_handler(signum, interrupt, signum)
        try:
            # Closed here, not at the loop's shutdown: the exchange's last write happens while the store is open.
            async with aclosing(exchange.follow(run)) as events:
                code = await _print_run(run, events, args, stdout, stderr, exchange.saving, redact, approver)
            if approver is not None:
                for problem in session.approvals.problems:  # "always" that could not be written down
                    stderr.write(f"salon: warning: {problem}\n")
            # Killed by SIGTERM or SIGHUP (not Ctrl-C): exit as a process ended by it reports, 143 or 129.
            return 128 + received[0] if code == EXIT_INTERRUPTED and received and received[0] != signal.SIGINT else code
        finally:
            for signum in _STOP_SIGNALS:
                loop.remove_signal_handler(signum)
            exchange.finish()
            if exchange.store is not None:
                exchange.store.close()


def _check_ollama_host(session: Session, args: argparse.Namespace) -> None:
    """A malformed OLLAMA_HOST is one line naming it (a HostError), before anything is stored or sent."""
    try:
        agent = session.agent(args.agent, args.model)
    except SalonError:
        return  # reported, with its own words, where the exchange begins
    if session.needs_host(agent.models):
        session.config.resolved_ollama_host()


def _begin_exchange(session: Session, args: argparse.Namespace, prompt: str,
                    stderr: TextIO) -> tuple[Agent, list[ChatMessage], Exchange, Callable[[str], str]]:
    """Open the conversation to continue (or a new one) and store the prompt before anything is sent.

    A database that cannot be opened or written (damaged, newer, read-only, disk full) does not cost the user the
    answer: it is asked for unsaved, with a warning. Only continuing a conversation needs the database to work.
    Returns the agent, the history the model is sent, the exchange, and the redactor for error text (which can
    quote what a server was sent, keys included).
    """
    from salon.config.secrets import secret_values
    from salon.store import ConversationNotFound, Exchange, Redactor, Store, StoreError

    secrets = secret_values(session.config)
    continuing = bool(getattr(args, "continue_", False) or getattr(args, "conversation", None))
    try:
        store = Store.open(args.data_dir or session.config.resolved_data_dir(), secrets=secrets)
    except StoreError as error:
        if continuing:
            raise SalonError(f"cannot continue a conversation: {error}") from None
        return session.agent(args.agent, args.model), [], _unsaved(stderr, error), Redactor(secrets)
    agent: Agent | None = None
    history: list[ChatMessage] | None = None
    try:
        conversation = None
        if getattr(args, "continue_", False):
            conversation = store.latest_conversation()
            if conversation is None:
                raise SalonError("there is no conversation to continue yet; ask without --continue to start one")
        elif reference := getattr(args, "conversation", None):
            conversation = store.resolve_conversation(reference)
        # An explicit --agent wins; a continued conversation keeps the agent it had.
        agent = session.agent(args.agent or (conversation.agent_id if conversation else None), args.model)
        exchange = Exchange(store, conversation.id if conversation else None, agent_id=agent.id,
                            on_stop=lambda error: _said(stderr, f"salon: the reply is not being saved: {error}\n"))
        history = exchange.history()
        if conversation is not None and agent.id != conversation.agent_id:
            store.set_conversation_agent(conversation.id, agent.id)
        exchange.write_prompt(prompt)
    except ConversationNotFound:
        store.close()
        raise
    except StoreError as error:
        store.close()
        if agent is None or history is None:
            if continuing:
                raise SalonError(f"cannot continue a conversation: {error}") from None
            agent, history = session.agent(args.agent, args.model), []
        # The history was read; only saving failed (a full disk): answer with it, unsaved.
        return agent, history, _unsaved(stderr, error), Redactor(secrets)
    except BaseException:
        store.close()
        raise
    return agent, history, exchange, store.redact


def _unsaved(stderr: TextIO, error: StoreError) -> Exchange:
    from salon.store import Exchange

    _said(stderr, f"salon: this exchange is not being saved: {error}\n")
    return Exchange(None)


def _said(stderr: TextIO, line: str) -> None:
    stderr.write(line)
    stderr.flush()


async def _print_run(run: Run, events: AsyncIterator[Event], args: argparse.Namespace, stdout: TextIO,
                     stderr: TextIO, saving: bool = False, redact: Callable[[str], str] = str,
                     approver: Approver | None = None) -> int:
    """Print the run's ``events`` (the run followed by its exchange); ``run`` is stopped if the reader goes away."""
    from salon.cli.ask_tools import Refused, ToolRows
    from salon.events import (
        MessageCompleted,
        MessageCreated,
        MessageDelta,
        RequiresAction,
        RunCancelled,
        RunCreated,
        RunFailed,
        StepCompleted,
        StepDelta,
        ToolsUnavailable,
    )

    live = bool(args.stream)
    labelled = False
    printed_any = printed_partial = False
    refused = False
    rows = ToolRows(stderr) if approver is not None else None
    async for event in events:
        match event:
            case StepDelta() if rows is not None:
                rows.delta(event)
            case RequiresAction() if approver is not None and rows is not None:
                rows.close()
                try:
                    await approver.answer(run, event)
                except Refused as refusal:
                    stderr.write(f"salon: {refusal}\n")
                    refused = True
                    run.cancel()
            case StepCompleted() if rows is not None:
                rows.completed(event)
            case ToolsUnavailable():
                for line in event.notice.splitlines():
                    stderr.write(f"salon: warning: {redact(line)}\n")
                stderr.flush()
            case RunCreated(steps=steps):
                labelled = steps != 1  # 0: a Python agent, whose number of messages is known only at its end
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
            case MessageCompleted(reply=reply, agent_name=name, status=status):
                printed_partial = status == "failed" and bool(reply.text)
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
            case RunFailed(error=error, retryable=retryable):
                stderr.write(f"salon: {redact(error)}\n")
                if printed_partial and retryable and saving:
                    stderr.write("salon: the partial reply above is saved (`salon history show`); run the same "
                                 "command again to retry\n")
                return EXIT_ERROR
            case RunCancelled() if refused:
                return EXIT_ERROR
            case RunCancelled():
                if not terminal.reader_gone(stdout):
                    stderr.write("salon: interrupted; the partial reply is above\n")
                return EXIT_INTERRUPTED
        if terminal.reader_gone(stdout) and not run.cancelled:
            # The reader went away (`| head`): stop the reply, quietly; what arrived is kept, marked interrupted.
            run.cancel()
    return EXIT_OK

