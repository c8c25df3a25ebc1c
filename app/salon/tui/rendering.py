"""Turning model text into what the terminal shows: safe characters, themed Rich Markdown, cached per width.

A finished message is one light widget holding :class:`MarkdownRender` (a Rich renderable), not a tree of Textual
``Markdown`` block widgets: a long history of those costs seconds to mount and hundreds of MB (FIELD-NOTES).
Textual asks a Rich renderable for its height and then for its lines, at every layout; the cache here makes both
one render per width and theme.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.segment import Segment

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.measure import Measurement
    from rich.theme import Theme as RichTheme


def _control_pictures() -> dict[int, str]:
    # A model's text reaches the terminal as characters: an ESC or a C1 byte would be a terminal command, so every
    # control character except newline and tab is shown as its Unicode picture (ESC → ␛) instead.
    table = {code: chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A)}
    table[0x7F] = "\u2421"
    table.update({code: "\ufffd" for code in range(0x80, 0xA0)})
    return table


_SAFE = _control_pictures()

CHUNK_SIZE = 2000
"""Characters of Markdown rendered in one piece when a long reply is drawn whole."""


def safe_text(text: str) -> str:
    """``text`` with control characters made visible; Windows line ends become plain newlines."""
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return text.translate(_SAFE)


def rich_markdown_theme(variables: Mapping[str, str], dark: bool) -> RichTheme:
    """Rich's ``markdown.*`` styles in the app theme's colours (Rich knows nothing of Textual themes)."""
    from rich.theme import Theme

    def colour(name: str, default: str) -> str:
        value = variables.get(name, default)
        # "#rrggbb 40%" is Textual-only syntax; Rich takes the colour without the alpha.
        return value.split()[0] if value else default

    primary = colour("primary", "#0178D4")
    secondary = colour("secondary", primary)
    accent = colour("accent", "#ffa62b")
    surface = colour("surface", "#1e1e1e" if dark else "#f0f0f0")
    muted = colour("salon-meta", colour("foreground-muted", "#888888"))
    return Theme({
        "markdown.h1": f"bold {primary}",
        "markdown.h1.border": primary,
        "markdown.h2": f"bold underline {primary}",
        "markdown.h3": f"bold {primary}",
        "markdown.h4": f"italic {primary}",
        "markdown.h5": "italic",
        "markdown.h6": f"italic {muted}",
        "markdown.code": f"bold {accent} on {surface}",
        "markdown.code_block": f"on {surface}",
        "markdown.block_quote": f"italic {muted}",
        "markdown.list": accent,
        "markdown.item.bullet": f"bold {accent}",
        "markdown.item.number": accent,
        "markdown.hr": muted,
        "markdown.link": f"underline {secondary}",
        "markdown.link_url": f"underline {muted}",
        "markdown.table.border": muted,
        "markdown.table.header": f"bold {primary}",
        "markdown.kbd": f"bold {accent}",
    })


class Palette:
    """What a Rich render needs from the app's theme, read once per theme change."""

    __slots__ = ("code_theme", "key", "rich_theme")

    def __init__(self, key: str, rich_theme: RichTheme, code_theme: str) -> None:
        self.key = key
        self.rich_theme = rich_theme
        self.code_theme = code_theme

    @classmethod
    def from_variables(cls, key: str, variables: Mapping[str, str], dark: bool) -> Palette:
        return cls(key, rich_markdown_theme(variables, dark), "monokai" if dark else "default")


class MarkdownRender:
    """A Rich renderable of one message's Markdown, rendered once per width and palette."""

    __slots__ = ("_cache", "_palette", "text")

    def __init__(self, text: str, palette: Palette) -> None:
        self.text = text
        self._palette = palette
        self._cache: list[tuple[tuple[int, str], list[list[Segment]]]] = []

    @property
    def palette(self) -> Palette:
        return self._palette

    @palette.setter
    def palette(self, palette: Palette) -> None:
        if palette.key != self._palette.key or palette is not self._palette:
            self._palette = palette
            self._cache = []

    def lines(self, console: Console, width: int) -> list[list[Segment]]:
        """The rendered lines at ``width``; the last two widths are kept (a resize back costs nothing)."""
        key = (width, self._palette.key)
        for cached_key, rendered in self._cache:
            if cached_key == key:
                return rendered
        from rich.markdown import Markdown

        markdown = Markdown(self.text, code_theme=self._palette.code_theme, hyperlinks=False)
        console.push_theme(self._palette.rich_theme)
        try:
            options = console.options.update(width=width, height=None, highlight=False)
            rendered = console.render_lines(markdown, options, pad=False)
        finally:
            console.pop_theme()
        self._cache = [(key, rendered), *self._cache[:1]]
        return rendered

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        newline = Segment.line()
        for line in self.lines(console, options.max_width):
            yield from line
            yield newline

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        from rich.measure import Measurement

        # A message always takes the width it is given; measuring it would cost a render.
        return Measurement(options.max_width, options.max_width)


class ChunkedMarkdown:
    """Markdown rendered as consecutive chunks, each split at a top-level block and cached on its own.

    A streaming reply settles its finished blocks into chunks as it goes, so the final message re-renders only
    the part that arrived last instead of the whole reply (which is what keeps the final swap quick).
    """

    __slots__ = ("_palette", "parts")

    def __init__(self, palette: Palette, chunks: Sequence[str] = ()) -> None:
        self._palette = palette
        self.parts = [MarkdownRender(chunk, palette) for chunk in chunks if chunk]

    @property
    def source(self) -> str:
        return "".join(part.text for part in self.parts)

    def append(self, chunk: str) -> None:
        if chunk:
            self.parts.append(MarkdownRender(chunk, self._palette))

    def extended(self, text: str) -> ChunkedMarkdown:
        """A copy with ``text`` added (in block-sized chunks), sharing the chunks rendered already."""
        copy = ChunkedMarkdown(self._palette)
        copy.parts = [*self.parts]
        for chunk in split_blocks(text):
            copy.append(chunk)
        return copy

    @classmethod
    def of(cls, text: str, palette: Palette) -> ChunkedMarkdown:
        """``text`` in chunks of whole blocks: rendered piece by piece, the drawing can pause in between."""
        return cls(palette, split_blocks(text))

    @property
    def palette(self) -> Palette:
        return self._palette

    @palette.setter
    def palette(self, palette: Palette) -> None:
        self._palette = palette
        for part in self.parts:
            part.palette = palette

    def lines(self, console: Console, width: int) -> list[list[Segment]]:
        """Every chunk's lines, joined by exactly one blank line, as Rich separates blocks in one render."""
        joined: list[list[Segment]] = []
        for part in self.parts:
            rendered = part.lines(console, width)
            if joined:
                start = 0
                while start < len(rendered) and _blank(rendered[start]):
                    start += 1
                while joined and _blank(joined[-1]):
                    joined.pop()
                joined.append([])
                rendered = rendered[start:]
            joined.extend(rendered)
        return joined

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        newline = Segment.line()
        for line in self.lines(console, options.max_width):
            yield from line
            yield newline

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        from rich.measure import Measurement

        return Measurement(options.max_width, options.max_width)


def _blank(line: list[Segment]) -> bool:
    """An empty line between blocks (a code block's padding, which has a background, is not one)."""
    return all(not segment.text.strip() and not (segment.style and segment.style.bgcolor) for segment in line)


def split_blocks(text: str, size: int = CHUNK_SIZE) -> list[str]:
    """``text`` cut at top-level Markdown block boundaries into pieces of at least ``size`` characters."""
    if len(text) <= size:
        return [text] if text else []
    from markdown_it import MarkdownIt

    starts = sorted({t.map[0] for t in MarkdownIt("gfm-like").parse(text) if t.level == 0 and t.map is not None})
    lines = text.splitlines(keepends=True)
    chunks: list[str] = []
    current: list[str] = []
    size_so_far = 0
    for start, end in zip([0, *starts[1:]], [*starts[1:], len(lines)], strict=True):
        block = "".join(lines[start:end])
        current.append(block)
        size_so_far += len(block)
        if size_so_far >= size:
            chunks.append("".join(current))
            current, size_so_far = [], 0
    if current:
        chunks.append("".join(current))
    return chunks


def settle_point(source: str) -> int:
    """Where the last top-level Markdown block of ``source`` begins (0 when there is only one).

    Everything before it is finished: text still to come can only extend or change that last block. A fenced
    code block or a list is one block, however long, so a reply inside one is never cut in the middle.
    """
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("gfm-like").parse(source)
    last = max((t.map[0] for t in tokens if t.level == 0 and t.map is not None and t.nesting >= 0), default=0)
    if last == 0:
        return 0
    offset = 0
    for _ in range(last):
        newline = source.find("\n", offset)
        if newline < 0:
            return 0
        offset = newline + 1
    return offset


def code_blocks(text: str) -> list[str]:
    """The fenced code blocks of a Markdown text, their bodies only, in order (an unclosed last one included)."""
    blocks: list[str] = []
    fence: str | None = None
    body: list[str] = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if fence is None:
            if stripped.startswith(("```", "~~~")):
                marker = stripped[0]
                fence = marker * (len(stripped) - len(stripped.lstrip(marker)))
                body = []
        elif stripped.startswith(fence) and not stripped[len(fence):].strip():
            blocks.append("\n".join(body))
            fence = None
        else:
            body.append(line)
    if fence is not None and body:
        blocks.append("\n".join(body))
    return blocks
