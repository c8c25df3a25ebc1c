"""The pure parts of the chat's drawing: safe text, Markdown settling and chunks, code blocks, the footer."""

from __future__ import annotations

from rich.console import Console

from salon.events import MessageCompleted
from salon.messages import Message
from salon.reply import Reply, Usage
from salon.tui.plain import safe_text
from salon.tui.records import footer_text, model_label
from salon.tui.rendering import LONG_BLOCK, ChunkedMarkdown, Palette, code_blocks
from salon.tui.settling import settle_point
from salon.tui.widgets.progress import progress_text


def _plain(markdown: ChunkedMarkdown, width: int = 60) -> list[str]:
    console = Console(width=width, color_system=None)
    return ["".join(segment.text for segment in line).rstrip() for line in markdown.lines(console, width)]


def test_control_characters_become_visible_and_never_reach_the_terminal():
    shown = safe_text("red \x1b[31mtext\x1b[0m\x07 bell\r\nnext\tline \x9b1m")
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert shown == "red ␛[31mtext␛[0m␇ bell\nnext\tline \\u{009b}1m"


def test_markup_lookalikes_are_left_alone():
    assert safe_text("[/INST] [bold]x[/bold]") == "[/INST] [bold]x[/bold]"


def test_settle_point_keeps_the_last_block_open():
    source = "First paragraph.\n\nSecond paragraph.\n\n- a list\n- still"
    cut = settle_point(source)
    assert source[:cut] == "First paragraph.\n\nSecond paragraph.\n\n"
    assert source[cut:] == "- a list\n- still"


def test_settle_point_never_cuts_inside_an_open_code_fence():
    source = "Intro.\n\n```python\ndef f():\n\n    return 1\n"
    assert source[settle_point(source):] == "```python\ndef f():\n\n    return 1\n"
    assert settle_point("```\nonly code\n\nstill code") == 0


def test_chunks_render_like_one_markdown_with_one_blank_line_between_blocks():
    palette = Palette.from_variables("test", {}, True)
    text = "A paragraph with `code`.\n\n- one\n- two\n\n> a quote\n\nThe end."
    chunks = ChunkedMarkdown(palette, ["A paragraph with `code`.\n\n", "- one\n- two\n\n", "> a quote\n\nThe end."])
    whole = ChunkedMarkdown(palette, [text])
    assert _plain(chunks) == _plain(whole)
    assert chunks.source == text


def test_an_extended_chunked_render_shares_the_rendered_chunks():
    palette = Palette.from_variables("test", {}, True)
    settled = ChunkedMarkdown(palette, ["Done.\n\n"])
    console = Console(width=40, color_system=None)
    first = settled.parts[0].lines(console, 40)
    final = settled.extended("And the rest.")
    assert final.parts[0].lines(console, 40) is first, "no second render of what streamed already"
    assert _plain(final, 40) == ["Done.", "", "And the rest."]


def test_a_new_theme_renders_again():
    dark = Palette.from_variables("dark", {"primary": "#ff0000"}, True)
    light = Palette.from_variables("light", {"primary": "#0000ff"}, False)
    markdown = ChunkedMarkdown(dark, ["# Title"])
    console = Console(width=30, color_system="truecolor")
    before = markdown.lines(console, 30)
    markdown.palette = light
    after = markdown.lines(console, 30)
    assert before is not after
    assert any(s.style and s.style.color and s.style.color.triplet.hex == "#0000ff" for line in after for s in line)


def test_code_blocks_are_found_in_order_including_an_unclosed_last_one():
    text = "x\n\n```py\na = 1\n```\n\ntext\n\n~~~\nb\n~~~\n\n```sh\necho cut"
    assert code_blocks(text) == ["a = 1", "b", "echo cut"]
    assert code_blocks("no code") == []


def test_the_footer_names_agent_model_tokens_rate_and_time():
    reply = Reply(text="hi", model="ollama/llama3.2:latest", chunks=3, usage=Usage(26, 120),
                  duration=2.94, tokens_per_second=42.04)
    record = Message.completed(MessageCompleted("run", "msg", 0, "socrates", "Socrates", reply))
    assert footer_text(record) == "Socrates · llama3.2 · 26 in / 120 out · 42.0 tok/s · 2.9 s"


def test_the_footer_marks_estimated_usage():
    record = Message("m", "c", role="assistant", text="x", agent_name="GPT", model="openai/gpt-4o-mini",
                           input_tokens=1_200, output_tokens=80, usage_estimated=True, duration=1.0)
    assert footer_text(record) == "GPT · openai/gpt-4o-mini · 1,200 in / 80 out (estimated) · 1.0 s"


def test_the_footer_without_usage_gives_an_estimate_in_the_same_words_as_the_live_line():
    # Issue 15: an interrupted reply said "155 chunks" where others said "400 out".
    record = Message("m", "c", role="assistant", text="x", agent_name="A", model="ollama/qwen3",
                     duration=0.5)
    assert footer_text(record, chunks=12) == "A · qwen3 · ≈ 12 out (estimated) · 0.5 s"
    assert "≈ 12 out (estimated)" in progress_text(12, None, 0.5)
    assert "deltas" not in progress_text(12, None, 0.5)


def test_a_rate_is_shown_only_over_a_long_enough_time():
    # Issue 15: a reply that took almost no time showed "13567.9 tok/s · 0.0 s".
    quick = Message("m", "c", role="assistant", text="x", agent_name="A", model="ollama/qwen3",
                          input_tokens=5, output_tokens=400, tokens_per_second=13567.9, duration=0.03)
    assert footer_text(quick) == "A · qwen3 · 5 in / 400 out · 0.0 s"
    steady = Message("m", "c", role="assistant", text="x", agent_name="A", model="ollama/qwen3",
                           input_tokens=5, output_tokens=400, tokens_per_second=80.0, duration=5.0)
    assert footer_text(steady) == "A · qwen3 · 5 in / 400 out · 80.0 tok/s · 5.0 s"


def test_model_labels_drop_the_provider_and_the_default_tag():
    assert model_label("ollama/llama3.2:latest") == "llama3.2"
    assert model_label("ollama/qwen3:8b") == "qwen3:8b"
    assert model_label("anthropic/claude-3-5-haiku") == "anthropic/claude-3-5-haiku"


def test_a_huge_paragraph_is_drawn_in_pieces_that_read_as_one_paragraph():
    # A model that never writes a blank line: one paragraph of 40 kB, which must not be one render.
    palette = Palette.from_variables("test", {}, True)
    text = "".join(f"{i:05d} the quick brown fox - jumps * over the lazy dog\n" for i in range(800))
    markdown = ChunkedMarkdown.of(text, palette)
    assert len(markdown.parts) > 10 and max(len(part.text) for part in markdown.parts) <= LONG_BLOCK
    assert markdown.source == text
    shown = _plain(markdown, 200)
    assert "" not in shown, "no blank line where the paragraph was cut"
    assert " ".join(shown).split() == " ".join(_plain(ChunkedMarkdown(palette, [text]), 200)).split()


def test_a_paragraph_is_never_cut_before_a_line_that_would_open_a_block_on_its_own():
    # Inside a paragraph these lines go on with it; at the start of a piece they would be a list or a code block.
    palette = Palette.from_variables("test", {}, True)
    risky = "".join(f"2) goes on with the paragraph {i}\n    still prose, not code {i}\n" for i in range(400))
    text = "Start of a paragraph\n" + risky
    markdown = ChunkedMarkdown.of(text, palette)
    assert len(markdown.parts) == 1, "every line could open a block: the paragraph stays whole"
