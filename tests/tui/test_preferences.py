"""A person's habits kept: remapped keys, the theme and persona picked in the app, settings, help and export."""

from __future__ import annotations

import dataclasses
import json
import stat
import tomllib
from pathlib import Path

from textual.pilot import Pilot

from salon.agents.definition import load_agents
from salon.api import Session
from salon.config.read import load_config
from salon.tui.app import SalonApp
from tests.servers.ollama import OllamaServer, Scripted
from tests.tui.conftest import ROOT, ManualClock, screen_text, send, settle, wait_for


def _palette_settled_on(app: SalonApp, command: str) -> bool:
    """The command palette has finished searching and highlights ``command``: what Enter would run now."""
    from textual.command import CommandList, CommandPalette

    palette = app.screen
    if not isinstance(palette, CommandPalette) or any(worker.is_running for worker in palette.workers):
        return False
    commands = palette.query_one(CommandList)
    if commands.highlighted is None:
        return False
    return command in str(commands.get_option_at_index(commands.highlighted).prompt)


def app_from_config_toml(server: OllamaServer, data_dir: Path) -> SalonApp:
    """The app as ``salon`` opens it: settings read from config.toml (only the host pointed at the test server)."""
    config = dataclasses.replace(load_config(), ollama_host=server.host)
    session = Session(config, catalog=load_agents([ROOT / "agents"]))
    return SalonApp(session, data_dir=data_dir, clock=ManualClock(), show_conversations=False, cursor_blink=False)


def saved(config_dir: Path) -> dict:
    return tomllib.loads((config_dir / "config.toml").read_text())


async def palette(pilot: Pilot, command: str) -> None:
    """Run ``command`` from the command palette by typing (part of) its title, as a user would."""
    app = pilot.app
    await pilot.press("ctrl+p")
    await pilot.pause()
    for key in command.lower():
        await pilot.press(key if key != " " else "space")
    await wait_for(pilot, lambda: command in screen_text(app), what=f"{command!r} in the palette")
    await pilot.press("enter")
    await pilot.pause()


async def test_a_key_remapped_in_config_toml_is_honoured_and_the_default_released(server, config_dir, data_dir):
    (config_dir / "config.toml").write_text('[keymap]\npick-agent = "f9"\nnew-conversaton = "f7"\n')
    app = app_from_config_toml(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.screen.id == "chat-screen"
        await pilot.press("f9")
        await wait_for(pilot, lambda: app.screen.id == "agent-picker", what="the persona picker")
        await pilot.press("escape")
        # The footer names the new key, and the mistyped id is reported once, with the id it was meant to be.
        await wait_for(pilot, lambda: app.screen.id == "chat-screen")
        text = screen_text(app)
        assert "f9 Persona" in text and "^t Persona" not in text
        warnings = [n.message for n in app._notifications if "new-conversaton" in n.message]
        assert len(warnings) == 1 and "did you mean 'new-conversation'?" in warnings[0]


async def test_a_theme_picked_from_the_palette_is_saved_and_active_after_restart(server, config_dir, data_dir):
    app = app_from_config_toml(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.theme == "salon-dark"
        await palette(pilot, "Switch theme")
        await wait_for(pilot, lambda: app.screen.id == "theme-picker", what="the theme picker")
        for key in "salon-light":
            await pilot.press(key if key != "-" else "minus")
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.theme == "salon-light"
    config_file = config_dir / "config.toml"
    assert saved(config_dir)["theme"] == "salon-light"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600

    again = app_from_config_toml(server, data_dir)
    async with again.run_test(size=(120, 40)) as pilot:
        await settle(again, pilot)
        assert again.theme == "salon-light"
        assert again.screen.styles.background == again.current_theme.to_color_system().background


async def test_the_same_theme_picked_again_leaves_config_toml_alone(server, config_dir, data_dir):
    (config_dir / "config.toml").write_text('# mine\ntheme = "salon-dark"\n')
    app = app_from_config_toml(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.action_pick_theme()
        await wait_for(pilot, lambda: app.screen.id == "theme-picker")
        await pilot.press("enter")  # the current theme is highlighted
        await settle(app, pilot)
    assert (config_dir / "config.toml").read_text() == '# mine\ntheme = "salon-dark"\n'


async def test_picking_a_persona_leaves_the_default_until_asked_then_it_opens_next_time(server, config_dir,
                                                                                          data_dir):
    app = app_from_config_toml(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+t", *"socrates", "enter")
        await settle(app, pilot)
        assert app.chat_screen.view.agent.id == "socrates"
        # Issue 15: the pick is the conversation's; it no longer rewrites default_agent behind the user's back.
        config = config_dir / "config.toml"
        assert not config.exists() or "default_agent" not in saved(config_dir)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette", what="the palette")
        await pilot.press(*"Make this persona the default")
        await wait_for(pilot, lambda: _palette_settled_on(app, "Make this persona the default"), what="the command")
        await pilot.press("enter")
        await wait_for(pilot, lambda: config.exists() and saved(config_dir).get("default_agent") == "socrates",
                       what="default_agent saved")
        await settle(app, pilot)
    assert saved(config_dir)["default_agent"] == "socrates"
    again = app_from_config_toml(server, data_dir)
    async with again.run_test(size=(120, 40)) as pilot:
        await settle(again, pilot)
        assert again.chat_screen.view.agent.id == "socrates"


async def test_help_lists_the_current_keys_with_remaps_and_the_swallowed_keys(server, config_dir, data_dir):
    (config_dir / "config.toml").write_text('[keymap]\nsearch = "f8"\n')
    app = app_from_config_toml(server, data_dir)
    async with app.run_test(size=(120, 60)) as pilot:
        await settle(app, pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: app.screen.id == "help-screen", what="the help screen")
        text = screen_text(app)
        assert "f8" in text and "search" in text
        assert "ctrl+t" in text and "pick-agent" in text
        assert "ctrl+f " not in text
        assert "Keys your terminal may keep for itself" in app.screen.query_one("#swallowed").render().plain
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.id == "chat-screen")


async def test_settings_edited_on_screen_are_saved_to_config_toml(server, config_dir, data_dir):
    app = app_from_config_toml(server, data_dir)
    async with app.run_test(size=(120, 60)) as pilot:
        await settle(app, pilot)
        await palette(pilot, "Settings")
        await wait_for(pilot, lambda: app.screen.id == "settings-screen", what="the settings screen")
        screen = app.screen
        timeout = screen.query_one("#setting-ollama-read-timeout")
        timeout.value = "soon"
        await pilot.press("f2")
        await pilot.pause()
        assert "'soon' is not a number of seconds" in screen_text(app)
        assert not (config_dir / "config.toml").exists()
        timeout.value = "300"
        screen.query_one("#setting-show-thinking").value = True
        screen.query_one("#setting-theme").value = "salon-high-contrast"
        await pilot.press("f2")
        await settle(app, pilot)
        assert app.screen.id == "chat-screen"
        assert app.theme == "salon-high-contrast" and app.services.show_thinking
    assert saved(config_dir) == {"theme": "salon-high-contrast", "show_thinking": True,
                                 "ollama": {"read_timeout": 300.0}}
    assert stat.S_IMODE((config_dir / "config.toml").stat().st_mode) == 0o600


async def test_export_writes_the_conversation_as_markdown_or_json(server, data_dir, tmp_path):
    server.script(Scripted(text="Know thyself."))
    app = app_from_config_toml(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await send(app, pilot, "Who am I?")
        await settle(app, pilot)
        await palette(pilot, "Export the conversation")
        await wait_for(pilot, lambda: app.screen.has_class("text-prompt"), what="the export prompt")
        conversation_id = app.chat_screen.view.data.conversation_id
        default = data_dir / "exports" / f"{conversation_id}.md"
        assert app.screen.query_one("#answer").value == str(default)
        await pilot.press("enter")
        await settle(app, pilot)
        markdown = default.read_text()
        assert "Who am I?" in markdown and "Know thyself." in markdown
        target = tmp_path / "out" / "talk.json"
        assert await app.export_conversation(conversation_id, target) == target
    exported = json.loads(target.read_text())
    texts = [m["text"] for c in exported["conversations"] for m in c["messages"]]
    assert texts == ["Who am I?", "Know thyself."]


async def test_the_command_palette_can_be_moved_off_ctrl_p(server, config_dir, data_dir):
    (config_dir / "config.toml").write_text('[keymap]\ncommand-palette = "f5"\n')
    app = app_from_config_toml(server, data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert not [n for n in app._notifications if "keymap" in n.message]
        await pilot.press("ctrl+p")
        await pilot.pause()
        from textual.command import CommandPalette

        assert not CommandPalette.is_open(app)
        await pilot.press("f5")
        await wait_for(pilot, lambda: CommandPalette.is_open(app), what="the palette on f5")
        assert "f5" in screen_text(app)
