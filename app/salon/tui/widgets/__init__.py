"""Salon's widgets, one per module. Names load on first use, so start-up reads only what the first frame shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salon._lazy import lazy_exports

if TYPE_CHECKING:
    from salon.tui.widgets.banner import Banner
    from salon.tui.widgets.chat_log import ChatLog
    from salon.tui.widgets.chat_view import ChatView
    from salon.tui.widgets.composer import Composer
    from salon.tui.widgets.conversation_list import ConversationList
    from salon.tui.widgets.live_message import LiveMessage
    from salon.tui.widgets.markdown_body import MarkdownBody
    from salon.tui.widgets.message import FinalMessage, MessageBox, UserMessage
    from salon.tui.widgets.progress import ProgressLine
    from salon.tui.widgets.pull_progress import PullProgress
    from salon.tui.widgets.status import StatusLine
    from salon.tui.widgets.tool_call import ToolCallRow
    from salon.tui.widgets.welcome import Welcome

_MODULES = {
    "Banner": "banner",
    "ChatLog": "chat_log",
    "ChatView": "chat_view",
    "Composer": "composer",
    "ConversationList": "conversation_list",
    "FinalMessage": "message",
    "LiveMessage": "live_message",
    "MarkdownBody": "markdown_body",
    "MessageBox": "message",
    "ProgressLine": "progress",
    "PullProgress": "pull_progress",
    "StatusLine": "status",
    "ToolCallRow": "tool_call",
    "UserMessage": "message",
    "Welcome": "welcome",
}
__all__ = [
    "Banner",
    "ChatLog",
    "ChatView",
    "Composer",
    "ConversationList",
    "FinalMessage",
    "LiveMessage",
    "MarkdownBody",
    "MessageBox",
    "ProgressLine",
    "PullProgress",
    "StatusLine",
    "ToolCallRow",
    "UserMessage",
    "Welcome",
]


__getattr__ = lazy_exports(__name__, {name: f"{__name__}.{module}" for name, module in _MODULES.items()})
