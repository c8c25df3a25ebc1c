"""The theme picker: every theme the app has (Salon's, the user's, Textual's), fuzzy-searched by name."""

from __future__ import annotations

from collections.abc import Iterable

from salon.tui.screens.picker import Choice, PickerScreen


def theme_choices(names: Iterable[str], current: str) -> list[Choice]:
    return [Choice(name, name, "Salon" if name.startswith("salon-") else "", search=name, current=name == current)
            for name in names]


class ThemePicker(PickerScreen):
    """Returns the chosen theme's name, or None; the app applies it and saves it to config.toml."""

    def __init__(self, names: Iterable[str], current: str) -> None:
        super().__init__("Switch theme — saved to config.toml for next time", theme_choices(names, current),
                         placeholder="Search themes", id="theme-picker")
