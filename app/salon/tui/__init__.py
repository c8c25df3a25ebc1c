"""Salon's terminal chat app. ``import salon.tui`` loads nothing; :func:`salon.tui.app.launch` opens it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from salon.tui.app import SalonApp, launch

__all__ = ["SalonApp", "launch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from salon.tui import app

        return getattr(app, name)
    raise AttributeError(f"module 'salon.tui' has no attribute {name!r}")
