"""The bare Textual app that start-up is compared with: one Static, nothing else."""

from textual.app import App, ComposeResult
from textual.widgets import Static


class Hello(App):
    def compose(self) -> ComposeResult:
        yield Static("hello, terminal")


if __name__ == "__main__":
    Hello().run()
