"""The ``[keymap]`` table of config.toml, checked and turned into the mapping Textual's keymap support takes.

Textual remaps a binding by its id: ``Binding("ctrl+n", "new_conversation", id="new-conversation")`` answers to
``App.set_keymap({"new-conversation": "f2"})`` (the value is a comma-separated list of keys). Bindings without an
id cannot be remapped. Textual matches a key string exactly, so ``shift+ctrl+n`` would never fire: keys are
normalised here (modifiers sorted as Textual reports them, ``?`` spelled ``question_mark``) before Textual sees
them.

Importing this module imports nothing of Textual, and :func:`check_keymap` never does, so ``salon config`` can
check a keymap without loading the UI toolkit; only :func:`collect_bindings` and :func:`install_keymap` need it.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from salon.config.schema import Key, Table, suggestion

if TYPE_CHECKING:
    from textual.app import App

MODIFIERS = ("alt", "ctrl", "hyper", "meta", "shift", "super")
_MODIFIER_ALIASES = {"control": "ctrl", "ctl": "ctrl", "option": "alt", "opt": "alt", "cmd": "super",
                     "command": "super", "win": "super"}
_KEY_ALIASES = {"return": "enter", "esc": "escape", "del": "delete", "ins": "insert", "pgup": "pageup",
                "page_up": "pageup", "pgdn": "pagedown", "page_down": "pagedown", "spacebar": "space",
                "bs": "backspace"}
NAMED_KEYS = frozenset({
    "escape", "enter", "tab", "backspace", "delete", "insert", "home", "end", "pageup", "pagedown",
    "up", "down", "left", "right", "space", "menu", "pause", "print_screen", "scroll_lock", "caps_lock",
    "num_lock", *(f"f{n}" for n in range(1, 25)),
})
# Textual's names for characters whose Unicode names it shortens (textual.keys.KEY_NAME_REPLACEMENTS).
_SHORT_NAMES = {"solidus": "slash", "reverse_solidus": "backslash", "commercial_at": "at",
                "hyphen_minus": "minus", "plus_sign": "plus", "low_line": "underscore"}
_UNICODE_NAMES = {short: long for long, short in _SHORT_NAMES.items()} | {
    "minus": "hyphen-minus", "less_than_sign": "less-than sign", "greater_than_sign": "greater-than sign"}


@dataclass(frozen=True, slots=True)
class TerminalKey:
    """Keys that may never reach a terminal app, where that happens and why."""

    keys: tuple[str, ...]
    where: str
    why: str
    always: bool = False
    """True when no ordinary terminal can deliver the key as itself (legacy encoding aliases)."""
    avoid: bool = True
    """Salon's default bindings stay clear of these; False for tools only some people run (VS Code, Zellij)."""


SWALLOWED_KEYS: tuple[TerminalKey, ...] = (
    TerminalKey(("ctrl+i", "ctrl+m", "ctrl+h", "ctrl+left_square_bracket", "ctrl+slash", "ctrl+question_mark",
                 "ctrl+<digit>"), "every terminal without the kitty keyboard protocol",
                "they are sent as the same bytes as tab, enter, backspace, escape, ctrl+underscore, backspace and "
                "a plain digit or control code, so the app cannot tell them apart", always=True),
    TerminalKey(("shift+enter", "ctrl+enter", "alt+enter"), "most terminals",
                "they send a plain enter unless the terminal speaks the kitty keyboard protocol; Windows "
                "Terminal takes alt+enter for full screen"),
    TerminalKey(("ctrl+shift+<letter>",), "every terminal without the kitty keyboard protocol",
                "ctrl+shift+letter arrives as ctrl+letter, so it collides with it", always=True),
    TerminalKey(("ctrl+s",), "terminals and multiplexers with XON/XOFF flow control on (GNU screen, serial and "
                "some SSH sessions)", "it pauses the terminal's output (XOFF), which looks like a frozen app"),
    TerminalKey(("ctrl+q",), "terminals with XON/XOFF flow control on", "it resumes paused output (XON); "
                "Textual's raw mode turns flow control off, so it usually arrives, and it is Textual's quit key",
                avoid=False),
    TerminalKey(("ctrl+z",), "POSIX shells", "suspend to the shell is what people expect of it; on Windows it "
                "is end-of-file"),
    TerminalKey(("ctrl+c",), "every terminal", "copy or interrupt by convention; Textual uses it to explain "
                "how to quit"),
    TerminalKey(("ctrl+l",), "some terminal emulators and shell or multiplexer setups",
                "bound to clear the screen or scrollback before the app sees it"),
    TerminalKey(("ctrl+shift+c", "ctrl+shift+v", "ctrl+shift+t", "ctrl+shift+w", "ctrl+shift+n",
                 "ctrl+shift+q", "ctrl+shift+f", "ctrl+pageup", "ctrl+pagedown", "shift+pageup",
                 "shift+pagedown", "f1", "f10", "f11"), "GNOME Terminal, Konsole, Tilix and other Linux terminals",
                "copy, paste, tabs, windows, search, scrollback, help, menu and full screen"),
    TerminalKey(("ctrl+shift+p", "ctrl+shift+t", "ctrl+shift+n", "ctrl+shift+w", "ctrl+shift+d",
                 "ctrl+shift+f", "ctrl+shift+space", "ctrl+shift+c", "ctrl+shift+v", "ctrl+v", "ctrl+tab",
                 "ctrl+shift+tab", "ctrl+comma", "ctrl+shift+up", "ctrl+shift+down", "ctrl+shift+pageup",
                 "ctrl+shift+pagedown", "ctrl+shift+home", "ctrl+shift+end", "alt+shift+d", "alt+shift+minus",
                 "alt+shift+plus", "alt+up", "alt+down", "alt+left", "alt+right", "alt+enter", "f11",
                 "ctrl+plus", "ctrl+minus", "ctrl+0"), "Windows Terminal (default key bindings)",
                "command palette, tabs, panes, find, copy and paste, settings, scrolling, full screen and font "
                "size"),
    TerminalKey(("ctrl+p", "ctrl+shift+p", "ctrl+grave_accent", "ctrl+k", "ctrl+b"),
                "the VS Code integrated terminal", "VS Code keeps them for itself unless "
                "terminal.integrated.sendKeybindingsToShell is on", avoid=False),
    TerminalKey(("ctrl+b",), "tmux", "tmux's prefix key"),
    TerminalKey(("ctrl+a",), "GNU screen", "screen's prefix key"),
    TerminalKey(("ctrl+g", "ctrl+p", "ctrl+t", "ctrl+n", "ctrl+s", "ctrl+o", "ctrl+h", "ctrl+q"),
                "Zellij (default mode keys)", "they switch Zellij's modes unless it is locked (ctrl+g)",
                avoid=False),
    TerminalKey(("super+<any>",), "macOS Terminal, iTerm2 and most terminals", "the Cmd/Super/Windows key is "
                "kept by the terminal or the desktop and never reaches the app"),
)
"""Keys terminals, multiplexers or desktops may keep for themselves, for the help screen and the docs.

``<letter>`` stands for any letter, ``<digit>`` for any digit, ``<any>`` for any key. On macOS, Option+letter
types a character unless the terminal is set to use Option as Meta, so ``alt+`` bindings need that setting there.
"""


@dataclass(frozen=True, slots=True)
class BindingInfo:
    """One binding as a help screen or a keymap check needs it."""

    id: str | None
    keys: str
    action: str
    description: str
    owner: str
    """The name of the class whose ``BINDINGS`` declares it (``"SalonApp"``, ``"ChatScreen"``)."""
    priority: bool = False
    app_level: bool = False
    """Declared on the App, so active on every screen: its keys clash with every other binding's."""

    def keys_under(self, keymap: Mapping[str, str]) -> str:
        """The keys this binding answers to once ``keymap`` (a checked one) is applied."""
        return keymap.get(self.id, self.keys) if self.id else self.keys


@dataclass(frozen=True, slots=True)
class KeymapCheck:
    """A checked keymap: what to hand to ``App.set_keymap``, and what to tell the user."""

    keymap: Mapping[str, str]
    problems: tuple[str, ...] = ()
    """Entries that were dropped: an unknown binding id, a key Textual cannot name."""
    warnings: tuple[str, ...] = ()
    """Entries kept but worth knowing about: a key terminals swallow, a key already taken."""

    @property
    def messages(self) -> tuple[str, ...]:
        return self.problems + self.warnings


def normalise_key(key: str) -> tuple[str, str | None]:
    """One key as Textual names it in events, and the reason it cannot be bound (``None`` when it can).

    ``"Shift+Ctrl+N"`` becomes ``"ctrl+shift+n"``, ``"ctrl+?"`` becomes ``"ctrl+question_mark"``,
    ``"shift+a"`` becomes ``"A"`` (terminals send the capital letter).
    """
    text = key.strip()
    if not text:
        return text, "an empty key"
    if text.endswith("++") or text == "+":
        return text, "write the + key as 'plus'"
    *raw_modifiers, name = text.split("+")
    modifiers: list[str] = []
    for raw in raw_modifiers:
        modifier = _MODIFIER_ALIASES.get(raw.strip().lower(), raw.strip().lower())
        if modifier not in MODIFIERS:
            return text, f"'{raw}' is not a modifier (use {', '.join(MODIFIERS)})"
        if modifier not in modifiers:
            modifiers.append(modifier)
    name = name.strip()
    if len(name) == 1:
        if name.isalpha() and "shift" in modifiers and modifiers != ["shift"] and name.isupper():
            name = name.lower()
        elif name.isalpha() and modifiers == ["shift"]:
            modifiers, name = [], name.upper()
        elif not name.isalnum():
            name = character_key_name(name)
        elif modifiers:
            name = name.lower()
    else:
        name = _KEY_ALIASES.get(name.lower(), name.lower())
        if name not in NAMED_KEYS and not _names_a_character(name):
            close = difflib.get_close_matches(name, sorted(NAMED_KEYS), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            return text, f"'{name}' is not a key Textual knows{hint}"
    return "+".join([*sorted(modifiers), name]), None


def normalise_keys(keys: str | Iterable[str]) -> tuple[str, list[str]]:
    """A comma-separated key list (or a list of keys) normalised, with a reason for each key that was dropped."""
    items = keys.split(",") if isinstance(keys, str) else list(keys)
    good: list[str] = []
    problems: list[str] = []
    for item in items:
        normal, problem = normalise_key(item)
        if problem:
            problems.append(f"'{item.strip()}': {problem}")
        elif normal not in good:
            good.append(normal)
    return ",".join(good), problems


def character_key_name(character: str) -> str:
    """Textual's name for the key that types ``character``: ``?`` is ``question_mark``, ``/`` is ``slash``."""
    if character.isalnum():
        return character
    try:
        name = unicodedata.name(character).lower().replace("-", "_").replace(" ", "_")
    except ValueError:
        return {"\t": "tab"}.get(character, character)
    return _SHORT_NAMES.get(name, name)


def _character_of(name: str) -> str | None:
    try:
        return unicodedata.lookup(_UNICODE_NAMES.get(name, name).replace("_", " "))
    except KeyError:
        return None


def _names_a_character(name: str) -> bool:
    return _character_of(name) is not None


def key_matches(key: str, pattern: str) -> bool:
    """Whether a normalised ``key`` is one :data:`SWALLOWED_KEYS` names (``<letter>``, ``<digit>``, ``<any>``)."""
    *modifiers, name = key.split("+")
    *pattern_modifiers, pattern_name = pattern.split("+")
    if modifiers != pattern_modifiers:
        return False
    if pattern_name == "<any>":
        return True
    if pattern_name == "<letter>":
        return len(name) == 1 and name.isalpha()
    if pattern_name == "<digit>":
        return len(name) == 1 and name.isdigit()
    return name == pattern_name


def swallowed(keys: str) -> list[tuple[TerminalKey, list[str]]]:
    """Each entry of :data:`SWALLOWED_KEYS` that names any of ``keys`` (normalised, comma-separated), with them."""
    found = []
    for entry in SWALLOWED_KEYS:
        hit = [k for k in filter(None, keys.split(",")) if any(key_matches(k, p) for p in entry.keys)]
        if hit:
            found.append((entry, hit))
    return found


def swallowed_warning(binding_id: str, keys: str) -> list[str]:
    """A warning for each common terminal that may keep one of ``keys`` from the app.

    Tools only some people run (:attr:`TerminalKey.avoid` false: VS Code, Zellij) are left to the docs: warning
    about them on every start would bury the warnings that matter.
    """
    return [f"keymap.{binding_id}: {', '.join(hit)} may not reach Salon in {entry.where}: {entry.why}"
            for entry, hit in swallowed(keys) if entry.avoid]


def default_binding_problems(bindings: Iterable[BindingInfo]) -> list[str]:
    """Bindings whose every default key is one terminals commonly swallow (:attr:`TerminalKey.avoid`)."""
    problems = []
    for binding in bindings:
        keys = [normalise_key(k)[0] for k in binding.keys.split(",")]
        blocked = {k for entry, hit in swallowed(",".join(keys)) if entry.avoid for k in hit}
        if keys and all(k in blocked for k in keys):
            problems.append(f"{binding.owner}: '{binding.id or binding.action}' is bound only to "
                            f"{', '.join(keys)}, which terminals commonly swallow")
    return problems


_KEYS = Key((str,), "keys like \"ctrl+n\"")


def check_keymap(keymap: Mapping[str, str], bindings: Iterable[BindingInfo] | None = None,
                 source: str = "config.toml") -> KeymapCheck:
    """Check ``[keymap]`` (as :class:`salon.config.read.Config` holds it) against the app's bindings.

    Unknown ids and keys Textual cannot name are dropped and reported as problems; keys terminals swallow and
    keys another binding of the same scope already uses are kept and reported as warnings. With
    ``bindings=None`` ids are not checked (``salon config`` does not know the app's bindings without it).
    """
    known = list(bindings) if bindings is not None else None
    # The keys [keymap] may hold are the ids of the app's bindings; one it does not know is dropped and named (the
    # user's own file: never refused).
    ids = Table({b.id: _KEYS for b in known or () if b.id})
    unknown = {f.name for f in ids.check(keymap) if f.kind == "unknown"} if known is not None else set()
    checked: dict[str, str] = {}
    problems: list[str] = []
    warnings: list[str] = []
    for binding_id, keys in keymap.items():
        if binding_id in unknown:
            problems.append(f"{source}: keymap.{binding_id}: no binding has this id"
                            f"{suggestion(binding_id, ids.keys)}; ignored. The help screen lists the ids")
            continue
        normal, key_problems = normalise_keys(keys)
        problems.extend(f"{source}: keymap.{binding_id}: {p}; ignored" for p in key_problems)
        if not normal:
            continue
        checked[binding_id] = normal
        warnings.extend(f"{source}: {w}" for w in swallowed_warning(binding_id, normal))
    if known is not None:
        warnings.extend(f"{source}: {w}" for w in _clashes(checked, known))
    return KeymapCheck(checked, tuple(problems), tuple(warnings))


def _clashes(keymap: Mapping[str, str], bindings: list[BindingInfo]) -> list[str]:
    effective = [(b, b.keys_under(keymap)) for b in bindings]
    found = []
    reported: set[frozenset[int]] = set()
    for binding_id, keys in keymap.items():
        for mine in (b for b in bindings if b.id == binding_id):
            for key in keys.split(","):
                for other, other_keys in effective:
                    pair = frozenset((id(mine), id(other)))
                    same_scope = other.owner == mine.owner or other.app_level or mine.app_level
                    if other is not mine and same_scope and key in other_keys.split(",") and pair not in reported:
                        reported.add(pair)
                        what = other.id or other.action
                        found.append(f"keymap.{binding_id}: {key} is also bound to '{what}' ({other.owner}); "
                                     "only one of them will run")
    return found


def collect_bindings(*classes: type) -> list[BindingInfo]:
    """Every binding declared in ``BINDINGS`` by ``classes`` and their bases, for a help screen or a check.

    Reads only the public ``BINDINGS`` class variables. A subclass's binding of the same keys and action replaces
    its base's (so ``Binding("ctrl+q", "quit", id="quit")`` on an App subclass gives Textual's quit an id); other
    bindings of a base class are kept, as Textual keeps them.
    """
    from textual.app import App
    from textual.binding import Binding

    found: list[BindingInfo] = []
    for cls in classes:
        merged: dict[str, BindingInfo] = {}
        app_level = issubclass(cls, App)
        for klass in reversed(cls.__mro__):
            for item in klass.__dict__.get("BINDINGS", ()):
                binding = item if isinstance(item, Binding) else Binding(*item)
                info = BindingInfo(binding.id, binding.key, binding.action, binding.description,
                                   cls.__name__, binding.priority, app_level)
                merged[f"{binding.key}:{binding.action}"] = info
        found.extend(merged.values())
    return found


def install_keymap(app: App[Any], keymap: Mapping[str, str], *classes: type) -> KeymapCheck:
    """Check ``keymap`` against the bindings of ``classes`` (the app's own class when none) and apply it.

    Returns the check, whose ``messages`` the app shows once (a notification), never raising.
    """
    result = check_keymap(keymap, collect_bindings(*(classes or (type(app),))))
    app.set_keymap(dict(result.keymap))
    return result


def describe_keys(keys: str) -> str:
    """Keys as a person reads them in the help screen: ``ctrl+question_mark,f1`` → ``ctrl+? / f1``."""
    shown = []
    for key in filter(None, keys.split(",")):
        *modifiers, name = key.split("+")
        if len(name) > 1 and name not in NAMED_KEYS and (character := _character_of(name)):
            name = character
        shown.append("+".join([*modifiers, name]))
    return " / ".join(shown)
