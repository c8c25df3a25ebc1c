"""Untrusted text to a terminal: shown, never obeyed.

Text Salon prints comes from models, servers, agent and theme files, imported conversations and the database. On a
terminal, a control character in it is a command (ESC starts a sequence that can clear the screen, set the
clipboard or the window title, hide the cursor; the 8-bit C1 controls do the same) and a bidi override reorders what
the reader sees. So when standard output or standard error is a terminal, every C0 and C1 control character except
newline and tab is written as its visible picture or a ``\\u{…}`` escape, and so are bidi overrides and isolates;
through a pipe or into a file the text stays byte for byte what was received (``salon ask > answer.md``). ``--raw``
asks for the raw bytes on a terminal too.

The TUI draws through the same :func:`inert` (see ``salon.tui.plain``). Nothing here imports more than the
standard library: every ``salon`` command loads it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import TextIO, cast

from salon.surrogates import REPLACEMENT, mend

EXIT_BROKEN_PIPE = 141
"""The reader of standard output went away (``salon … | head``): 128 + SIGPIPE, what a shell reports for a Unix
tool stopped the same way, so ``set -o pipefail`` scripts see what they see for ``yes | head``."""

_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))


def _inert_forms() -> dict[str, str]:
    forms = {chr(code): chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A)}  # ESC → ␛
    forms["\x7f"] = "\u2421"  # ␡
    # C1 controls and bidi controls have no pictures: an escape names them.
    forms.update({chr(code): f"\\u{{{code:04x}}}" for code in (*range(0x80, 0xA0), *_BIDI)})
    forms.update({chr(code): REPLACEMENT for code in range(0xD800, 0xE000)})
    return forms


_FORMS = _inert_forms()
_UNSAFE = re.compile("[" + re.escape("".join(_FORMS)) + "]")


def inert(text: str) -> str:
    """``text`` as a terminal may safely show it: controls (but newline and tab) and bidi controls made visible.

    Lone UTF-16 surrogates become U+FFFD, a pair its character, so writing the result never raises.
    """
    text = mend(text)
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(lambda found: _FORMS[found.group()], text)


_LINE_BREAKS = {"\n": "\u240a", "\r": "\u240d", "\v": "\u240b", "\f": "\u240c", "\x1c": "\u241c",
                "\x1d": "\u241d", "\x1e": "\u241e", "\x85": "\\u{0085}", "\u2028": "\\u{2028}",
                "\u2029": "\\u{2029}"}
_LINE_BREAK = re.compile("[" + "".join(_LINE_BREAKS) + "]")


def one_line(text: str) -> str:
    """``text`` for a field a listing shows on one line (a name, an id, a path): every line break visible (␊).

    Applied through a pipe too: a name ending in ``"\nok   …/safe.toml"`` must not read as a line of its own to
    the person or the script reading ``salon agents list``. Everything else is left to :func:`inert`.
    """
    if not _LINE_BREAK.search(text):
        return text
    return _LINE_BREAK.sub(lambda found: _LINE_BREAKS[found.group()], text)


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-like stream without a terminal behind it
        return False


class TerminalWriter:
    """A text stream that writes untrusted text safely: inert on a terminal, exact elsewhere.

    ``write`` and ``flush`` stand in for the stream's own, so a command writes through it as it would to
    ``sys.stdout``. A reader that went away (``| head``) is noted in :attr:`broken` instead of raising
    ``BrokenPipeError``: what is written after it is dropped, and the command stops in its own way (``salon ask``
    stops the reply and keeps what arrived; ``salon`` exits quietly with :data:`EXIT_BROKEN_PIPE`).
    """

    def __init__(self, stream: TextIO, *, raw: bool = False) -> None:
        self.stream = stream
        self.inert = not raw and is_terminal(stream)
        self.broken = False
        self._carriage = False  # a "\r" that ended a write: a line end if "\n" comes next

    def write(self, text: str) -> int:
        if self.broken or not text:
            return 0
        shown = self._inert(text) if self.inert else mend(text)
        try:
            self.stream.write(shown)
        except BrokenPipeError:
            self.broken = True
        return len(text)

    def _inert(self, text: str) -> str:
        # "\r\n" is a line end, even split between two writes (streamed text); a lone "\r" moves the cursor back
        # over the line, so it is shown as ␍.
        if self._carriage:
            text = ("" if text.startswith("\n") else "\r") + text
        self._carriage = text.endswith("\r")
        if self._carriage:
            text = text[:-1]
        return inert(text.replace("\r\n", "\n"))

    def flush(self) -> None:
        if self.broken:
            return
        try:
            if self._carriage:
                self._carriage = False
                self.stream.write(inert("\r"))
            self.stream.flush()
        except BrokenPipeError:
            self.broken = True

    def isatty(self) -> bool:
        return is_terminal(self.stream)


def add_raw_option(parser: argparse.ArgumentParser) -> None:
    """``--raw`` on a command that prints untrusted text."""
    parser.add_argument("--raw", action="store_true", default=argparse.SUPPRESS,
                        help="on a terminal, write control characters as received instead of as visible "
                             "symbols (through a pipe or into a file, text is always exact)")


def writer(stream: TextIO, *, raw: bool = False) -> TextIO:
    """``stream`` wrapped once (a writer passed in again is returned as it is)."""
    if isinstance(stream, TerminalWriter):
        return stream
    return cast(TextIO, TerminalWriter(stream, raw=raw))


def reader_gone(stream: TextIO) -> bool:
    """Whether the reader of ``stream`` (a :func:`writer`) went away."""
    return bool(getattr(stream, "broken", False))


def error(message: str, stream: TextIO | None = None) -> None:
    """One ``salon: …`` line on standard error; what it quotes (a server's words, a file's name) is made inert."""
    out = writer(stream or sys.stderr)
    try:
        out.write(f"salon: {message}\n")
        out.flush()
    except BrokenPipeError:
        pass


def silence_stdout() -> None:
    """After a reader went away: point standard output at the null device, so the flush at exit cannot raise
    ``BrokenPipeError`` again (Python would print "Exception ignored …" and exit 120)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
