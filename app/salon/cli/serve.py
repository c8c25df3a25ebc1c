"""``salon serve``: start the HTTP face on loopback (or, with a token, elsewhere) and run until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from salon.errors import SalonError

if TYPE_CHECKING:
    from salon.api import Session
    from salon.cli.common import Subcommands

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_CONNECTIONS = 512  # open at once by default: each watcher of a run holds one


def add_parser(sub: Subcommands) -> None:
    serve = sub.add_parser(
        "serve", help="serve the agents over HTTP (Server-Sent Events) with a web page",
        description="Serve Salon's agents over HTTP: an API in the shape of OpenAI's Assistants, its run events "
                    "as Server-Sent Events, and a web page at /. Threads are Salon's conversations.")
    serve.add_argument("--host", default=DEFAULT_HOST,
                       help=f"address to bind (default {DEFAULT_HOST}); any other than loopback needs the token")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free)")
    # As on the top level (`salon --data-dir D serve` works too): the conversations the threads are.
    serve.add_argument("--data-dir", metavar="DIR", type=Path, default=argparse.SUPPRESS,
                       help="where conversations are kept (default: the platform's data folder)")
    serve.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       help="allow browser pages from this origin (e.g. http://localhost:3000); repeatable. "
                            "Default: none")
    serve.add_argument("--max-connections", type=_positive, default=None, metavar="N",
                       help=f"connections open at once (each watcher of a run holds one); past it new ones are "
                            f"answered 503. Default {MAX_CONNECTIONS}, or less where the open-file limit is lower")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"should be a whole number of 1 or more, not {text!r}")
    return int(text)


def _connection_cap(asked: int | None) -> int:
    """The cap on open connections: what was asked, else the default, kept under the open-file limit (each
    connection is a file descriptor; the database, the model's connections and the listener need some too)."""
    if asked is not None:
        return asked
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # no such limit on this platform
        return MAX_CONNECTIONS
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(16, min(MAX_CONNECTIONS, soft - 64))


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from salon.api import Session
    from salon.serve.auth import is_loopback, load_or_create_token

    session = Session()
    for warning in session.config.warnings:
        print(f"salon: warning: {warning}", file=err)
    data_dir = args.data_dir or session.config.resolved_data_dir()
    loopback = is_loopback(args.host)
    token = None
    if not loopback:
        token, token_path, made = load_or_create_token(data_dir)
        if made:
            print(f"token (shown once, kept in {token_path}): {token}", file=out)
        else:
            print(f"token: the one in {token_path}", file=out)
    try:
        listener = _bind(args.host, args.port)
    except OSError as error:
        raise SalonError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
    cap = _connection_cap(args.max_connections)
    try:
        with _sigterm_as_interrupt():
            return asyncio.run(_serve(session, data_dir, listener, token, loopback, args.cors_origin, cap, out))
    except KeyboardInterrupt:  # uvicorn raises it again once it has shut down cleanly: a stop asked for
        print("salon serve: stopped", file=err)
        return 0


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a service manager) stops the server as Ctrl-C does, and it exits 0 with one line.

    uvicorn catches both signals while it serves, shuts down, then raises the signal again with the handler it
    found: Python's default for SIGTERM kills the process outright, before Salon closes the database.
    """
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host.strip("[]"), port))
    listener.listen(128)
    listener.set_inheritable(True)
    return listener


async def _serve(session: Session, data_dir: Path, listener: socket.socket, token: str | None, loopback: bool,
                 cors_origins: list[str], max_connections: int, stdout: TextIO) -> int:
    import uvicorn

    from salon.serve.app import Services, create_app
    from salon.serve.connections import protocol
    from salon.serve.recording import Threads
    from salon.serve.runs import RunRegistry
    from salon.serve.server import Server
    from salon.store import StoreError

    try:
        threads = Threads.open(data_dir, session.config)
    except StoreError as error:
        raise SalonError(f"cannot serve without the conversation database: {error}") from None
    runs = RunRegistry()
    app = create_app(Services(session, threads, runs), token=token, loopback=loopback, cors_origins=cors_origins)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2,
                            lifespan="on", server_header=False, http=protocol(max_connections))
    server = Server(config, runs)
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"Salon is serving on http://{shown}:{port}/ (Ctrl-C stops it)", file=stdout, flush=True)
    try:
        await server.serve(sockets=[listener])
    finally:
        threads.close()
        await session.aclose()
    return 0
