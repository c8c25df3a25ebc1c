"""Themes as files: ``themes/*.toml`` and ``<config dir>/themes/*.toml`` turned into Textual ``Theme`` objects.

A theme file's name (without ``.toml``) is the theme's name. A file that cannot be used is reported as
``path:line: reason`` and the others still load; Textual's built-in themes stay available beside them.

Importing this module imports nothing of Textual: ``import textual.theme`` pulls in most of Textual (about
0.15 s, the same as ``textual.app``), so it happens inside the functions that build ``Theme`` objects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from salon import locations
from salon.config.schema import Key, Table, suggestion
from salon.config.tomlfile import KeyLines, describe, read_toml, toml_files
from salon.errors import FileError

if TYPE_CHECKING:
    from textual.app import App
    from textual.color import Color
    from textual.theme import Theme

DEFAULT_THEME = "salon-dark"
FALLBACK_THEME = "textual-dark"

COLOUR_FIELDS = ("primary", "secondary", "accent", "foreground", "background", "surface", "panel",
                 "success", "warning", "error", "boost")
_NUMBER_FIELDS = ("luminosity_spread", "text_alpha")
_FLAG_FIELDS = ("dark", "ansi")
_THEME_KEYS = Table({
    **dict.fromkeys(COLOUR_FIELDS, Key((str,), "a colour string like \"#1B1D23\"")),
    **dict.fromkeys(_FLAG_FIELDS, Key((bool,), "true or false")),
    **dict.fromkeys(_NUMBER_FIELDS, Key((int, float), "a number from 0 to 1")),
    "variables": Key((dict,), "a table ([variables])"),
}, listing="a theme sets")
"""A theme file comes from elsewhere (shared, downloaded): an unknown or mistyped key refuses it."""

SALON_VARIABLES: Mapping[str, str] = MappingProxyType({
    "salon-user-message": "the user's messages: their bar and label",
    "salon-user-message-background": "behind the user's messages",
    "salon-assistant-message": "the assistant's messages: their bar and label",
    "salon-assistant-message-background": "behind the assistant's messages",
    "salon-streaming": "a reply that is still arriving",
    "salon-interrupted": "a reply stopped with Esc (kept, marked interrupted)",
    "salon-failed": "a reply the provider failed to finish",
    "salon-thinking": "the model's thinking text",
    "salon-meta": "the quiet line under a message: agent, model, tokens, time",
})
"""The app variables Salon's stylesheet uses, by name, with what each colours.

A theme may set any of them in its ``[variables]`` table; the rest are derived from the theme's own colours
(:func:`with_salon_variables`), so Textual's built-in themes get them too.
"""

# WCAG AA for body text; derived muted colours are pulled towards the foreground until they reach it.
READABLE_CONTRAST = 4.5
_THEME_NAME = re.compile(r"^\w[\w.-]*$")
_PERCENT = re.compile(r"^(?P<colour>.+?)\s+(?P<alpha>\d+(?:\.\d+)?)%$")


class ThemeFileError(FileError):
    """A theme file that cannot be used."""


@dataclass(slots=True)
class ThemeCatalog:
    """Salon's themes (bundled, then the user's) and the files that did not load.

    ``themes`` holds only themes read from files; Textual's built-in themes are registered on every ``App``
    already. A user file with the name of a bundled or built-in theme replaces it (``overridden``).
    """

    themes: dict[str, Theme] = field(default_factory=dict)
    errors: list[ThemeFileError] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)
    overridden: dict[str, Path | None] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Every theme name an app with this catalog installed offers, Textual's built-in ones included."""
        from textual.theme import BUILTIN_THEMES

        return sorted({*BUILTIN_THEMES, *self.themes})

    def install(self, app: App[Any], selected: str | None = None) -> list[str]:
        """Register every theme on ``app`` and select ``selected``; returns what the user should be told.

        An unknown ``selected`` (a deleted user theme, a typo in config.toml) falls back to
        :data:`DEFAULT_THEME` with a warning instead of Textual's ``InvalidThemeError``.
        """
        for theme in self.themes.values():
            app.register_theme(theme)
        warnings = [str(error) for error in self.errors]
        name = selected or DEFAULT_THEME
        if name not in app.available_themes:
            fallback = DEFAULT_THEME if DEFAULT_THEME in app.available_themes else FALLBACK_THEME
            warnings.append(f"theme '{name}' not found; using {fallback}. "
                            f"Themes: {', '.join(sorted(app.available_themes))}")
            name = fallback
        app.theme = name
        return warnings


def default_directories() -> list[Path]:
    return [locations.bundled_themes_dir(), locations.user_themes_dir()]


def load_themes(directories: Sequence[Path] | None = None) -> ThemeCatalog:
    """Load every ``*.toml`` in ``directories`` (default: bundled, then the user's); later files win."""
    from textual.theme import BUILTIN_THEMES

    catalog = ThemeCatalog()
    for directory in map(Path, directories if directories is not None else default_directories()):
        for path in toml_files(directory):
            try:
                theme = parse_theme_file(path)
            except ThemeFileError as error:
                catalog.errors.append(error)
                continue
            if theme.name in catalog.themes:
                catalog.overridden[theme.name] = catalog.paths[theme.name]
            elif theme.name in BUILTIN_THEMES:
                catalog.overridden[theme.name] = None
            catalog.themes[theme.name] = theme
            catalog.paths[theme.name] = path
    return catalog


def parse_theme_file(path: Path) -> Theme:
    """One theme file as a Textual ``Theme``, checked as Textual will use it; raises :class:`ThemeFileError`."""
    source, data = read_toml(path, ThemeFileError)
    return theme_from_table(path.stem, data, path=path, source=source)


def theme_from_table(name: str, data: Mapping[str, Any], *, path: Path | None = None,
                     source: str = "") -> Theme:
    """A ``Theme`` from a parsed table, every value checked the way Textual would use it."""
    from textual.color import Color, ColorParseError
    from textual.theme import Theme

    where = path or Path(f"<theme {name}>")

    def fail(reason: str, key: str | None = None, table: str | None = None) -> ThemeFileError:
        return ThemeFileError(where, KeyLines(source).find(*((table,) if table else ()), key) if key else None, reason)

    if not _THEME_NAME.match(name):
        raise fail(f"'{name}' cannot be a theme name: use letters, digits, '-', '_' or '.' in the file name")
    # Unknown keys first: a misspelt 'primay' is better named as that than as a missing 'primary'.
    findings = sorted(_THEME_KEYS.check(data), key=lambda finding: finding.kind != "unknown")
    if findings and findings[0].kind == "unknown":
        raise fail(findings[0].message(findings[0].name), findings[0].name)
    if "primary" not in data:
        raise fail("missing 'primary' (for example primary = \"#D9A35B\")")
    if findings:
        raise fail(findings[0].message(findings[0].name), findings[0].name)
    fields: dict[str, Any] = {}
    for key in COLOUR_FIELDS:
        if key in data:
            try:
                Color.parse(data[key])
            except ColorParseError as exc:
                raise fail(f"'{key}': {exc}", key) from None
            fields[key] = data[key]
    for key in _NUMBER_FIELDS:
        if key in data:
            if not 0 <= data[key] <= 1:
                raise fail(f"'{key}' should be {_THEME_KEYS.keys[key].described}, not {describe(data[key])}", key)
            fields[key] = float(data[key])
    for key in _FLAG_FIELDS:
        if key in data:
            fields[key] = data[key]
    if "dark" not in fields and "background" in fields:
        # A theme that names its background need not also say whether it is dark.
        fields["dark"] = Color.parse(fields["background"]).brightness < 0.5
    variables = data.get("variables", {})
    theme = Theme(name=name, variables=_checked_variables(variables, fail), **fields)
    try:
        theme.to_color_system().generate()
    except Exception as exc:  # Textual's own check: whatever it rejects here would stop the app later.
        raise fail(f"Textual cannot use this theme: {exc}") from None
    return theme


def _checked_variables(variables: dict[str, Any], fail: Any) -> dict[str, str]:
    from textual.design import ColorSystem

    # Textual's own variables and the kind of value each takes, read from what it generates for a plain theme.
    textual_defaults = ColorSystem(primary="#0178D4").generate()
    checked: dict[str, str] = {}
    for name, value in variables.items():
        if not isinstance(value, str):
            raise fail(f"variable '{name}' should be a string, not {describe(value)}", name, "variables")
        if "$" in value:
            raise fail(f"variable '{name}': values are used literally, so '{value}' cannot refer to another "
                       "variable; write a colour such as \"#D9A35B\" or \"#D9A35B 40%\"", name, "variables")
        if name.startswith("salon-"):
            if name not in SALON_VARIABLES:
                raise fail(f"unknown variable '{name}'{suggestion(name, SALON_VARIABLES)} (Salon's variables: "
                           f"{', '.join(SALON_VARIABLES)})", name, "variables")
            expects_colour = True
        else:
            default = textual_defaults.get(name)
            expects_colour = default is not None and _colour_problem(default) is None
        if expects_colour and (problem := _colour_problem(value)):
            raise fail(f"variable '{name}': {problem}", name, "variables")
        checked[name] = value
    return checked


def _colour_problem(value: str) -> str | None:
    """Why ``value`` is not a CSS colour Textual accepts in a variable (``colour`` or ``colour NN%``)."""
    from textual.color import Color, ColorParseError

    value = value.strip()
    if match := _PERCENT.match(value):
        value = match.group("colour")
        if value == "auto":
            return None
    if value in ("transparent", "initial"):
        return None
    try:
        Color.parse(value)
    except ColorParseError as exc:
        return str(exc)
    return None


# --- Salon's app variables -------------------------------------------------------------------------------


def with_salon_variables(variables: Mapping[str, str]) -> dict[str, str]:
    """``variables`` (an app's CSS variables) plus every :data:`SALON_VARIABLES` name it does not set.

    Use it in the app, so that every theme (built-in, bundled or the user's) defines Salon's names::

        def get_css_variables(self) -> dict[str, str]:
            self.theme_variables = with_salon_variables(super().get_css_variables())
            return self.theme_variables

    Derived values are plain colours (never ``$name``, which Textual would not resolve inside a variable), so
    they can also be handed to Rich renderables as they are.
    """
    derived = _derive(variables)
    return {**derived, **variables}


def salon_variables(theme: Theme) -> dict[str, str]:
    """The value of each of :data:`SALON_VARIABLES` under ``theme``."""
    variables = with_salon_variables({**theme.to_color_system().generate(), **theme.variables})
    return {name: variables[name] for name in SALON_VARIABLES}


def _derive(variables: Mapping[str, str]) -> dict[str, str]:
    from textual.color import Color, ColorParseError

    def colour(name: str, default: str) -> Color:
        try:
            return Color.parse(variables.get(name, default))
        except ColorParseError:
            return Color.parse(default)

    background = colour("background", "#000000")
    foreground = colour("foreground", "#e0e0e0")
    secondary = colour("secondary", "#004578")
    plain = {
        "salon-user-message": variables.get("secondary", variables.get("primary", "#004578")),
        "salon-assistant-message": variables.get("primary", "#0178D4"),
        "salon-streaming": variables.get("accent", "#ffa62b"),
        "salon-interrupted": variables.get("warning", "#ffa62b"),
        "salon-failed": variables.get("error", "#ba3c5b"),
    }
    if any(c.ansi is not None for c in (background, foreground, secondary)):
        # ANSI themes leave colours to the terminal's palette; blending would invent colours it does not have.
        muted = "ansi_bright_black"
        return {**plain, "salon-user-message-background": variables.get("surface", "ansi_default"),
                "salon-assistant-message-background": variables.get("background", "ansi_default"),
                "salon-thinking": muted, "salon-meta": muted}
    dark = background.brightness < 0.5
    return {
        **plain,
        "salon-user-message-background": background.blend(secondary, 0.16 if dark else 0.10).hex6,
        "salon-assistant-message-background": background.hex6,
        "salon-thinking": muted_text(foreground, background, 0.40).hex6,
        "salon-meta": muted_text(foreground, background, 0.45).hex6,
    }


def muted_text(foreground: Color, background: Color, amount: float) -> Color:
    """``foreground`` faded ``amount`` of the way to ``background``, but never below readable contrast."""
    while amount > 0:
        candidate = foreground.blend(background, amount)
        if contrast_ratio(candidate, background) >= READABLE_CONTRAST:
            return candidate
        amount -= 0.05
    return foreground


def contrast_ratio(first: Color | str, second: Color | str) -> float:
    """The WCAG 2 contrast ratio of two opaque colours: 1 (none) to 21 (black on white)."""
    from textual.color import Color

    def luminance(colour: Color) -> float:
        def channel(value: int) -> float:
            c = value / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = colour.rgb
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)

    a, b = sorted((luminance(Color.parse(first)), luminance(Color.parse(second))), reverse=True)
    return (a + 0.05) / (b + 0.05)
