"""The one flow, kept: faces ask a Session and read typed events; none reaches past them."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "app" / "salon"


def faces() -> list[Path]:
    return [*sorted((PACKAGE / "tui").rglob("*.py")), *sorted((PACKAGE / "serve").rglob("*.py")),
            *sorted((PACKAGE / "cli").rglob("*.py"))]


def test_no_face_imports_a_provider():
    # A new provider (gguf next) must need no change in the TUI or the CLI: they ask the Session instead.
    offenders = [f"{path.relative_to(PACKAGE)}:{number}"
                 for path in faces()
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if "salon.providers" in line]
    assert offenders == []


def test_no_face_matches_errors_by_class_name():
    # Errors travel as types (RunFailed.exception); a renamed class must break loudly, not fall through a string.
    by_name = re.compile(r"error_type\s*(==|!=|in\b)|\"(ServerUnreachable|ModelNotFound|StreamInterrupted)\"")
    offenders = [f"{path.relative_to(PACKAGE)}:{number}"
                 for path in faces()
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if by_name.search(line)]
    assert offenders == []
