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

from salon.terminal import inert

if TYPE_CHECKING:
    from textual.fuzzy import Matcher


def safe_text(text: str) -> str:
    """``text`` with control characters made visible; Windows line ends become plain newlines."""
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return inert(text)


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
