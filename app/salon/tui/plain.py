"""Untrusted text to the screen: every string that did not come from Salon's own code is shown as plain text.

Textual parses a ``str`` given to ``border_title``, ``notify()``, ``Static``, ``Label`` or the fuzzy matcher's
highlighting as markup: ``[@click=app.quit]`` runs an action when clicked, ``[/INST]`` raises ``MarkupError``. An
agent name, a server's model name or error, a title from an imported conversation or a theme name goes in through
these helpers instead, as :class:`~textual.content.Content` built from the string, with its control characters made
visible (:func:`salon.terminal.inert`) so that no escape sequence reaches the terminal either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Input

from salon.terminal import inert

if TYPE_CHECKING:
    from textual.fuzzy import Matcher


def _one_for_one() -> dict[int, str]:
    table = {code: chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A)}
    table[0x7F] = "\u2421"
    table.update({code: "\ufffd" for code in (*range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A),
                                              *range(0xD800, 0xE000))})
    return table


_ONE_FOR_ONE = _one_for_one()


def safe_text(text: str) -> str:
    """``text`` with control characters made visible; Windows line ends become plain newlines."""
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return inert(text)


def editable(text: str) -> str:
    """``text`` made inert one character for one (an offset in it is an offset in the original), for text being
    edited: a pasted or stored ESC becomes ␛, a C1 or bidi control U+FFFD."""
    return text.translate(_ONE_FOR_ONE)


def plain(text: str) -> Content:
    """``text`` as it is, for anywhere Textual would read a string as markup (titles, labels, notes)."""
    return Content(safe_text(text))


def styled(text: str, style: str) -> Content:
    """``text`` as it is, in ``style`` (Salon's own style, such as ``"bold $accent"``)."""
    return Content.styled(safe_text(text), style)


def highlighted(text: str, matcher: Matcher) -> Content:
    """``text`` with the letters ``matcher``'s query hit in it highlighted.

    ``Matcher.highlight`` parses the candidate as markup, so a model or agent name with ``[/…]`` in it crashed the
    picker as soon as the user typed; this matches the same way and styles plain text.
    """
    shown = safe_text(text)
    content = Content(shown)
    score, offsets = matcher.fuzzy_search.match(matcher.query, shown)
    if not score:
        return content
    for offset in offsets:
        if not shown[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class PlainInput(Input):
    """An ``Input`` whose value never holds what a terminal would obey (a pasted escape, a stored title's).

    ``Input`` draws its value as it is; replacing control characters one for one keeps the cursor where it was.
    """

    def validate_value(self, value: str) -> str:
        return editable(value)
