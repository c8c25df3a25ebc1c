"""Turning model text into what the terminal shows: safe characters, themed Rich Markdown, cached per width.

A finished message is one light widget holding :class:`MarkdownRender` (a Rich renderable), not a tree of Textual
``Markdown`` block widgets: a long history of those costs seconds to mount and hundreds of MB (measured in
docs/performance.md). Textual asks a Rich renderable for its height and then for its lines, at every layout; the
cache here makes both one render per width and theme.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.segment import Segment

from salon.tui.blocks import CHUNK_SIZE as CHUNK_SIZE  # named here too, where they were
from salon.tui.blocks import LONG_BLOCK as LONG_BLOCK
from salon.tui.blocks import markdown_parser, split_parts

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.markdown import Markdown
    from rich.measure import Measurement
    from rich.theme import Theme as RichTheme


def literal_markdown(text: str, code_theme: str) -> Markdown:
    """A Rich ``Markdown`` of ``text`` parsed by :func:`markdown_parser`, so what looks like HTML stays text."""
    from rich.markdown import Markdown

    markdown = Markdown("", code_theme=code_theme, hyperlinks=False)
    markdown.markup = text
    markdown.parsed = markdown_parser().parse(text)
    return markdown


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


class _LinesRenderable:
    """A Rich renderable made of the lines its ``lines(console, width)`` gives, always as wide as it is allowed."""

    __slots__ = ()

    def lines(self, console: Console, width: int) -> list[list[Segment]]:
        raise NotImplementedError

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        newline = Segment.line()
        for line in self.lines(console, options.max_width):
            yield from line
            yield newline

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        from rich.measure import Measurement

        # A message always takes the width it is given; measuring it would cost a render.
        return Measurement(options.max_width, options.max_width)


class MarkdownRender(_LinesRenderable):
    """A Rich renderable of one message's Markdown, rendered once per width and palette.

    ``joined`` says the text goes on with the paragraph the previous chunk ended in (a long paragraph cut between
    its lines): it is drawn right under it, with no blank line between.
    """

    __slots__ = ("_cache", "_palette", "joined", "text")

    def __init__(self, text: str, palette: Palette, *, joined: bool = False) -> None:
        self.text = text
        self.joined = joined
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
        markdown = literal_markdown(self.text, self._palette.code_theme)
        console.push_theme(self._palette.rich_theme)
        try:
            options = console.options.update(width=width, height=None, highlight=False)
            rendered = console.render_lines(markdown, options, pad=False)
        finally:
            console.pop_theme()
        self._cache = [(key, rendered), *self._cache[:1]]
        return rendered



class ChunkedMarkdown(_LinesRenderable):
    """Markdown rendered as consecutive chunks, each split at a top-level block and cached on its own.

    A streaming reply settles its finished blocks into chunks as it goes, so the final message re-renders only
    the part that arrived last instead of the whole reply (which is what keeps the final swap quick).
    """

    __slots__ = ("_palette", "open_paragraph", "parts", "size")

    def __init__(self, palette: Palette, chunks: Sequence[str] = ()) -> None:
        self._palette = palette
        self.parts = [MarkdownRender(chunk, palette) for chunk in chunks if chunk]
        self.size = sum(len(part.text) for part in self.parts)
        self.open_paragraph = False
        """The last chunk ends inside a paragraph (cut between its lines): text added next continues it."""

    @property
    def source(self) -> str:
        return "".join(part.text for part in self.parts)

    def append(self, chunk: str, *, joined: bool = False) -> None:
        if chunk:
            self.parts.append(MarkdownRender(chunk, self._palette, joined=joined and bool(self.parts)))
            self.size += len(chunk)

    def replace(self, text: str) -> None:
        """Hold ``text`` alone, as one chunk (a live reply's tail, drawn again at each frame)."""
        self.parts = [MarkdownRender(text, self._palette)] if text else []
        self.size = len(text)

    def extend(self, text: str, *, open_paragraph: bool = False) -> None:
        """Add ``text`` in block-sized chunks; ``open_paragraph`` says it ends inside a paragraph that goes on."""
        for index, (chunk, joined) in enumerate(split_parts(text)):
            self.append(chunk, joined=joined or (index == 0 and self.open_paragraph))
        if text:
            self.open_paragraph = open_paragraph

    def extended(self, text: str) -> ChunkedMarkdown:
        """A copy with ``text`` added (in block-sized chunks), sharing the chunks rendered already."""
        copy = ChunkedMarkdown(self._palette)
        copy.parts = [*self.parts]
        copy.size = self.size
        copy.open_paragraph = self.open_paragraph
        copy.extend(text)
        return copy

    @classmethod
    def of(cls, text: str, palette: Palette) -> ChunkedMarkdown:
        """``text`` in chunks of whole blocks: rendered piece by piece, the drawing can pause in between."""
        markdown = cls(palette)
        markdown.extend(text)
        return markdown

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
            _join(joined, part.lines(console, width), part.joined)
        return joined


class LiveMarkdown(_LinesRenderable):
    """A streaming reply: its settled chunks (kept, and reused by the final message) and the tail still growing.

    Laid out exactly as :class:`ChunkedMarkdown` lays out the same chunks, so the final message, which is the settled
    chunks plus the rest, draws every block at the line where the live reply drew it: the swap moves no text.
    """

    __slots__ = ("_joined", "_joined_key", "settled", "tail")

    def __init__(self, settled: ChunkedMarkdown) -> None:
        self.settled = settled
        self.tail: MarkdownRender | None = None
        self._joined: list[list[Segment]] = []
        self._joined_key: tuple[int, str, int] | None = None

    @property
    def parts(self) -> list[MarkdownRender]:
        return [*self.settled.parts, *([self.tail] if self.tail is not None else [])]

    @property
    def palette(self) -> Palette:
        return self.settled.palette

    @palette.setter
    def palette(self, palette: Palette) -> None:
        self.settled.palette = palette
        if self.tail is not None:
            self.tail.palette = palette
        self._joined_key = None

    def replace_tail(self, text: str) -> None:
        """The tail is now ``text``; it continues the settled paragraph when the settled part ended inside one."""
        self.tail = (MarkdownRender(text, self.settled.palette, joined=self.settled.open_paragraph
                                    and bool(self.settled.parts)) if text else None)

    def lines(self, console: Console, width: int) -> list[list[Segment]]:
        key = (width, self.settled.palette.key, len(self.settled.parts))
        if key != self._joined_key:
            # The settled chunks joined once per settle (or width); each frame copies them and adds the tail.
            self._joined, self._joined_key = self.settled.lines(console, width), key
        lines = list(self._joined)
        if self.tail is not None:
            _join(lines, self.tail.lines(console, width), self.tail.joined)
        return lines


def _join(joined: list[list[Segment]], rendered: list[list[Segment]], continues: bool) -> None:
    """Add a chunk's lines below ``joined``: one blank line between blocks, none inside a paragraph cut in two."""
    if joined:
        start = 0
        while start < len(rendered) and _blank(rendered[start]):
            start += 1
        while joined and _blank(joined[-1]):
            joined.pop()
        if not continues:
            joined.append([])
        rendered = rendered[start:]
    joined.extend(rendered)



def _blank(line: list[Segment]) -> bool:
    """An empty line between blocks (a code block's padding, which has a background, is not one)."""
    return all(not segment.text.strip() and not (segment.style and segment.style.bgcolor) for segment in line)


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
