"""A modal list with fuzzy search: the base of the agent and model pickers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from salon.tui.plain import PlainInput, highlighted, plain, safe_text

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.fuzzy import Matcher


@dataclass(frozen=True, slots=True)
class Choice:
    """One entry: ``value`` is returned when picked; the query is matched against ``search`` (or the label)
    first, then against ``detail``."""

    value: str
    label: str
    detail: str = ""
    search: str = ""
    current: bool = False


class PickerScreen(ModalScreen[str | None]):
    """Type to narrow (fuzzy), arrows to move, Enter to pick, Esc to leave unchanged."""

    BINDINGS = [
        Binding("escape", "dismiss_none", "Cancel", id="picker-cancel"),
        Binding("down", "move(1)", "Next", show=False, id="picker-next"),
        Binding("up", "move(-1)", "Previous", show=False, id="picker-previous"),
    ]

    def __init__(self, title: str, choices: Sequence[Choice] = (), *, placeholder: str = "Type to search",
                 id: str | None = None) -> None:
        super().__init__(id=id, classes="picker")
        self.title_text = title
        self.choices: list[Choice] = list(choices)
        self._placeholder = placeholder
        self.shown: list[Choice] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Content(self.title_text), classes="dialog-title")
            yield PlainInput(placeholder=self._placeholder, id="query")
            yield OptionList(id="choices")
            yield Static(classes="dialog-note", id="note")

    def on_mount(self) -> None:
        self.refill("")
        self.query_one("#query", Input).focus()

    def set_choices(self, choices: Sequence[Choice], note: str = "") -> None:
        self.choices = list(choices)
        self.set_note(note)
        self.refill(self.query_one("#query", Input).value)

    def set_note(self, note: str) -> None:
        notice = self.query_one("#note", Static)
        notice.update(plain(note))
        notice.display = bool(note)

    def refill(self, query: str) -> None:
        from textual.fuzzy import Matcher

        options = self.query_one("#choices", OptionList)
        query = query.strip()
        if query:
            matcher = Matcher(query)
            # A hit in the name or id ranks above one found only in the description; among equal hits, the
            # shorter name, of which the query is more.
            scored = [(matcher.match(c.search or c.label), matcher.match(c.detail) if c.detail else 0.0,
                       len(c.search or c.label), i, c) for i, c in enumerate(self.choices)]
            ranked = sorted(scored, key=lambda s: (s[0] <= 0, -s[0], s[2], -s[1], s[3]))
            self.shown = [c for primary, secondary, _, _, c in ranked if primary > 0 or secondary > 0]
        else:
            matcher = None
            self.shown = list(self.choices)
        options.clear_options()
        options.add_options([self._option(c, matcher) for c in self.shown])
        if self.shown:
            current = next((i for i, c in enumerate(self.shown) if c.current), 0)
            options.highlighted = 0 if query else current

    @staticmethod
    def _option(choice: Choice, matcher: Matcher | None) -> Option:
        label = plain(choice.label) if matcher is None else highlighted(choice.label, matcher)
        mark = Content.styled("● ", "$accent") if choice.current else Content("  ")
        prompt = Content.assemble(mark, label.stylize("bold"))
        if choice.detail:
            prompt = Content.assemble(prompt, "\n   ", Content.styled(safe_text(choice.detail), "$text-muted"))
        return Option(prompt, id=choice.value)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.refill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        options = self.query_one("#choices", OptionList)
        if options.highlighted is not None and self.shown:
            self.dismiss(self.shown[options.highlighted].value)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_move(self, step: int) -> None:
        options = self.query_one("#choices", OptionList)
        if options.option_count:
            current = options.highlighted if options.highlighted is not None else -step
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
