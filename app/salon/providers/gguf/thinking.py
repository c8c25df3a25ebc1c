"""Keep a local model's thinking apart from its answer, as Ollama and the cloud providers deliver them.

Reasoning models (Qwen 3, DeepSeek R1 distills, QwQ …) write their thinking inline, between ``<think>`` and
``</think>`` at the start of the reply. llama.cpp hands back raw text, so the split happens here, on the stream: a
tag may arrive cut across two tokens, so a piece that could be the start of one is held until the next token says.
"""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


def _held(text: str, tag: str) -> int:
    """How many characters at the end of ``text`` could be the start of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkingSplitter:
    """Feed it the reply's text as it streams; it returns ``(text, thinking)`` ready to show."""

    __slots__ = ("_pending", "_state")

    def __init__(self) -> None:
        self._state = "start"  # "start": only whitespace so far; "thinking"; "answer"
        self._pending = ""

    def feed(self, piece: str) -> tuple[str, str]:
        text, thinking = [], []
        data = self._pending + piece
        self._pending = ""
        while data:
            if self._state == "start":
                stripped = data.lstrip()
                if stripped.startswith(OPEN):
                    self._state, data = "thinking", stripped[len(OPEN):]
                elif OPEN.startswith(stripped):  # whitespace, or part of the tag so far: wait
                    self._pending = data
                    break
                else:
                    self._state = "answer"
            elif self._state == "thinking":
                end = data.find(CLOSE)
                if end >= 0:
                    thinking.append(data[:end])
                    self._state, data = "answer_start", data[end + len(CLOSE):]
                    continue
                keep = _held(data, CLOSE)
                thinking.append(data[:len(data) - keep])
                self._pending = data[len(data) - keep:]
                break
            elif self._state == "answer_start":
                # The blank line models put after </think> is layout, not answer.
                stripped = data.lstrip()
                if stripped:
                    self._state, data = "answer", stripped
                else:
                    break
            else:
                text.append(data)
                break
        return "".join(text), "".join(thinking)

    def flush(self) -> tuple[str, str]:
        """What is still held when the reply ends: a lone ``<thi`` was text after all."""
        pending, self._pending = self._pending, ""
        if self._state == "thinking":
            return "", pending
        return ("" if self._state == "answer_start" else pending), ""
