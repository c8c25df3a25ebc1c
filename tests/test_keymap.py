"""The [keymap] table: remapped keys honoured by a real Textual app, bad entries reported, swallowed keys named."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.dom import DOMNode
from textual.widgets import Static

from salon.config.keymap import (
    SWALLOWED_KEYS,
    BindingInfo,
    check_keymap,
    collect_bindings,
    default_binding_problems,
    describe_keys,
    install_keymap,
    normalise_key,
    swallowed,
)
from salon.config.read import load_config


class Log(Static, can_focus=True):
    BINDINGS = [Binding("c", "app.record('copy')", "Copy message", id="log.copy_message")]


class Remappable(App[None]):
    BINDINGS = [
        Binding("ctrl+n", "record('new')", "New conversation", id="new-conversation"),
        Binding("f1", "record('help')", "Help", id="help"),
        Binding("ctrl+p", "command_palette", "Commands", id="command-palette", priority=True),
        Binding("escape", "record('cancel')", "Cancel", id="cancel", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[str] = []

    def compose(self) -> ComposeResult:
        yield Log("a message")

    def action_record(self, what: str) -> None:
        self.ran.append(what)


@pytest.mark.parametrize(("written", "textual_name"), [
    ("ctrl+n", "ctrl+n"),
    ("Shift+Ctrl+N", "ctrl+shift+n"),
    ("ctrl+alt+n", "alt+ctrl+n"),
    ("Control+Option+x", "alt+ctrl+x"),
    ("ctrl+?", "ctrl+question_mark"),
    ("?", "question_mark"),
    ("ctrl+,", "ctrl+comma"),
    ("ctrl+-", "ctrl+minus"),
    ("shift+a", "A"),
    ("G", "G"),
    ("F2", "f2"),
    ("Esc", "escape"),
    ("ctrl+PgUp", "ctrl+pageup"),
    ("Return", "enter"),
])
def test_keys_are_written_as_textual_names_them_in_key_events(written, textual_name):
    assert normalise_key(written) == (textual_name, None)


@pytest.mark.parametrize(("written", "reason"), [
    ("ctrl++", "write the + key as 'plus'"),
    ("hyperx+a", "'hyperx' is not a modifier"),
    ("ctrl+escpe", "'escpe' is not a key Textual knows; did you mean 'escape'?"),
    (" ", "an empty key"),
])
def test_keys_textual_cannot_name_are_refused_with_a_reason(written, reason):
    assert reason in (normalise_key(written)[1] or "")


async def test_remapped_keys_from_config_toml_are_honoured_and_the_old_ones_released(config_dir):
    (config_dir / "config.toml").write_text(
        "[keymap]\n"
        'new-conversation = ["Ctrl+Alt+N", "F2"]\n'
        "log.copy_message = \"y\"\n"          # an unquoted dotted id reads as a nested table
        'command-palette = "f5"\n'
        'cancel = "ctrl+g"\n'
    )
    config = load_config()
    assert config.warnings == ()
    app = Remappable()
    async with app.run_test() as pilot:
        result = install_keymap(app, config.keymap, Remappable, Log)
        assert result.messages == ()
        await pilot.press("ctrl+n", "alt+ctrl+n", "f2", "f1")
        assert app.ran == ["new", "new", "help"]
        app.query_one(Log).focus()
        await pilot.press("c", "y")
        assert app.ran[-1:] == ["copy"] and app.ran.count("copy") == 1
        await pilot.press("escape", "ctrl+g")
        assert app.ran[-1:] == ["cancel"] and app.ran.count("cancel") == 1
        await pilot.press("f5")
        await pilot.pause()
        from textual.command import CommandPalette

        assert CommandPalette.is_open(app)


async def test_an_unknown_binding_id_is_reported_and_the_app_runs_with_the_rest(config_dir):
    (config_dir / "config.toml").write_text('[keymap]\nnew-conversaton = "f2"\nhelp = ["f3", "ctrl+escpe"]\n')
    app = Remappable()
    async with app.run_test() as pilot:
        result = install_keymap(app, load_config().keymap)
        assert dict(result.keymap) == {"help": "f3"}
        assert result.problems == (
            "config.toml: keymap.new-conversaton: no binding has this id (did you mean 'new-conversation'?); "
            "ignored. The help screen lists the ids",
            "config.toml: keymap.help: 'ctrl+escpe': 'escpe' is not a key Textual knows; did you mean "
            "'escape'?; ignored",
        )
        await pilot.press("f2", "f3", "ctrl+n")
        assert app.ran == ["help", "new"]


def test_binding_a_key_terminals_swallow_warns_but_keeps_it():
    bindings = collect_bindings(Remappable)
    result = check_keymap({"new-conversation": "ctrl+s,f2", "help": "ctrl+i"}, bindings)
    assert dict(result.keymap) == {"new-conversation": "ctrl+s,f2", "help": "ctrl+i"}
    assert result.problems == ()
    assert any("keymap.new-conversation: ctrl+s may not reach Salon" in w and "XON/XOFF" in w
               for w in result.warnings)
    assert any("keymap.help: ctrl+i may not reach Salon" in w and "same bytes as tab" in w for w in result.warnings)


def test_binding_a_key_another_binding_of_the_same_scope_uses_is_a_clash_warning():
    result = check_keymap({"help": "ctrl+n"}, collect_bindings(Remappable, Log))
    assert result.warnings == ("config.toml: keymap.help: ctrl+n is also bound to 'new-conversation' "
                               "(Remappable); only one of them will run",)
    # Moving the other binding away as well is no clash.
    assert check_keymap({"help": "ctrl+n", "new-conversation": "f2"}, collect_bindings(Remappable)).warnings == ()


def test_collected_bindings_carry_what_a_help_screen_shows():
    by_id = {b.id: b for b in collect_bindings(Remappable, Log)}
    assert by_id["log.copy_message"] == BindingInfo("log.copy_message", "c", "app.record('copy')",
                                                    "Copy message", "Log")
    assert by_id["command-palette"].priority and by_id["help"].app_level
    assert by_id["help"].keys_under({"help": "f3"}) == "f3" and by_id["help"].keys_under({}) == "f1"
    assert describe_keys("ctrl+question_mark,f1,ctrl+comma") == "ctrl+? / f1 / ctrl+,"


def test_the_swallowed_keys_table_is_written_in_textual_key_names():
    for entry in SWALLOWED_KEYS:
        assert entry.where and entry.why
        for key in entry.keys:
            if "<" not in key:
                assert normalise_key(key) == (key, None), key
    hits = {entry.where: keys for entry, keys in swallowed("ctrl+shift+x,super+k,ctrl+m,f7")}
    assert hits["every terminal without the kitty keyboard protocol"] in (["ctrl+shift+x"], ["ctrl+m"])
    assert hits["macOS Terminal, iTerm2 and most terminals"] == ["super+k"]
    assert all("f7" not in keys for keys in hits.values())


def test_a_default_bound_only_to_swallowed_keys_is_flagged():
    def info(keys: str) -> BindingInfo:
        return BindingInfo("save", keys, "save", "Save", "ChatScreen")

    assert default_binding_problems([info("ctrl+s")]) == [
        "ChatScreen: 'save' is bound only to ctrl+s, which terminals commonly swallow"]
    assert default_binding_problems([info("ctrl+s,f6")]) == []
    # Tools only some people run are documented, not held against a default.
    assert default_binding_problems([info("ctrl+p")]) == []


def _salon_tui_classes() -> list[type]:
    import salon.tui as package

    classes: dict[str, type] = {}
    for module_info in pkgutil.walk_packages(package.__path__, "salon.tui."):
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, DOMNode) and cls.__module__ == module.__name__ and "BINDINGS" in cls.__dict__:
                classes[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return list(classes.values())


def test_salons_own_bindings_all_have_ids_and_avoid_swallowed_keys():
    classes = _salon_tui_classes()
    assert classes, "no TUI class declares BINDINGS: the walk found nothing to check"
    own = [b for cls in classes for b in collect_bindings(cls)
           if any(b.action == (i.action if isinstance(i, Binding) else i[1]) for i in cls.__dict__["BINDINGS"])]
    assert [f"{b.owner}: {b.keys} → {b.action}" for b in own if not b.id] == []
    assert default_binding_problems(own) == []
