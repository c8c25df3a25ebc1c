"""``salon models``: the Ollama host's models, then GGUF files found here and the cloud models named in config.toml
(listing those sends nothing and loads no engine)."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, TextIO

from salon import terminal
from salon.cli.exitcodes import EXIT_ERROR, EXIT_OK

if TYPE_CHECKING:
    from salon.cli.common import Subcommands


def add_parser(sub: Subcommands) -> None:
    terminal.add_raw_option(sub.add_parser("models", help="Ollama's models, GGUF files and cloud ones named in "
                                                          "config.toml"))


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return asyncio.run(_models(out, err))


async def _models(out: TextIO, err: TextIO) -> int:
    from salon.api import Session

    async with Session() as session:
        listing = await session.list_models()
    models, ollama_error = listing.models, listing.error
    for model in models:
        size = f"{model.size / 1e9:.1f} GB" if model.size else ""
        out.write(f"{model.ref:<40} {model.details:<16} {size}".rstrip() + "\n")
    if ollama_error is not None:
        terminal.error(str(ollama_error), err)
        return EXIT_ERROR if not models else EXIT_OK
    if not models:
        print("no models yet: download one with `ollama pull llama3.2`, or put a .gguf file in the folder "
              "`salon config path models` prints", file=err)
    return EXIT_OK
