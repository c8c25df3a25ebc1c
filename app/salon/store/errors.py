"""The store's errors: each names the database file and what the user can do about it."""

from __future__ import annotations

from pathlib import Path

from salon.errors import SalonError


class StoreError(SalonError):
    """The conversation database cannot be used as asked: damaged, too new, read-only, full or locked."""


class ConversationNotFound(StoreError):
    def __init__(self, reference: str, detail: str = "") -> None:
        self.reference = reference
        extra = f" ({detail})" if detail else ""
        super().__init__(f"no conversation '{reference}'{extra}; `salon history list` shows them")


class MessageNotFound(StoreError):
    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        super().__init__(f"no message '{message_id}' in the conversation database")


class DatabaseTooNew(StoreError):
    """Written by a later Salon; opened read-only for the version check and otherwise left untouched."""

    def __init__(self, path: Path, found: int, known: int) -> None:
        self.path = path
        self.found = found
        self.known = known
        super().__init__(
            f"{path} was written by a newer Salon (schema version {found}; this Salon knows up to {known}). "
            "It was left untouched: upgrade Salon, or use --data-dir to keep this version's conversations "
            "elsewhere."
        )


class DatabaseGone(StoreError):
    """The database file was deleted or replaced while Salon had it open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path} was deleted or replaced while Salon was running, so nothing more is saved in "
                         "it; restart Salon to start a new one")
