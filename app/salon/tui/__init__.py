"""Salon's terminal chat app. ``import salon.tui`` loads nothing; :func:`salon.tui.app.launch` opens it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salon._lazy import lazy_exports

if TYPE_CHECKING:
    from salon.tui.app import SalonApp, launch

__all__ = ["SalonApp", "launch"]


__getattr__ = lazy_exports(__name__, {name: "salon.tui.app" for name in __all__})
