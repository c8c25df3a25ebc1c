"""Themes as files: the bundled ones load, look as their files say on a real Textual app, and bad files are named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.color import Color
from textual.theme import BUILTIN_THEMES
from textual.widgets import Static

from salon import locations
from salon.tui.themes import (
    DEFAULT_THEME,
    READABLE_CONTRAST,
    SALON_VARIABLES,
    contrast_ratio,
    load_themes,
    salon_variables,
    with_salon_variables,
)
from tests.conftest import ROOT, salon_env

BUNDLED = sorted(path.stem for path in (ROOT / "themes").glob("*.toml"))


class ThemeProbe(App[None]):
    """An app whose widgets are painted with each of Salon's variables, as Salon's stylesheet uses them."""

    CSS = "\n".join(f"#{name} {{ background: ${name}; color: $foreground; }}" for name in SALON_VARIABLES)

    def get_css_variables(self) -> dict[str, str]:
        self.theme_variables = with_salon_variables(super().get_css_variables())
        return self.theme_variables

    def compose(self) -> ComposeResult:
        for name in SALON_VARIABLES:
            yield Static(name, id=name)


def test_the_bundled_themes_are_a_dark_default_a_light_a_high_contrast_and_one_more():
    catalog = load_themes()
    assert catalog.errors == []
    assert {"salon-dark", "salon-light", "salon-high-contrast"} <= set(catalog.themes)
    assert len(BUNDLED) >= 4
    assert DEFAULT_THEME == "salon-dark" and catalog.themes["salon-dark"].dark
    assert not catalog.themes["salon-light"].dark
    assert catalog.paths["salon-dark"] == locations.bundled_themes_dir() / "salon-dark.toml"


@pytest.mark.parametrize("name", BUNDLED)
async def test_each_bundled_theme_can_be_registered_selected_and_paints_salons_variables(name):
    catalog = load_themes()
    theme = catalog.themes[name]
    app = ThemeProbe()
    async with app.run_test() as pilot:
        assert catalog.install(app, name) == []
        await pilot.pause()
        assert app.theme == name
        assert app.current_theme is theme
        expected = salon_variables(theme)
        for variable, value in expected.items():
            painted = app.query_one(f"#{variable}", Static).styles.background
            assert painted == Color.parse(value), variable
        # A value the theme file sets itself is used exactly as written.
        for variable, value in theme.variables.items():
            if variable in SALON_VARIABLES:
                assert expected[variable] == value


async def test_textual_builtin_themes_stay_available_and_get_salon_variables_derived():
    catalog = load_themes()
    app = ThemeProbe()
    async with app.run_test() as pilot:
        catalog.install(app, DEFAULT_THEME)
        for name in BUILTIN_THEMES:
            app.theme = name
            await pilot.pause()
            assert app.theme == name
            for variable in SALON_VARIABLES:
                assert app.theme_variables[variable]
                assert "$" not in app.theme_variables[variable]


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_text_is_readable_to_wcag_aa(name):
    theme = load_themes().themes[name]
    colours = theme.to_color_system().generate()
    salon = salon_variables(theme)
    background = colours["background"]
    pairs = {
        "foreground on background": (colours["foreground"], background),
        "foreground on surface": (colours["foreground"], colours["surface"]),
        "foreground on panel": (colours["foreground"], colours["panel"]),
        "foreground on a user message": (colours["foreground"], salon["salon-user-message-background"]),
        "thinking on background": (salon["salon-thinking"], background),
        "meta on background": (salon["salon-meta"], background),
        "meta on a user message": (salon["salon-meta"], salon["salon-user-message-background"]),
    }
    pairs |= {f"{c} on background": (colours[c], background)
              for c in ("primary", "secondary", "accent", "success", "warning", "error")}
    too_low = {what: round(contrast_ratio(a, b), 2) for what, (a, b) in pairs.items()
               if contrast_ratio(a, b) < READABLE_CONTRAST}
    assert too_low == {}


def test_the_high_contrast_theme_reaches_wcag_aaa_for_every_colour():
    theme = load_themes().themes["salon-high-contrast"]
    colours = theme.to_color_system().generate()
    salon = salon_variables(theme)
    background = colours["background"]
    for name in ("foreground", "primary", "secondary", "accent", "success", "warning", "error"):
        assert contrast_ratio(colours[name], background) >= 7, name
    for name in ("salon-thinking", "salon-meta", "salon-streaming", "salon-failed", "salon-interrupted"):
        assert contrast_ratio(salon[name], background) >= 7, name


@pytest.mark.parametrize("name", BUNDLED)
def test_a_replys_states_are_told_apart_at_a_glance(name):
    from itertools import combinations

    from textual.color import rgb_to_lab

    salon = salon_variables(load_themes().themes[name])
    states = ("salon-assistant-message", "salon-streaming", "salon-interrupted", "salon-failed")
    pairs = [*combinations(states, 2), ("salon-user-message", "salon-assistant-message")]

    def delta_e(a: str, b: str) -> float:  # CIE76: above ~25 reads as a different colour, not a shade
        lab_a, lab_b = rgb_to_lab(Color.parse(a)), rgb_to_lab(Color.parse(b))
        return sum((x - y) ** 2 for x, y in zip(lab_a, lab_b, strict=True)) ** 0.5

    alike = {f"{a} / {b}": round(delta_e(salon[a], salon[b])) for a, b in pairs if delta_e(salon[a], salon[b]) < 25}
    assert alike == {}


@pytest.mark.parametrize("name", sorted(BUILTIN_THEMES))
def test_derived_muted_text_stays_readable_in_textual_themes(name):
    theme = BUILTIN_THEMES[name]
    salon = salon_variables(theme)
    colours = theme.to_color_system().generate()
    if theme.ansi or "ansi_" in colours["background"]:
        assert salon["salon-thinking"] == "ansi_bright_black"
        return
    floor = min(READABLE_CONTRAST, contrast_ratio(colours["foreground"], colours["background"]))
    assert contrast_ratio(salon["salon-thinking"], colours["background"]) >= floor
    assert contrast_ratio(salon["salon-meta"], colours["background"]) >= floor


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_malformed_theme_file_is_reported_as_path_and_reason_and_the_rest_load(config_dir):
    themes = config_dir / "themes"
    broken = _write(themes, "broken.toml", 'primary = "#123456"\nbackground = "#000000\n')
    colour = _write(themes, "muddy.toml", 'primary = "#123456"\n\nbackground = "darkish"\n')
    typo = _write(themes, "typo.toml", 'primary = "#123456"\nprimay = "#654321"\n')
    literal = _write(themes, "literal.toml",
                     'primary = "#123456"\n[variables]\nsalon-user-message = "$primary 15%"\n')
    unknown_var = _write(themes, "unknown-var.toml",
                         'primary = "#123456"\n[variables]\nsalon-user-mesage = "#ffffff"\n')
    missing = _write(themes, "no-primary.toml", 'background = "#000000"\n')
    number = _write(themes, "spread.toml", 'primary = "#123456"\nluminosity_spread = 3\n')
    _write(themes, "mine.toml", 'primary = "#FF8800"\nbackground = "#101010"\n')

    catalog = load_themes()

    messages = {error.path: str(error) for error in catalog.errors}
    assert messages[broken].startswith(f"{broken}:2: invalid TOML")
    assert messages[colour].startswith(f"{colour}:3: 'background'") and "darkish" in messages[colour]
    assert messages[typo] == (f"{typo}:2: unknown key 'primay' (did you mean 'primary'?) (a theme sets: "
                              "primary, secondary, accent, foreground, background, surface, panel, success, "
                              "warning, error, boost, dark, ansi, luminosity_spread, text_alpha, variables)")
    assert messages[literal].startswith(f"{literal}:3: variable 'salon-user-message': values are used literally")
    assert "did you mean 'salon-user-message'?" in messages[unknown_var]
    assert messages[missing] == f"{missing}: missing 'primary' (for example primary = \"#D9A35B\")"
    assert messages[number].startswith(f"{number}:2: 'luminosity_spread' should be a number from 0 to 1")
    assert len(catalog.errors) == 7
    assert "mine" in catalog.themes
    assert set(BUNDLED) <= set(catalog.themes)


async def test_an_unreadable_theme_choice_falls_back_to_the_default_with_a_warning(config_dir):
    _write(config_dir / "themes", "broken.toml", "primary = \n")
    catalog = load_themes()
    app = ThemeProbe()
    async with app.run_test() as pilot:
        warnings = catalog.install(app, "broken")
        await pilot.pause()
        assert app.theme == DEFAULT_THEME
        assert any("broken.toml:1: invalid TOML" in w for w in warnings)
        assert any(w.startswith("theme 'broken' not found; using salon-dark") for w in warnings)


async def test_user_themes_add_to_and_override_bundled_and_builtin_ones(config_dir):
    themes = config_dir / "themes"
    _write(themes, "salon-dark.toml", 'primary = "#FF0000"\nbackground = "#000000"\n')
    _write(themes, "nord.toml", 'primary = "#00FF00"\nbackground = "#202020"\n')
    _write(themes, "paper.toml", 'primary = "#224466"\nbackground = "#FAFAF5"\n'
                                 '[variables]\nsalon-user-message-background = "#EEF2F6"\n')
    catalog = load_themes()
    assert catalog.errors == []
    assert catalog.themes["salon-dark"].primary == "#FF0000"
    assert catalog.overridden["salon-dark"] == locations.bundled_themes_dir() / "salon-dark.toml"
    assert catalog.overridden["nord"] is None
    paper = catalog.themes["paper"]
    assert paper.dark is False, "a light background makes a light theme without saying dark = false"
    assert "paper" in catalog.names() and "gruvbox" in catalog.names()

    app = ThemeProbe()
    async with app.run_test() as pilot:
        catalog.install(app, "paper")
        await pilot.pause()
        painted = app.query_one("#salon-user-message-background", Static).styles.background
        assert painted == Color.parse("#EEF2F6")
        app.theme = "nord"
        await pilot.pause()
        assert app.current_theme.primary == "#00FF00"


def test_importing_salon_themes_keymap_and_settings_loads_no_textual():
    # `import textual.theme` costs as much as `import textual.app` (~0.15 s): it must wait until a theme is built.
    code = ("import sys, salon.tui.themes, salon.config.keymap, salon.config.write, salon.cli.config;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'litellm')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=salon_env(),
                            cwd=ROOT, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
