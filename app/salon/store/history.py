"""Which of a conversation's messages a model is sent: one rule, for the store and for chats kept in memory."""

from __future__ import annotations


def sent_to_model(role: str, text: str, status: str) -> bool:
    """Every prompt, and every reply that has text and completed or was interrupted.

    A failed reply is left out (it is an error, not something the assistant said); a reply still ``streaming``
    is another writer's, unfinished, and left out until it reads as interrupted.
    """
    return role == "user" or (bool(text) and status in ("complete", "interrupted"))
