"""Conversations out of the store and back: Markdown for reading, JSON for keeping and importing.

The JSON is Salon's own format (``"format": "salon.conversations"``), one file holding any number of
conversations with every message's agent, model, usage and timings; :func:`read_json` takes it back, checking every
field so a damaged file is refused whole, with the place of the fault, before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from salon.errors import SalonError
from salon.messages import ToolCallPart
from salon.reply import shown_rate
from salon.store import Conversation, Store, StoredMessage
from salon.surrogates import mend

FORMAT = "salon.conversations"
FORMAT_VERSION = 1
_PAGE = 500
_STATUSES = ("streaming", "complete", "interrupted", "failed")
_TOOL_STATUSES = ("streaming", "waiting", "running", "completed", "failed", "denied", "cancelled")


class TranscriptError(SalonError):
    """A file that is not a Salon export, or a damaged one; nothing of it was imported."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    imported: tuple[str, ...]
    skipped: tuple[str, ...]  # already in the database: importing twice changes nothing


def iter_messages(store: Store, conversation_id: str) -> Iterator[StoredMessage]:
    """A conversation's messages a page at a time, so exporting a long one never holds it all in memory."""
    offset = 0
    while page := store.messages(conversation_id, offset=offset, limit=_PAGE):
        yield from page
        offset += len(page)


# -- JSON ----------------------------------------------------------------------------------------------------

def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()


def message_to_dict(message: StoredMessage) -> dict[str, Any]:
    data = {
        "id": message.id,
        "role": message.role,
        "status": message.status,
        "created_at": _iso(message.created_at),
        "text": message.text,
        "thinking": message.thinking,
        **message.metadata(),
        "error": message.error,
    }
    if message.tool_calls:
        # After the text, in order: the parts of the message (see StoredMessage.parts).
        # With the function name the model called each by, so an imported conversation tells it the same name.
        data["tool_calls"] = [{**call.to_dict(), "function": call.function} if call.function else call.to_dict()
                              for call in message.tool_calls]
    return data


def conversation_header(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "title": conversation.title,
        "agent_id": conversation.agent_id,
        "created_at": _iso(conversation.created_at),
        "updated_at": _iso(conversation.updated_at),
    }


def write_json(store: Store, conversations: Iterable[Conversation], out: TextIO) -> int:
    """Write the conversations as one JSON document, streamed; returns how many were written."""
    out.write(json.dumps({"format": FORMAT, "version": FORMAT_VERSION,
                          "exported_at": _iso(datetime.now(UTC).timestamp())}, ensure_ascii=False)[:-1])
    out.write(', "conversations": [')
    count = 0
    for count, conversation in enumerate(conversations, start=1):
        out.write(",\n" if count > 1 else "\n")
        out.write(json.dumps(conversation_header(conversation), ensure_ascii=False)[:-1] + ', "messages": [')
        for index, message in enumerate(iter_messages(store, conversation.id)):
            out.write(",\n  " if index else "\n  ")
            out.write(json.dumps(message_to_dict(message), ensure_ascii=False))
        out.write("\n]}")
    out.write("\n]}\n")
    return count


def read_json(text: str, source: str = "the file") -> list[tuple[Conversation, list[StoredMessage]]]:
    """Parse a Salon JSON export; raises :class:`TranscriptError` naming where it is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise TranscriptError(f"{source}: not JSON ({error.msg} at line {error.lineno}, column {error.colno})"
                              ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TranscriptError(f"{source}: not a Salon export (it needs \"format\": \"{FORMAT}\"; "
                              "`salon history export --format json` writes one)")
    version = data.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise TranscriptError(f"{source}: export format version {version!r} is newer than this Salon reads "
                              f"({FORMAT_VERSION}); upgrade Salon to import it")
    items = _field(data, "conversations", list, source)
    return [_conversation(item, f"{source}: conversations[{i}]") for i, item in enumerate(items)]


def import_json(store: Store, path: Path | None, stdin: TextIO | None = None) -> ImportReport:
    """Import a Salon JSON export (``path`` None: read ``stdin``) in one transaction."""
    if path is None:
        assert stdin is not None
        text, source = stdin.read(), "standard input"
    else:
        try:
            text, source = path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as error:
            raise TranscriptError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    imported, skipped = store.import_conversations(read_json(text, source))
    return ImportReport(tuple(imported), tuple(skipped))


def _conversation(item: Any, where: str) -> tuple[Conversation, list[StoredMessage]]:
    if not isinstance(item, dict):
        raise TranscriptError(f"{where}: should be an object")
    created = _time(item, "created_at", where)
    conversation = Conversation(
        id=_id(item, where, "conv_"),
        title=_field(item, "title", str, where),
        agent_id=_field(item, "agent_id", str, where),
        created_at=created,
        updated_at=_time(item, "updated_at", where, default=created),
        message_count=0,
    )
    raw = _field(item, "messages", list, where)
    messages = [_message(m, conversation.id, f"{where}.messages[{i}]") for i, m in enumerate(raw)]
    return conversation, messages


def _message(item: Any, conversation_id: str, where: str) -> StoredMessage:
    if not isinstance(item, dict):
        raise TranscriptError(f"{where}: should be an object")
    role = _field(item, "role", str, where)
    if role not in ("user", "assistant"):
        raise TranscriptError(f"{where}.role: should be \"user\" or \"assistant\", not {role!r}")
    status = _field(item, "status", str, where, default="complete")
    if status not in _STATUSES:
        raise TranscriptError(f"{where}.status: should be one of {', '.join(_STATUSES)}, not {status!r}")
    optional_str = (str, type(None))
    number = (int, float, type(None))
    return StoredMessage(
        id=_id(item, where, "msg_"),
        conversation_id=conversation_id,
        role=role,
        text=_field(item, "text", str, where),
        thinking=_field(item, "thinking", str, where, default=""),
        agent_id=_field(item, "agent_id", optional_str, where, default=None),
        agent_name=_field(item, "agent_name", optional_str, where, default=None),
        model=_field(item, "model", optional_str, where, default=None),
        status=status,  # type: ignore[arg-type]
        input_tokens=_field(item, "input_tokens", (int, type(None)), where, default=None),
        output_tokens=_field(item, "output_tokens", (int, type(None)), where, default=None),
        usage_estimated=_field(item, "usage_estimated", bool, where, default=False),
        time_to_first_token=_field(item, "time_to_first_token", number, where, default=None),
        duration=_field(item, "duration", number, where, default=None),
        tokens_per_second=_field(item, "tokens_per_second", number, where, default=None),
        finish_reason=_field(item, "finish_reason", optional_str, where, default=None),
        error=_field(item, "error", optional_str, where, default=None),
        created_at=_time(item, "created_at", where),
        tool_calls=_tool_calls(item, where),
    )


def _tool_calls(item: dict[str, Any], where: str) -> tuple[ToolCallPart, ...]:
    calls = _field(item, "tool_calls", list, where, default=[])
    parts = []
    optional_str = (str, type(None))
    for index, call in enumerate(calls):
        at = f"{where}.tool_calls[{index}]"
        if not isinstance(call, dict):
            raise TranscriptError(f"{at}: should be an object")
        status = _field(call, "status", str, at)
        if status not in _TOOL_STATUSES:
            raise TranscriptError(f"{at}.status: should be one of {', '.join(_TOOL_STATUSES)}, not {status!r}")
        parts.append(ToolCallPart(
            id=_field(call, "id", str, at), server=_field(call, "server", str, at, default=""),
            tool=_field(call, "tool", str, at), arguments=_field(call, "arguments", str, at, default=""),
            status=status,  # type: ignore[arg-type]
            output=_field(call, "output", optional_str, at, default=None),
            error=_field(call, "error", optional_str, at, default=None),
            function=_field(call, "function", str, at, default="")))
    return tuple(parts)


_REQUIRED = object()


def _field(item: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str,
           default: Any = _REQUIRED) -> Any:
    if key not in item:
        if default is _REQUIRED:
            raise TranscriptError(f"{where}: \"{key}\" is missing")
        return default
    value = item[key]
    # A token count of `true` is a damaged file.
    if not _is_of(value, kind):
        raise TranscriptError(f"{where}.{key}: {json.dumps(value)[:40]} is not {_describe(kind)}")
    # JSON may hold "\ud800", which no database or terminal takes: a lone half becomes U+FFFD (surrogates.py).
    return mend(value) if isinstance(value, str) else value


def _types(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _describe(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
             type(None): "null"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in _types(kind)))


def _id(item: dict[str, Any], where: str, prefix: str) -> str:
    value = _field(item, "id", str, where)
    if not value.startswith(prefix) or not value[len(prefix):].isalnum():
        raise TranscriptError(f"{where}.id: {value!r} is not a Salon id (like {prefix}…)")
    return value


def _time(item: dict[str, Any], key: str, where: str, default: float | None = None) -> float:
    value = _field(item, key, (str, int, float), where, default=default)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise TranscriptError(f"{where}.{key}: {value!r} is not an ISO 8601 time") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


# -- Markdown ------------------------------------------------------------------------------------------------

def _local(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M")


def usage_summary(message: StoredMessage) -> str:
    """``26 in / 40 out tokens · 31.2 tok/s · 1.30 s · interrupted``: what a reply cost and how it ended."""
    parts = []
    if message.input_tokens is not None or message.output_tokens is not None:
        parts.append(message.usage.describe(" tokens", grouped=False))
    if rate := shown_rate(message.tokens_per_second, message.duration):
        parts.append(f"{rate:.1f} tok/s")
    if message.duration:
        parts.append(f"{message.duration:.2f} s")
    if message.status != "complete":
        parts.append(message.status)
    if message.error:
        parts.append(f"error: {message.error}")
    return " · ".join(parts)


def markdown_header(conversation: Conversation) -> str:
    return (f"# {conversation.display_title}\n\n"
            f"- Conversation: `{conversation.id}`\n"
            f"- Agent: {conversation.agent_id}\n"
            f"- Started: {_local(conversation.created_at)}, last message {_local(conversation.updated_at)}\n")


def message_markdown(message: StoredMessage, *, thinking: bool = True) -> str:
    if message.role == "user":
        heading = "You"
    else:
        heading = " · ".join(part for part in (message.agent_name or message.agent_id, message.model) if part)
    lines = [f"## {heading or 'Assistant'} · {_local(message.created_at)}", ""]
    if thinking and message.thinking:
        lines += ["<details><summary>Thinking</summary>", "", message.thinking.strip(), "", "</details>", ""]
    if message.text or not message.tool_calls:
        lines += [message.text.rstrip() if message.text else "*(no text)*", ""]
    for call in message.tool_calls:
        lines += tool_call_markdown(call)
    if message.role == "assistant" and (summary := usage_summary(message)):
        lines += [f"*{summary}*", ""]
    return "\n".join(lines)


def tool_call_markdown(call: ToolCallPart) -> list[str]:
    """A tool call in a transcript: its name and status, its arguments, and its output folded away."""
    lines = [f"**Tool call** `{call.name}` · {call.status}", "", *_fenced(call.arguments or "{}", "json")]
    if call.output is not None:
        lines += ["<details><summary>Output</summary>", "", *_fenced(call.output), "</details>", ""]
    if call.error:
        lines += [f"*{call.error.strip()}*", ""]
    return lines


def _fenced(text: str, language: str = "") -> list[str]:
    # A fence longer than any run of backticks inside, so the text cannot close it early.
    longest = max((len(run) for run in text.split("\n") for run in _backtick_runs(run)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", text.rstrip("\n"), fence, ""]


def _backtick_runs(line: str) -> list[str]:
    runs, current = [], ""
    for char in line:
        if char == "`":
            current += char
        elif current:
            runs.append(current)
            current = ""
    return [*runs, current] if current else runs


def write_markdown(store: Store, conversations: Iterable[Conversation], out: TextIO, *,
                   thinking: bool = True) -> int:
    count = 0
    for count, conversation in enumerate(conversations, start=1):
        if count > 1:
            out.write("\n---\n\n")
        out.write(markdown_header(conversation))
        for message in iter_messages(store, conversation.id):
            out.write("\n" + message_markdown(message, thinking=thinking))
    return count


def _is_of(value: Any, types: type | tuple[type, ...]) -> bool:
    """``isinstance``, except that ``true`` is never a number: bool is an int to Python, never in a user's file."""
    wanted = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in wanted:
        return False
    return isinstance(value, wanted)
