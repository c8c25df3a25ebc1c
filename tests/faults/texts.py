"""Replies the fault tests send: huge, or full of what looks like markup or instructions (data, not tests)."""

from __future__ import annotations

TEXT = "Virtue is a kind of knowledge, and knowledge can be taught, or so it seems."
STORY = " ".join(f"word{i}" for i in range(400))

# Everything a terminal, Rich, Textual or a chat template might take for an instruction.
MARKUP = (
    "Before [/INST] and [INST] and <|im_end|> and {{ .Prompt }} and %s and {0}\n"
    "[bold]not bold[/bold] [red]not red[/] [link=https://example.invalid]not a link[/link] [/] [@click=quit]x[/]\n"
    "\x1b[31mnot red either\x1b[0m \x1b]0;not a title\x07 \x1b[2J still here \\[escaped]\n"
    "<script>alert(1)</script> &amp; **bold?** _it_ `code` <b>b</b>\n"
    "```python\n" + "\n".join(f"print({i})  # [dim]{i}[/dim] \x1b[1m" for i in range(5000)) + "\n```\n"
    "And then a fence that never closes:\n```rust\nfn main() { [bold] }\n"
)
# A megabyte of text, sent in 1 KiB pieces as a fast model on a fast machine would.
MEGABYTE = "".join(f"{i:06d} " + "the quick brown fox jumps over the lazy dog; " * 2 + "\n"
                   for i in range(11_000))[: 1 << 20]
