"""The model picker: the models the Ollama host has, loaded after the picker opens, and the cloud models named in
config.toml's ``[providers.NAME] models`` (read without a network call or importing litellm)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from salon.errors import SalonError
from salon.tui.screens.picker import Choice, PickerScreen

if TYPE_CHECKING:
    from salon.api import ModelInfo, Session

AGENT_DEFAULT = "\x00agent-default"
"""The value of the entry that clears the override (no model ref can contain a NUL)."""


def model_choices(models: list[ModelInfo], current: str | None, agent_models: str,
                  cloud: list[ModelInfo] | None = None) -> list[Choice]:
    def bare(ref: str) -> str:
        return ref.removesuffix(":latest")

    choices = [Choice(AGENT_DEFAULT, f"The agent's own model ({agent_models})", "clear the override",
                      search="default agent", current=current is None)]
    for model in models:
        size = f"{model.size / 1e9:.1f} GB" if model.size else ""
        detail = " · ".join(part for part in (model.details, size) if part)
        choices.append(Choice(bare(model.ref), bare(model.name), detail, search=model.name,
                              current=current is not None and bare(current) == bare(model.ref)))
    for model in cloud or ():
        choices.append(Choice(model.ref, model.ref, model.details, search=model.ref,
                              current=current is not None and current == model.ref))
    return choices


class ModelPicker(PickerScreen):
    """Returns a model ref (``ollama/…``), :data:`AGENT_DEFAULT`, or None."""

    def __init__(self, session: Session, current: str | None, agent_models: str) -> None:
        super().__init__("Switch model — this conversation's next replies use it", placeholder="Search models",
                         id="model-picker")
        self.session = session
        self.current = current
        self.agent_models = agent_models
        self.cloud_models: list[ModelInfo] = []

    def on_mount(self) -> None:
        super().on_mount()
        self.set_choices(model_choices([], self.current, self.agent_models), f"Asking {self.session.host}…")
        self.load()

    @work(exclusive=True, group="models")
    async def load(self) -> None:
        try:
            self.cloud_models = await self.session.configured_models()
        except SalonError as error:
            self.notify(str(error), severity="warning")
        if self.cloud_models:
            self.set_choices(model_choices([], self.current, self.agent_models, self.cloud_models),
                             f"Asking {self.session.host}…")
        try:
            models = await self.session.host_models()
        except SalonError as error:
            self.set_choices(model_choices([], self.current, self.agent_models, self.cloud_models), str(error))
            return
        note = "" if models else f"{self.session.host} has no models yet: `ollama pull llama3.2` adds one."
        self.set_choices(model_choices(models, self.current, self.agent_models, self.cloud_models), note)
