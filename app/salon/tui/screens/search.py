"""Full-text search across every stored message; picking a hit opens its conversation at that message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from salon.tui.plain import PlainInput, plain, safe_text

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.timer import Timer

    from salon.store import SearchHit, Store

# Marks no message can contain (they are control characters, which safe_text would have turned into pictures).
_OPEN, _CLOSE = "\x02", "\x03"
DEBOUNCE = 0.15


def snippet_content(snippet: str) -> Content:
    """The store's snippet with its marked terms highlighted, the rest shown literally."""
    parts: list[Any] = []
    rest = snippet
    while _OPEN in rest:
        before, _, after = rest.partition(_OPEN)
        hit, _, rest = after.partition(_CLOSE)
        parts += [safe_text(before), (safe_text(hit), "bold $accent")]
    parts.append(safe_text(rest))
    return Content.assemble(*parts)


class SearchScreen(ModalScreen["SearchHit | None"]):
    """Type words (all must match, each as a prefix; "quoted phrases" exactly); Enter opens the hit."""

    BINDINGS = [
        Binding("escape", "cancel", "Close", id="search-close"),
        Binding("down", "move(1)", "Next", show=False, id="search-next"),
        Binding("up", "move(-1)", "Previous", show=False, id="search-previous"),
    ]

    def __init__(self, store: Store | None, limit: int = 50) -> None:
        super().__init__(id="search", classes="picker")
        self.store = store
        self.limit = limit
        self.hits: list[SearchHit] = []
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content("Search every conversation"), classes="dialog-title")
            yield PlainInput(placeholder='Words to find ("an exact phrase" in quotes)', id="query")
            yield OptionList(id="hits")
            yield Static(classes="dialog-note", id="note")

    def on_mount(self) -> None:
        self.query_one("#query", Input).focus()
        if self.store is None:
            self._note("Conversations are not being saved in this session, so there is nothing to search.")
        else:
            self._note("")

    def _note(self, text: str) -> None:
        note = self.query_one("#note", Static)
        note.update(plain(text))
        note.display = bool(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, lambda: self.run_search(event.value))

    def run_search(self, query: str) -> None:
        options = self.query_one("#hits", OptionList)
        options.clear_options()
        self.hits = []
        if self.store is None or not query.strip():
            return
        try:
            self.hits = self.store.search(query, self.limit, marks=(_OPEN, _CLOSE))
        except Exception as error:  # a StoreError: say so, keep the screen
            self._note(f"Search failed: {error}")
            return
        for hit in self.hits:
            who = "You" if hit.role == "user" else "Reply"
            # One line per hit: a snippet's own line breaks would make the list hard to scan.
            snippet = " ".join(hit.snippet.split())
            title = Content.styled(safe_text(hit.conversation_title or "(untitled)"), "bold")
            options.add_option(Option(Content.assemble(title, "  ", (who, "$text-muted"), "\n   ",
                                                       snippet_content(snippet)), id=hit.message_id))
        self._note("" if self.hits else "No message matches.")
        if self.hits:
            options.highlighted = 0

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if not self.hits:
            self.run_search(event.value)
            return
        index = self.query_one("#hits", OptionList).highlighted
        if index is not None:
            self.dismiss(self.hits[index])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.hits[event.option_index])

    def action_move(self, step: int) -> None:
        options = self.query_one("#hits", OptionList)
        if options.option_count:
            current = options.highlighted if options.highlighted is not None else -step
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    def action_cancel(self) -> None:
        self.dismiss(None)
