"""Salon's screens: the chat, and the dialogs over it. Names load on first use, so start-up reads only the chat."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salon._lazy import lazy_exports

if TYPE_CHECKING:
    from salon.tui.screens.agent_picker import AgentPicker
    from salon.tui.screens.chat import ChatScreen
    from salon.tui.screens.confirm import ConfirmScreen
    from salon.tui.screens.model_picker import ModelPicker
    from salon.tui.screens.picker import Choice, PickerScreen
    from salon.tui.screens.search import SearchScreen
    from salon.tui.screens.text_prompt import TextPrompt

_MODULES = {
    "AgentPicker": "agent_picker",
    "ChatScreen": "chat",
    "ConfirmScreen": "confirm",
    "ModelPicker": "model_picker",
    "Choice": "picker",
    "PickerScreen": "picker",
    "SearchScreen": "search",
    "TextPrompt": "text_prompt",
}
__all__ = [
    "AgentPicker",
    "ChatScreen",
    "Choice",
    "ConfirmScreen",
    "ModelPicker",
    "PickerScreen",
    "SearchScreen",
    "TextPrompt",
]


__getattr__ = lazy_exports(__name__, {name: f"{__name__}.{module}" for name, module in _MODULES.items()})
