"""``salon history``: list, show, search, export, import, rename and delete stored conversations."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from salon import terminal
from salon.cli.exitcodes import EXIT_OK
from salon.errors import SalonError

if TYPE_CHECKING:
    from salon.cli.common import Subcommands
    from salon.store import Conversation, SearchHit, Store

_SHORT_ID = len("conv_") + 10


def add_parser(sub: Subcommands) -> None:
    history = sub.add_parser(
        "history", help="list, show, search, export, import or delete saved conversations",
        description="Conversations are kept in salon.db in the data folder (--data-dir, data_dir in config.toml, "
                    "or SALON_DATA_DIR). A conversation is named by its id, any unique start of it, or `last`.")
    _add_data_dir(history)
    actions = history.add_subparsers(dest="history_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="conversations, newest first")
    listing.add_argument("--limit", "-n", type=int, default=20, help="how many (default 20; 0 for all)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")

    show = actions.add_parser("show", help="print one conversation as Markdown")
    show.add_argument("conversation", nargs="?", default="last", help="id, unique start of one, or last")
    show.add_argument("--thinking", action="store_true", help="include the models' thinking")

    search = actions.add_parser("search", help="full-text search across every message")
    search.add_argument("query", nargs="+", help='words to find (each as a prefix), or a "quoted phrase"')
    search.add_argument("--limit", "-n", type=int, default=20)

    export = actions.add_parser("export", help="write conversations as Markdown or Salon JSON")
    export.add_argument("conversations", nargs="*", help="ids (default: the last one)")
    export.add_argument("--all", action="store_true", help="every conversation")
    export.add_argument("--format", "-f", choices=("markdown", "json"),
                        help="default: json for an --output ending .json, else markdown")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")

    importing = actions.add_parser("import", help="add the conversations of a Salon JSON export")
    importing.add_argument("file", help="the JSON file, or - for standard input")

    rename = actions.add_parser("rename", help="give a conversation a new title")
    rename.add_argument("conversation")
    rename.add_argument("title", nargs="+")

    delete = actions.add_parser("delete", help="delete conversations for good")
    delete.add_argument("conversations", nargs="+")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    for action in (listing, show, search, export, importing, rename, delete):
        _add_data_dir(action)
    for action in (listing, show, search, export, delete):
        terminal.add_raw_option(action)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    # Wherever it is typed: `salon --data-dir D history list`, `salon history list --data-dir D`.
    parser.add_argument("--data-dir", metavar="DIR", type=Path, default=argparse.SUPPRESS,
                        help="where conversations are kept (default: data_dir in config.toml, else the "
                             "platform's data folder)")


def run(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO = sys.stdin) -> int:
    # Titles, agent ids and texts come from prompts, models and imports: inert on a terminal, exact in a pipe.
    stdout = terminal.writer(out, raw=getattr(args, "raw", False))
    with open_store(args) as store:
        match args.history_command:
            case "list":
                return _list(store, args, stdout, err)
            case "show":
                from salon.store.transcript import write_markdown

                write_markdown(store, [store.resolve_conversation(args.conversation)], stdout,
                               thinking=args.thinking)
            case "search":
                return _search(store, " ".join(args.query), args.limit, stdout, err)
            case "export":
                return _export(store, args, stdout, err)
            case "import":
                return _import(store, args.file, stdout, stdin)
            case "rename":
                conversation = store.resolve_conversation(args.conversation)
                store.rename_conversation(conversation.id, " ".join(args.title))
            case "delete":
                return _delete(store, args, stdout, stdin)
    return EXIT_OK


@contextmanager
def open_store(args: argparse.Namespace) -> Iterator[Store]:
    """The store in the data folder: --data-dir, else data_dir in config.toml, else SALON_DATA_DIR/platform's."""
    from salon.config.read import load_config
    from salon.config.secrets import secret_values
    from salon.store import Store

    config = load_config()
    data_dir = getattr(args, "data_dir", None) or config.resolved_data_dir()
    store = Store.open(data_dir, secrets=secret_values(config))
    try:
        yield store
    finally:
        store.close()


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M")


def _list(store: Store, args: argparse.Namespace, stdout: TextIO, err: TextIO) -> int:
    conversations = store.conversations(limit=args.limit or None)
    # The agent column as wide as its longest id, so a long one does not push its title out of line.
    agent_width = max([16, *(len(c.agent_id) for c in conversations)])
    for c in conversations:
        if args.json:
            stdout.write(json.dumps({"id": c.id, "title": c.title, "agent_id": c.agent_id,
                                     "created_at": c.created_at, "updated_at": c.updated_at,
                                     "messages": c.message_count}, ensure_ascii=False) + "\n")
        else:
            stdout.write(f"{c.id[:_SHORT_ID]}  {_when(c.updated_at)}  {c.message_count:>5}  "
                         f"{c.agent_id:<{agent_width}} {c.display_title}\n")
    if not conversations and not args.json:
        err.write("no conversations yet: `salon ask` or the chat app saves each one\n")
    return EXIT_OK


_OPEN, _CLOSE = "\x02", "\x03"


def _marked(snippet: str) -> str:
    """Matched terms in [brackets], or in ⟦these⟧ where the text has brackets of its own ([/INST] read [/[INST]])."""
    plain = snippet.replace(_OPEN, "").replace(_CLOSE, "")
    opening, closing = ("⟦", "⟧") if "[" in plain or "]" in plain else ("[", "]")
    return snippet.replace(_OPEN, opening).replace(_CLOSE, closing)


def _search(store: Store, query: str, limit: int, stdout: TextIO, err: TextIO) -> int:
    hits = store.search(query, limit=limit, marks=(_OPEN, _CLOSE))
    grouped: dict[str, list[SearchHit]] = {}
    for hit in hits:  # best match first, each conversation's hits together
        grouped.setdefault(hit.conversation_id, []).append(hit)
    for conversation_id, found in grouped.items():
        stdout.write(f"{conversation_id[:_SHORT_ID]}  {found[0].conversation_title or '(untitled)'}\n")
        for hit in found:
            snippet = _marked(" ".join(hit.snippet.split()))
            stdout.write(f"    {'you' if hit.role == 'user' else 'reply'}: {snippet}\n")
    if not hits:
        err.write(f"nothing matches {query!r}\n")
        return 1
    return EXIT_OK


def _chosen(store: Store, references: list[str], everything: bool) -> list[Conversation]:
    if everything:
        return list(reversed(store.conversations()))  # oldest first reads as a diary
    return [store.resolve_conversation(ref) for ref in references or ["last"]]


def _export(store: Store, args: argparse.Namespace, stdout: TextIO, err: TextIO) -> int:
    from salon.store.transcript import write_json, write_markdown

    if args.all and args.conversations:
        raise SalonError("give conversation ids or --all, not both")
    conversations = _chosen(store, args.conversations, args.all)
    output: Path | None = args.output
    kind = args.format or ("json" if output and output.suffix.lower() == ".json" else "markdown")
    writer = write_json if kind == "json" else write_markdown
    if output is None:
        writer(store, conversations, stdout)
        return EXIT_OK
    # Written beside the target and renamed over it, so a failed export never leaves half a file behind.
    partial = output.with_name(output.name + ".partial")
    try:
        # Private from the moment it exists, as the database is: an export holds whole conversations.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a leftover .partial keeps its old mode through O_CREAT
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            count = writer(store, conversations, out)
        partial.replace(output)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise SalonError(f"cannot write {output}: {error.strerror or error}") from None
    err.write(f"exported {count} conversation{'s' * (count != 1)} to {output}\n")
    return EXIT_OK


def _import(store: Store, file: str, stdout: TextIO, stdin: TextIO) -> int:
    from salon.store.transcript import import_json

    report = import_json(store, None if file == "-" else Path(file), stdin)
    stdout.write(f"imported {len(report.imported)} conversation{'s' * (len(report.imported) != 1)}")
    if report.skipped:
        stdout.write(f"; {len(report.skipped)} already present, left as they were")
    stdout.write("\n")
    return EXIT_OK


def _delete(store: Store, args: argparse.Namespace, stdout: TextIO, stdin: TextIO) -> int:
    conversations = [store.resolve_conversation(ref) for ref in args.conversations]
    if not args.yes:
        if not stdin.isatty():
            raise SalonError("deleting needs confirmation: run it in a terminal, or add --yes")
        for c in conversations:
            stdout.write(f"  {c.id[:_SHORT_ID]}  {c.message_count} messages  {c.display_title}\n")
        stdout.write(f"Delete {'these' if len(conversations) > 1 else 'this'} for good? [y/N] ")
        stdout.flush()
        if stdin.readline().strip().lower() not in ("y", "yes"):
            stdout.write("nothing deleted\n")
            return EXIT_OK
    for c in conversations:
        store.delete_conversation(c.id)
        stdout.write(f"deleted {c.id[:_SHORT_ID]}  {c.display_title}\n")
    return EXIT_OK
