"""The help screen: every key binding as it is now (remaps from config.toml included), and keys to avoid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from salon.config.keymap import SWALLOWED_KEYS, BindingInfo, describe_keys

if TYPE_CHECKING:
    from textual.app import ComposeResult

WHERE = {
    "SalonApp": "Everywhere",
    "ChatScreen": "Chat",
    "Composer": "Prompt box",
    "ChatLog": "Messages (tab from the prompt box)",
    "ConversationList": "Conversation list",
    "PickerScreen": "Pickers",
    "SearchScreen": "Search",
    "ConfirmScreen": "Questions",
    "ApprovalScreen": "Tool approval",
    "TextPrompt": "Text prompts",
    "HelpScreen": "This screen",
    "SettingsScreen": "Settings",
}


def remappable(bindings: Sequence[tuple[BindingInfo, str]]) -> list[tuple[BindingInfo, str]]:
    """The bindings a person can remap (those with an id), each once per place.

    Textual's own bindings of base classes (a text area's cursor keys, scrolling) have no id: they are left out, as
    are those a subclass replaced by binding the same key.
    """
    kept: dict[tuple[str, str], tuple[BindingInfo, str]] = {}
    for info, keys in bindings:
        for key in info.keys.split(","):
            kept.pop((info.owner, key.strip()), None)
        if info.id:
            kept[(info.owner, info.keys)] = (info, keys)
    return list(kept.values())


def bindings_text(bindings: Sequence[tuple[BindingInfo, str]]) -> Content:
    """The bindings grouped by where they work: keys, what they do, and the id to remap them with."""
    parts: list[Content | str | tuple[str, str]] = []
    owner = None
    bindings = remappable(bindings)
    key_width = min(22, max((len(describe_keys(keys)) for _, keys in bindings), default=0))
    for info, keys in bindings:
        if info.owner != owner:
            owner = info.owner
            parts += ["\n" if parts else "", (WHERE.get(owner, owner), "bold $primary"), "\n"]
        shown = describe_keys(keys) or "(none)"
        parts += [(f"  {shown:<{key_width}}  ", "bold $accent"), f"{info.description or info.action:<22}",
                  (f" {info.id}", "$text-muted"), "\n"]
    parts += ["\n", ("Also", "bold $primary"), "\n", (f"  {'ctrl+p':<{key_width}}  ", "bold $accent"),
              "Command palette: every command, by name\n"]
    return Content.assemble(*parts)


def swallowed_text() -> Content:
    """Which keys may never reach Salon, and why: Salon's defaults avoid them; a remap to one warns."""
    parts: list[Content | str | tuple[str, str]] = [
        ("Keys your terminal may keep for itself", "bold $primary"), "\n",
        ("Salon's defaults avoid those marked *; binding one in [keymap] warns at start-up.", "$text-muted"), "\n"]
    for entry in SWALLOWED_KEYS:
        mark = "* " if entry.avoid else "  "
        parts += [(f"{mark}{describe_keys(','.join(entry.keys))}", "bold"), f" — {entry.where}: {entry.why}\n"]
    return Content.assemble(*parts)


class HelpScreen(ModalScreen[None]):
    """Lists the current bindings; Esc (or the help key again) closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; background: $background 60%; }
    HelpScreen > Vertical { width: 90%; max-width: 110; height: 90%; padding: 1 2; border: thick $primary;
                            background: $surface; }
    HelpScreen .dialog-title { text-style: bold; color: $primary; margin: 0 0 1 0; }
    HelpScreen .help-note { color: $text-muted; margin: 1 0 0 0; }
    HelpScreen #swallowed { margin: 1 0 0 0; }
    """

    BINDINGS = [
        Binding("escape,q", "close", "Close", id="help-close"),
    ]

    def __init__(self, bindings: Sequence[tuple[BindingInfo, str]]) -> None:
        super().__init__(id="help-screen")
        self.bindings_shown = list(bindings)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content("Keys — remap any of them by its id in config.toml's [keymap]"),
                         classes="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(bindings_text(self.bindings_shown), id="bindings")
                yield Static(swallowed_text(), id="swallowed")
            yield Static(Content("Esc closes · ctrl+p lists every command · `salon config edit` opens config.toml"),
                         classes="help-note")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
