"""``salon serve``: start the HTTP face on loopback (or, with a token, elsewhere) and run until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import socket
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from salon.errors import SalonError

if TYPE_CHECKING:
    from salon.api import Session
    from salon.cli.common import Subcommands

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


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
    try:
        return asyncio.run(_serve(session, data_dir, listener, token, loopback, args.cors_origin, out))
    except KeyboardInterrupt:  # uvicorn raises it again once it has shut down cleanly: a stop asked for
        print("salon serve: stopped", file=err)
        return 0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host.strip("[]"), port))
    listener.listen(128)
    listener.set_inheritable(True)
    return listener


async def _serve(session: Session, data_dir: Path, listener: socket.socket, token: str | None, loopback: bool,
                 cors_origins: list[str], stdout: TextIO) -> int:
    import uvicorn

    from salon.serve.app import Services, create_app
    from salon.serve.recording import Threads
    from salon.serve.runs import RunRegistry
    from salon.store import StoreError

    try:
        threads = Threads.open(data_dir, session.config)
    except StoreError as error:
        raise SalonError(f"cannot serve without the conversation database: {error}") from None
    app = create_app(Services(session, threads, RunRegistry()), token=token, loopback=loopback,
                     cors_origins=cors_origins)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2,
                            lifespan="on", server_header=False)
    server = uvicorn.Server(config)
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"Salon is serving on http://{shown}:{port}/ (Ctrl-C stops it)", file=stdout, flush=True)
    try:
        await server.serve(sockets=[listener])
    finally:
        threads.close()
        await session.aclose()
    return 0
