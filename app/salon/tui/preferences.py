"""What the app does for the user's habits: the keymap, themes and settings saved back, help, export.

:class:`PreferencesMixin` is mixed into :class:`~salon.tui.app.SalonApp`; it holds the app-wide actions the command
palette and the chat screen's bindings name (``app.help``, ``app.settings``, ``app.pick_theme``, …), so ``app.py``
stays about start-up and closing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from salon.errors import SalonError

if TYPE_CHECKING:
    from textual.app import App

    from salon.api import Session
    from salon.config.keymap import BindingInfo, KeymapCheck
    from salon.tui.screens.chat import ChatScreen
    from salon.tui.services import Services

    _AppBase = App[int]
else:
    _AppBase = object


def binding_classes(app: type) -> list[type]:
    """Every class of the TUI that declares bindings, ``app`` (the app's class) first: what the keymap is checked
    against and help lists. The app comes from the caller because it is built on this module."""
    from salon.tui.screens.chat import ChatScreen
    from salon.tui.screens.confirm import ConfirmScreen
    from salon.tui.screens.help import HelpScreen
    from salon.tui.screens.picker import PickerScreen
    from salon.tui.screens.search import SearchScreen
    from salon.tui.screens.settings import SettingsScreen
    from salon.tui.screens.text_prompt import TextPrompt
    from salon.tui.widgets.chat_log import ChatLog
    from salon.tui.widgets.composer import Composer
    from salon.tui.widgets.conversation_list import ConversationList

    return [app, ChatScreen, Composer, ChatLog, ConversationList, PickerScreen, SearchScreen, ConfirmScreen,
            TextPrompt, HelpScreen, SettingsScreen]


def current_bindings(app: type, keymap: Mapping[str, str]) -> list[tuple[BindingInfo, str]]:
    """Each binding of the TUI with the keys it answers to under ``keymap``."""
    from salon.config.keymap import collect_bindings

    return [(info, info.keys_under(keymap)) for info in collect_bindings(*binding_classes(app))]


class PreferencesMixin(_AppBase):
    """App-level actions for the palette and bindings; mixed into ``SalonApp`` (``self`` is the app)."""

    keymap_check: KeymapCheck | None = None
    if TYPE_CHECKING:  # what SalonApp provides
        session: Session
        services: Services
        data_dir: Path
        _known_settings: dict[str, Any] | None

        @property
        def chat_screen(self) -> ChatScreen: ...

    # -- keymap ------------------------------------------------------------------------------------------------

    def install_user_keymap(self) -> list[str]:
        """Apply ``[keymap]`` from config.toml; returns what the user should be told (once)."""
        if not self.session.config.keymap:
            # Nothing to remap: skip importing every screen's bindings before the first frame (~70 ms).
            return []
        from salon.config.keymap import install_keymap

        try:
            self.keymap_check = install_keymap(self, self.session.config.keymap, *binding_classes(type(self)))
        except Exception as error:  # a broken keymap must not keep the chat from opening
            return [f"keymap: {error}"]
        if palette := self.keymap_check.keymap.get("command-palette"):
            # The footer finds the palette's entry by this key.
            self.COMMAND_PALETTE_BINDING = palette.split(",")[0]  # type: ignore[misc]
        return list(self.keymap_check.messages)

    @property
    def effective_keymap(self) -> Mapping[str, str]:
        return self.keymap_check.keymap if self.keymap_check is not None else {}

    # -- saving choices back -------------------------------------------------------------------------------------

    def remember_setting(self, key: str, value: Any) -> None:
        """Save ``key = value`` to config.toml, off the event loop, only when it differs from what is saved."""
        known = self._saved_settings()
        if key in known and known[key] == value:
            return
        known[key] = value
        self.run_worker(self.save_settings({key: value}), group="save-settings")

    def _saved_settings(self) -> dict[str, Any]:
        saved = getattr(self, "_known_settings", None)
        if saved is None:
            from salon.config.write import SETTINGS

            config = self.session.config
            # Paths as the settings screen shows and saves them: text.
            saved = {item.key: _plain(getattr(config, item.attribute)) for item in SETTINGS}
            self._known_settings = saved
        return saved

    async def save_settings(self, changes: Mapping[str, Any]) -> bool:
        """Write ``changes`` to config.toml; False (the user told why) when they could not be saved."""
        from salon.config.write import update_config

        try:
            saved = await asyncio.to_thread(update_config, dict(changes))
        except SalonError as error:
            self.notify(str(error), title="Settings not saved", severity="error", timeout=10)
            return False
        except OSError as error:
            self.notify(f"{error}", title="Settings not saved", severity="error", timeout=10)
            return False
        if saved.backup is not None:
            self.notify(f"Your comments are kept in {saved.backup}.", title="config.toml rewritten")
        self._saved_settings().update(changes)
        return True

    # -- themes ------------------------------------------------------------------------------------------------

    def action_change_theme(self) -> None:
        # Textual's own "Theme" command calls this: it leads to the same picker, which saves the choice.
        self.action_pick_theme()

    def action_pick_theme(self) -> None:
        from salon.tui.screens.theme_picker import ThemePicker

        def chosen(name: str | None) -> None:
            if name is None or name not in self.available_themes:
                return
            self.theme = name
            self.remember_setting("theme", name)

        self.push_screen(ThemePicker(sorted(self.available_themes), self.theme), chosen)

    # -- screens -----------------------------------------------------------------------------------------------

    def action_help(self) -> None:
        from salon.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(current_bindings(type(self), self.effective_keymap)))

    def action_settings(self) -> None:
        from salon.tui.screens.settings import SettingsScreen

        if isinstance(self.screen, SettingsScreen):
            return
        agents = sorted(self.session.catalog.agents)
        def saved(values: dict[str, Any] | None) -> None:
            if values:
                self.settings_saved(values)
                self.notify("Saved to config.toml.", title="Settings")

        self.push_screen(SettingsScreen(dict(self._saved_settings()), sorted(self.available_themes), agents),
                         saved)

    def settings_saved(self, values: Mapping[str, Any]) -> None:
        """The settings screen saved ``values``: apply what can change while the app runs."""
        if (theme := values.get("theme")) and theme in self.available_themes:
            self.theme = theme
        if "follow" in values:
            self.services.follow = bool(values["follow"])
        if "show_thinking" in values:
            self.set_show_thinking(bool(values["show_thinking"]))

    # -- thinking ------------------------------------------------------------------------------------------------

    def action_toggle_thinking(self) -> None:
        self.set_show_thinking(not self.services.show_thinking)
        self.notify("Thinking is shown above replies." if self.services.show_thinking
                    else "Thinking is folded away.", title="Thinking")

    def set_show_thinking(self, show: bool) -> None:
        from textual.widgets import Collapsible

        self.services.show_thinking = show
        # Replies already on screen follow too: their thinking sits in a collapsible marked "thinking".
        for screen in self.screen_stack:
            for collapsible in screen.query(Collapsible).filter(".thinking"):
                collapsible.collapsed = not show

    # -- export ------------------------------------------------------------------------------------------------

    def action_export(self) -> None:
        from salon.tui.screens.text_prompt import TextPrompt

        view = self.chat_screen.view
        store = self.services.store
        conversation_id = view.data.conversation_id
        if store is None or conversation_id is None:
            self.notify("There is nothing saved to export yet.", severity="warning")
            return
        default = self.data_dir / "exports" / f"{conversation_id}.md"

        def chosen(path: str | None) -> None:
            if path:
                self.run_worker(self.export_conversation(conversation_id, Path(path).expanduser()),
                                group="export")

        self.push_screen(TextPrompt("Export this conversation (.md for Markdown, .json for JSON)", str(default)),
                         chosen)

    async def export_conversation(self, conversation_id: str, path: Path) -> Path | None:
        """Write the conversation to ``path`` as Markdown, or JSON when the name ends in ``.json``."""
        import io

        from salon.store.transcript import write_json, write_markdown

        store = self.services.store
        if store is None:
            return None
        out = io.StringIO()
        try:
            # Read on the loop (the store's connection belongs to it); only the file is written off it.
            conversation = store.conversation(conversation_id)
            if path.suffix.lower() == ".json":
                write_json(store, [conversation], out)
            else:
                write_markdown(store, [conversation], out)
            await asyncio.to_thread(_write_new_file, path, out.getvalue())
        except (SalonError, OSError) as error:
            self.notify(str(error), title="Not exported", severity="error", timeout=10)
            return None
        self.notify(str(path), title="Exported")
        return path


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


def _write_new_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
