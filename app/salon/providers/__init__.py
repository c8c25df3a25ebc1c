"""Which provider serves a model reference: ``ollama/…`` the native client, ``gguf/…`` llama.cpp in-process,
anything else litellm."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salon.config.read import Config, gguf_folders
from salon.providers.base import ChatMessage, CompletionRequest, ModelInfo, Provider
from salon.refs import bare_model, is_gguf, is_ollama, split_ref

if TYPE_CHECKING:
    from salon.providers.gguf.provider import GgufProvider
    from salon.providers.ollama import OllamaProvider

__all__ = ["ChatMessage", "CompletionRequest", "ModelInfo", "Provider", "Providers", "bare_model", "is_gguf",
           "is_ollama", "split_ref"]


class Providers:
    """Opens each provider once per session and closes them together; cloud code loads only when asked for."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._ollama: OllamaProvider | None = None
        self._cloud: Provider | None = None
        self._gguf: GgufProvider | None = None

    def for_model(self, ref: str) -> Provider:
        if is_gguf(ref):
            return self.gguf()
        return self.ollama() if is_ollama(ref) else self.cloud()

    def ollama(self) -> OllamaProvider:
        if self._ollama is None:
            from salon.config.read import ollama_endpoint
            from salon.providers.ollama import OllamaProvider

            self._ollama = OllamaProvider(ollama_endpoint(self.config), self.config.connect_timeout,
                                          self.config.read_timeout)
        return self._ollama

    def cloud(self) -> Provider:
        if self._cloud is None:
            from salon.providers.cloud.provider import CloudProvider

            self._cloud = CloudProvider(self.config)
        return self._cloud

    def gguf(self) -> GgufProvider:
        if self._gguf is None:
            from salon.providers.gguf.provider import GgufProvider  # llama-cpp-python itself loads only to answer

            self._gguf = GgufProvider(gguf_folders(self.config))
        return self._gguf

    async def aclose(self) -> None:
        for provider in (self._ollama, self._cloud, self._gguf):
            if provider is not None:
                await provider.aclose()
        self._ollama = self._cloud = self._gguf = None
