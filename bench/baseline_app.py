"""The peers' way, as a runnable app: every token written into a Textual Markdown through MarkdownStream.

    OLLAMA_HOST=127.0.0.1:PORT python bench/baseline_app.py

Type a prompt and press Enter. Used by bench/terminal.py as the baseline in a real terminal.
"""

from __future__ import annotations

import os

import ollama
from textual import work
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, Markdown


class BaselineChat(App):
    AUTO_FOCUS = "Input"

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown()
        yield Input(placeholder="prompt")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.reply(event.value)

    @work(exclusive=True)
    async def reply(self, prompt: str) -> None:
        markdown = self.query_one(Markdown)
        scroll = self.query_one(VerticalScroll)
        client = ollama.AsyncClient(host=os.environ.get("OLLAMA_HOST"))
        stream = Markdown.get_stream(markdown)
        try:
            async for part in await client.chat("llama3.2", [{"role": "user", "content": prompt}], stream=True):
                if part.message.content:
                    await stream.write(part.message.content)
                    scroll.scroll_end(animate=False)
        finally:
            await stream.stop()


if __name__ == "__main__":
    BaselineChat().run()
