"""The ``salon`` command: one module per subcommand; :func:`main` (the console script) dispatches to them."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    # Imported here so that ``import salon.cli.ask`` (or any subcommand) does not pay for the dispatcher.
    from salon.cli.dispatch import main as dispatch

    return dispatch(argv)
