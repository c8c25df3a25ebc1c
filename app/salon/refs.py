"""Model references as agents write them (``ollama/llama3.2``, ``openai/gpt-4o-mini``): which provider serves one,
the provider's own name for it, and the short label a person reads. Plain strings only: no provider is imported."""

from __future__ import annotations


def is_ollama(ref: str) -> bool:
    return ref.startswith("ollama/") or ref.startswith("ollama_chat/")


def is_gguf(ref: str) -> bool:
    """A GGUF file Salon runs itself: ``gguf/PATH``, ``gguf/NAME`` (models folders, Ollama's store)."""
    return ref.startswith("gguf/")


def split_ref(ref: str) -> str:
    """The provider's own name for a model: ``ollama/llama3.2`` → ``llama3.2``, ``gguf/x`` → ``x``; cloud refs
    stay whole."""
    return ref.split("/", 1)[1] if is_ollama(ref) or is_gguf(ref) else ref


def bare_model(ref: str) -> str:
    """``ollama/llama3.2:latest`` → ``llama3.2``: the provider prefix and Ollama's default tag say nothing."""
    return split_ref(ref).removesuffix(":latest")
