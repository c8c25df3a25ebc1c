"""The settings screen: each setting of :data:`salon.config.write.SETTINGS`, edited and saved to config.toml."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static, Switch

from salon.config.write import SETTINGS, Setting
from salon.tui.plain import PlainInput, plain
from salon.tui.services import salon_app

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.widget import Widget

NEEDS_RESTART = ("data_dir", "ollama.host", "ollama.connect_timeout", "ollama.read_timeout")
"""Settings the running app holds on to (its store, its providers): they take effect at the next start."""

LABELS = {
    "theme": "Theme", "default_agent": "Default agent", "follow": "Follow the reply as it streams",
    "show_thinking": "Show thinking", "data_dir": "Data folder", "ollama.host": "Ollama host",
    "ollama.connect_timeout": "Connect timeout (s)", "ollama.read_timeout": "Request timeout (s)",
}


def field_id(key: str) -> str:
    return "setting-" + key.replace(".", "-").replace("_", "-")


def parse_value(item: Setting, raw: Any) -> tuple[Any, str | None]:
    """The value to save for what the user entered (``None``: remove the key), or a reason it is refused."""
    if item.kind == "boolean":
        return bool(raw), None
    if raw is None or raw is Select.BLANK:
        return None, None
    text = str(raw).strip()
    if not text:
        return None, None
    if item.kind == "seconds":
        try:
            seconds = float(text)
        except ValueError:
            return None, f"{LABELS.get(item.key, item.key)}: '{text}' is not a number of seconds"
        if seconds <= 0:
            return None, f"{LABELS.get(item.key, item.key)}: must be more than 0 seconds"
        return seconds, None
    if item.key == "ollama.host":
        from salon.config.read import HostError, parse_host

        try:
            parse_host(text, LABELS.get(item.key, item.key))
        except HostError as error:
            return None, str(error)
    return text, None


class SettingsScreen(ModalScreen[dict[str, Any] | None]):
    """Returns the settings that changed and were saved, or None when closed unchanged."""

    DEFAULT_CSS = """
    SettingsScreen { align: center middle; background: $background 60%; }
    SettingsScreen > Vertical { width: 90%; max-width: 100; height: 90%; padding: 1 2; border: thick $primary;
                                background: $surface; }
    SettingsScreen .dialog-title { text-style: bold; color: $primary; margin: 0 0 1 0; }
    SettingsScreen .setting { height: auto; margin: 0 0 1 0; }
    SettingsScreen .setting-label { text-style: bold; }
    SettingsScreen .setting-help { color: $text-muted; }
    SettingsScreen Input, SettingsScreen Select { width: 1fr; }
    SettingsScreen #settings-note { color: $text-muted; height: auto; }
    SettingsScreen #settings-note.-error { color: $error; }
    SettingsScreen .buttons { height: auto; align-horizontal: right; }
    SettingsScreen Button { margin: 0 0 0 2; }
    """

    BINDINGS = [
        Binding("escape", "close", "Close", id="settings-close"),
        Binding("f2", "save", "Save", id="settings-save"),
    ]

    def __init__(self, values: Mapping[str, Any], themes: Sequence[str], agents: Sequence[str]) -> None:
        super().__init__(id="settings-screen")
        self.values = dict(values)
        self.themes = list(themes)
        self.agents = list(agents)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content("Settings — saved to config.toml"), classes="dialog-title")
            with VerticalScroll(id="settings-body"):
                for item in SETTINGS:
                    with Vertical(classes="setting"):
                        yield Static(Content(LABELS.get(item.key, item.key)), classes="setting-label")
                        yield self._field(item)
                        restart = " Takes effect at the next start." if item.key in NEEDS_RESTART else ""
                        yield Static(Content(item.help + restart), classes="setting-help")
            yield Static(Content("F2 saves · Esc closes without saving"), id="settings-note")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def _field(self, item: Setting) -> Widget:
        value = self.values.get(item.key)
        if item.kind == "boolean":
            return Switch(bool(value if value is not None else item.default), id=field_id(item.key))
        if item.kind in ("theme", "agent"):
            names = self.themes if item.kind == "theme" else self.agents
            # Names come from files and config.toml: shown as they are, never read as markup.
            options = [(plain(name), name) for name in dict.fromkeys([*names, *([value] if value else [])])]
            return Select(options, value=value if value in dict(options) else Select.BLANK, allow_blank=False,
                          id=field_id(item.key))
        shown = "" if value is None else str(value)
        placeholder = "default" if item.default is None else f"default: {item.default}"
        return PlainInput(shown, placeholder=placeholder, id=field_id(item.key))

    def on_mount(self) -> None:
        self.query_one(f"#{field_id(SETTINGS[0].key)}").focus()

    def entered(self) -> tuple[dict[str, Any], list[str]]:
        """What the fields hold that differs from the saved values, and the reasons any field is refused."""
        changes: dict[str, Any] = {}
        problems: list[str] = []
        for item in SETTINGS:
            widget = self.query_one(f"#{field_id(item.key)}")
            raw = widget.value  # type: ignore[attr-defined]
            value, problem = parse_value(item, raw)
            if problem:
                problems.append(problem)
                continue
            saved = self.values.get(item.key)
            if value is None and item.kind not in ("boolean",) and saved in (None, item.default):
                continue
            if value != saved:
                changes[item.key] = value
        return changes, problems

    def _note(self, text: str, error: bool = False) -> None:
        note = self.query_one("#settings-note", Static)
        note.update(plain(text))
        note.set_class(error, "-error")

    @on(Button.Pressed, "#save")
    async def action_save(self) -> None:
        changes, problems = self.entered()
        if problems:
            self._note("\n".join(problems), error=True)
            return
        if not changes:
            self.dismiss(None)
            return
        if not await salon_app(self).save_settings(changes):
            self._note("Not saved: see the message.", error=True)
            return
        self.dismiss(changes)

    @on(Button.Pressed, "#cancel")
    def action_close(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    async def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.action_save()
