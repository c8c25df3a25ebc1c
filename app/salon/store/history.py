"""Which of a conversation's messages a model is sent: the one rule of :mod:`salon.messages`, named here too
because the store's readers have always found it here."""

from __future__ import annotations

from salon.messages import history, model_turns, sent_to_model, turns

__all__ = ["history", "model_turns", "sent_to_model", "turns"]
