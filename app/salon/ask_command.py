"""``salon ask``: one prompt in, the reply out; composes with pipes."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable
from typing import TextIO

from salon import terminal
from salon.agents import Agent
from salon.api import Session
from salon.errors import SalonError
from salon.events import (
    Event,
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    RunCancelled,
    RunCreated,
    RunFailed,
)
from salon.providers import ChatMessage
from salon.reply import Reply
from salon.runner import Run
from salon.store import ConversationNotFound, Recorder, Redactor, Store, StoreError
from salon.surrogates import mend

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Each stops the reply, keeps the partial text (interrupted) and ends the command.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def read_prompt(args: argparse.Namespace, stdin: TextIO) -> str:
    """The prompt argument, standard input, or both (``git diff | salon ask "Review this"``)."""
    # Bytes that are not UTF-8 in an argument arrive as lone surrogates, which SQLite cannot store.
    given = mend(" ".join(args.prompt))
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
    # The reply, the server's errors and the model's name: inert on a terminal, exact through a pipe (terminal.py).
    stdout = terminal.writer(stdout, raw=getattr(args, "raw", False))
    stderr = terminal.writer(stderr)
    prompt = read_prompt(args, sys.stdin)
    async with Session() as session:
        # A broken config.toml is read as defaults; said here, or the user's host or timeouts vanish silently.
        for warning in session.config.warnings:
            stderr.write(f"salon: warning: {warning}\n")
        if not args.agent and session.default_agent_warning:
            stderr.write(f"salon: warning: {session.default_agent_warning}\n")
        _check_ollama_host(session, args)
        store, agent, history, saver = _begin_exchange(session, args, prompt, stderr)
        for error in session.catalog.shadowing_errors(agent.id):
            stderr.write(f"salon: warning: {error}; using {agent.path} instead\n")
        run = session.run(agent, prompt, history=history, stream=args.stream)
        loop = asyncio.get_running_loop()
        received: list[int] = []

        def interrupt(signum: int) -> None:
            received.append(signum)
            run.cancel()
            # A second Ctrl-C falls through to Python's default and ends the process at once.
            loop.remove_signal_handler(signal.SIGINT)

        for signum in _STOP_SIGNALS:
            loop.add_signal_handler(signum, interrupt, signum)
        try:
            code = await _print_run(run, args, stdout, stderr, saver)
            # Killed by SIGTERM or SIGHUP (not Ctrl-C): exit as a process ended by it reports, 143 or 129.
            return 128 + received[0] if code == EXIT_INTERRUPTED and received and received[0] != signal.SIGINT else code
        finally:
            for signum in _STOP_SIGNALS:
                loop.remove_signal_handler(signum)
            saver.flush()
            if store is not None:
                store.close()


def _check_ollama_host(session: Session, args: argparse.Namespace) -> None:
    """A malformed OLLAMA_HOST is one line naming it (a HostError), before anything is stored or sent."""
    from salon.providers import is_ollama

    try:
        agent = session.agent(args.agent, args.model)
    except SalonError:
        return  # reported, with its own words, where the exchange begins
    if any(is_ollama(model) for model in agent.models):
        session.config.resolved_ollama_host()


def _begin_exchange(session: Session, args: argparse.Namespace, prompt: str,
                    stderr: TextIO) -> tuple[Store | None, Agent, list[ChatMessage], _Saver]:
    """Open the conversation to continue (or a new one) and store the prompt before anything is sent.

    A database that cannot be opened or written (damaged, newer, read-only, disk full) does not cost the user the
    answer: it is asked for unsaved, with a warning. Only continuing a conversation needs the database to work.
    """
    from salon.store import secret_values

    secrets = secret_values(session.config)
    continuing = bool(getattr(args, "continue_", False) or getattr(args, "conversation", None))
    try:
        store = Store.open(args.data_dir or session.config.resolved_data_dir(), secrets=secrets)
    except StoreError as error:
        if continuing:
            raise SalonError(f"cannot continue a conversation: {error}") from None
        return None, session.agent(args.agent, args.model), [], _Saver.unsaved(stderr, error, Redactor(secrets))
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
        history = store.history(conversation.id) if conversation else []
        if conversation is None:
            conversation = store.create_conversation(agent.id)
        elif agent.id != conversation.agent_id:
            store.set_conversation_agent(conversation.id, agent.id)
        store.add_user_message(conversation.id, prompt)
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
        return None, agent, history, _Saver.unsaved(stderr, error, Redactor(secrets))
    except BaseException:
        store.close()
        raise
    return store, agent, history, _Saver(store.recorder(conversation.id), stderr, store.redact)


class _Saver:
    """Records the run; a failing disk is reported once and never stops the reply being printed."""

    def __init__(self, recorder: Recorder | None, stderr: TextIO, redact: Callable[[str], str] = str) -> None:
        self.recorder = recorder
        self.stderr = stderr
        # Error text can quote what a server was sent, keys included: shown only after this.
        self.redact = redact

    @classmethod
    def unsaved(cls, stderr: TextIO, error: StoreError, redact: Redactor) -> _Saver:
        stderr.write(f"salon: this exchange is not being saved: {error}\n")
        stderr.flush()
        return cls(None, stderr, redact)

    @property
    def saving(self) -> bool:
        return self.recorder is not None

    def __call__(self, event: Event) -> None:
        self._guard(lambda recorder: recorder.handle(event))

    def flush(self) -> None:
        self._guard(lambda recorder: recorder.flush())

    def _guard(self, action: Callable[[Recorder], None]) -> None:
        if self.recorder is None:
            return
        try:
            action(self.recorder)
        except StoreError as error:
            self.recorder = None
            self.stderr.write(f"salon: the reply is not being saved: {error}\n")


async def _print_run(run: Run, args: argparse.Namespace, stdout: TextIO, stderr: TextIO,
                     on_event: _Saver | None = None) -> int:
    live = bool(args.stream)
    labelled = False
    printed_any = printed_partial = False
    async for event in run:
        if on_event is not None:
            on_event(event)
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
                redact = on_event.redact if on_event is not None else str
                stderr.write(f"salon: {redact(error)}\n")
                if printed_partial and retryable and on_event is not None and on_event.saving:
                    stderr.write("salon: the partial reply above is saved (`salon history show`); run the same "
                                 "command again to retry\n")
                return EXIT_ERROR
            case RunCancelled():
                if not terminal.reader_gone(stdout):
                    stderr.write("salon: interrupted; the partial reply is above\n")
                return EXIT_INTERRUPTED
        if terminal.reader_gone(stdout) and not run.cancelled:
            # The reader went away (`| head`): stop the reply, quietly; what arrived is kept, marked interrupted.
            run.cancel()
    return EXIT_OK

