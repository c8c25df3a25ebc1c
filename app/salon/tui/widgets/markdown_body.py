"""A finished reply's Markdown on screen: one widget, rendered once by Rich, drawn through Textual's line API.

Only the lines in view become strips, so a long reply costs one Rich render (per width and theme) and then nothing
per frame; a ``Static`` would turn every line into a strip at every repaint.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from salon.tui.rendering import ChunkedMarkdown, LiveMarkdown


class MarkdownBody(Widget):
    """Shows a :class:`ChunkedMarkdown`; call :meth:`changed` after adding a chunk or changing its palette."""

    DEFAULT_CSS = """
    MarkdownBody {
        height: auto;
    }
    """

    def __init__(self, markdown: ChunkedMarkdown | LiveMarkdown, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.markdown = markdown
        self._key: tuple[int, str, int] | None = None
        self._lines: list[list[Segment]] = []
        self._strips: dict[int, Strip] = {}

    def _layout(self, width: int) -> list[list[Segment]]:
        key = (width, self.markdown.palette.key, len(self.markdown.parts))
        if key != self._key:
            self._key, self._lines = key, self.markdown.lines(self.app.console, width)
            self._strips.clear()
        return self._lines

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._layout(width))

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        lines = self._layout(width)
        if y >= len(lines):
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(y)
        if strip is None:
            strip = Strip(lines[y]).apply_style(self.rich_style)
            self._strips[y] = strip
        return strip

    def changed(self) -> None:
        self._key = None
        self.refresh(layout=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
