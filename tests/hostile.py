"""Text an attacker, a careless server or a JavaScript proxy could send, and what may reach a terminal of it.

Shared by every test of issue 12: the TUI (``tests/tui/test_untrusted*.py``), the commands through a pseudo-terminal
and a pipe (``tests/test_untrusted_cli.py``) and the pure rules (``tests/test_terminal.py``).
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

# -- the corpus -------------------------------------------------------------------------------------------------

MARKUP = {
    "action": "[@click=app.quit]x[/]",
    "screenshot": "[@click=app.screenshot('victim.txt','/tmp')]Baker[/]",
    "inst": "[/INST]",
    "close": "[/]",
    "bold": "[bold]b[/bold]",
    "link": "[link=https://evil.example]l[/link]",
}
ESCAPES = {
    "osc52": "\x1b]52;c;aGFja2Vk\x07",                       # sets the clipboard
    "osc8": "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",  # a hyperlink to elsewhere
    "osc0": "\x1b]0;ICON AND TITLE\x07",
    "osc2": "\x1b]2;WINDOW TITLE\x1b\\",
    "csi": "\x1b[2J\x1b[H\x1b[?25l\x1b[31m",                  # clears, homes, hides the cursor, turns red
    "c1": "\x9b2J\x9d2;C1 TITLE\x9c\x85",                      # the same in 8-bit controls
    "bidi": "\u202eevil\u202c \u2066isolated\u2069",
    "bidi-filename": "open photo\u202egnp.exe now",             # read as "open photowon exe.png" (issue 27)
    "nul": "a\x00b\x7fc\x08d\rX",
}
HTML = {
    "generic": "Vec<String>",
    "tag": "use the `<br>` tag or <br> here",
    "lt": "a<b>c",
    "llama": "<</SYS>>",
    "block": "<details>\n<summary>More</summary>\nhidden body\n</details>",
}
# A one-line field (a name, an id, a model) that would end its line and fake the next one of a listing.
LINE_BREAKS = {
    "newline": "Safe\nok   /home/u/.config/salon/agents/safe.toml  (safe: Safe)",
    "crlf": "Safe\r\nok   /home/u/.config/salon/agents/safe.toml  (safe: Safe)",
    "line-separator": "Safe\u2028ok   /home/u/.config/salon/agents/safe.toml  (safe: Safe)",
    "nel": "Safe\x85ok   /home/u/.config/salon/agents/safe.toml  (safe: Safe)",
}
LONE_SURROGATE = "\ud800"
LONE_LOW_SURROGATE = "\udfff"  # a low half with nothing before it, as posted to `salon serve` in issue 27
SPLIT_PAIR = ("\ud83d", "\ude00")  # 😀, cut between two chunks as JavaScript servers send it
LONG_LINE = "long " * 2000

CORPUS = {**MARKUP, **ESCAPES, **{f"html-{k}": v for k, v in HTML.items()},
          **{f"lines-{k}": v for k, v in LINE_BREAKS.items()}}

DONE_WHEN = ("A reply with Vec<String>, a block:\n\n<details>\nkept\n</details>\n\n"
             "and [@click=app.quit]click me[/] then \x1b]52;c;aGFja2Vk\x07 end.")
"""The reply of the issue's "Done when": HTML, action markup and an OSC 52 clipboard write in one."""

# -- what must never reach a terminal ---------------------------------------------------------------------------

FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
"""C0 controls but newline and tab, DEL, C1 controls, bidi overrides and isolates, surrogates."""


def forbidden(text: str) -> list[str]:
    """The characters of ``text`` that must not reach a terminal (empty when it is safe)."""
    return FORBIDDEN.findall(text)


def pty_forbidden(text: str) -> list[str]:
    """As :func:`forbidden`, for what a pseudo-terminal read back: its own line ends (``\\r\\n``) are allowed."""
    return forbidden(text.replace("\r\n", "\n"))


def printable(text: str) -> list[str]:
    """The characters of ``text`` a reader must be able to see."""
    return [c for c in text if c.isprintable() and not c.isspace()]


# -- Hypothesis -------------------------------------------------------------------------------------------------

_VISIBLE = st.characters(categories=("L", "N", "P", "S"))
_DANGEROUS = st.one_of(
    st.characters(max_codepoint=0x1F), st.characters(min_codepoint=0x7F, max_codepoint=0x9F),
    st.sampled_from([chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=("Cs",)),
)


def hostile_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Strings mixing pieces of the corpus, markup brackets, controls, bidi, surrogates and visible text."""
    piece = st.one_of(
        st.sampled_from(sorted(CORPUS.values())),
        st.text(_VISIBLE, max_size=8),
        st.text(st.sampled_from("[]/@=<>()'\"\\&;"), max_size=6),
        st.text(_DANGEROUS, min_size=1, max_size=3),
    )
    return st.lists(piece, min_size=1, max_size=6).map("".join).map(lambda s: s[:max_size])


def hostile_line(max_size: int = 24) -> st.SearchStrategy[str]:
    """Like :func:`hostile_text` but one line with something visible in it: a name, a title, a model name."""
    return hostile_text(max_size).map(lambda s: s.replace("\n", " ").replace("\r", " ")).filter(
        lambda s: any(c.isalnum() for c in s))
