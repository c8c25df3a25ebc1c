"""The chat's entries in Textual's command palette (ctrl+p): each names an action of the chat screen.

``SalonApp.get_system_commands`` yields these after Textual's own, so other parts of Salon (a settings screen,
themes) add theirs by extending :data:`CHAT_COMMANDS` or overriding ``SalonApp.salon_commands``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Command:
    title: str
    help: str
    action: str
    """An action of the chat screen, as a binding would name it (``"pick_agent"``)."""


CHAT_COMMANDS: tuple[Command, ...] = (
    Command("Switch persona", "Pick the agent that writes the next reply (ctrl+t)", "pick_agent"),
    Command("Make this persona the default",
            "Open the next start and `salon ask` with the persona on screen (saved to config.toml)",
            "make_default_agent"),
    Command("Switch model", "Pick one of the Ollama host's models for this conversation (ctrl+o)", "pick_model"),
    Command("Stop the reply", "Stop the reply that is streaming; its text so far is kept (esc)", "stop"),
    Command("Regenerate the last reply", "Ask for the last reply again, replacing it (ctrl+r)", "regenerate"),
    Command("Edit the last prompt", "Put the last prompt back in the box; Enter resends it (↑)", "edit_last"),
    Command("Copy the last reply", "Copy the selected or last reply to the clipboard (c in the messages)",
            "copy_reply"),
    Command("Copy a code block", "Copy the last reply's code block; again for the next one (y in the messages)",
            "copy_code"),
    Command("New conversation", "Start a new conversation with the same agent (ctrl+n)", "new_conversation"),
    Command("Show or hide the conversation list", "Open, rename or delete conversations (ctrl+g)",
            "toggle_conversations"),
    Command("Search conversations", "Full-text search across every stored message (ctrl+f)", "search"),
    Command("Check the Ollama connection", "Ask the Ollama host again whether it answers", "check_connection"),
    Command("Switch theme", "Pick a colour theme; it is saved to config.toml for next time", "app.pick_theme"),
    Command("Export the conversation", "Write this conversation to a Markdown (.md) or JSON (.json) file",
            "app.export"),
    Command("Show or hide thinking", "Unfold or fold a thinking model's reasoning above its replies",
            "app.toggle_thinking"),
    Command("Settings", "Theme, default agent, Ollama host, timeouts, data folder (f3)", "app.settings"),
    Command("Help: keys", "Every key binding as it is now, and keys terminals swallow (f1)", "app.help"),
)
