"""Ids for runs, messages and conversations: a kind prefix and 96 random bits (``msg_3f2a…``)."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"
