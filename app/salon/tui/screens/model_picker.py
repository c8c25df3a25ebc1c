"""The model picker: the models the Ollama host has, loaded after the picker opens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from salon.errors import SalonError
from salon.tui.screens.picker import Choice, PickerScreen

if TYPE_CHECKING:
    from salon.providers import ModelInfo
    from salon.providers.ollama import OllamaProvider

AGENT_DEFAULT = "\x00agent-default"
"""The value of the entry that clears the override (no model ref can contain a NUL)."""


def model_choices(models: list[ModelInfo], current: str | None, agent_models: str) -> list[Choice]:
    def bare(ref: str) -> str:
        return ref.removesuffix(":latest")

    choices = [Choice(AGENT_DEFAULT, f"The agent's own model ({agent_models})", "clear the override",
                      search="default agent", current=current is None)]
    for model in models:
        size = f"{model.size / 1e9:.1f} GB" if model.size else ""
        detail = " · ".join(part for part in (model.details, size) if part)
        choices.append(Choice(bare(model.ref), bare(model.name), detail, search=model.name,
                              current=current is not None and bare(current) == bare(model.ref)))
    return choices


class ModelPicker(PickerScreen):
    """Returns a model ref (``ollama/…``), :data:`AGENT_DEFAULT`, or None."""

    def __init__(self, provider: OllamaProvider, current: str | None, agent_models: str) -> None:
        super().__init__("Switch model — this conversation's next replies use it", placeholder="Search models",
                         id="model-picker")
        self.provider = provider
        self.current = current
        self.agent_models = agent_models

    def on_mount(self) -> None:
        super().on_mount()
        self.set_choices(model_choices([], self.current, self.agent_models), f"Asking {self.provider.host}…")
        self.load()

    @work(exclusive=True, group="models")
    async def load(self) -> None:
        try:
            models = await self.provider.list_models()
        except SalonError as error:
            self.set_choices(model_choices([], self.current, self.agent_models), str(error))
            return
        note = "" if models else f"{self.provider.host} has no models yet: `ollama pull llama3.2` adds one."
        self.set_choices(model_choices(models, self.current, self.agent_models), note)
