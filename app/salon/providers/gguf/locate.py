"""Where a ``gguf/…`` reference points: a file path, a file in Salon's models folders, or a model Ollama pulled.

Ollama keeps each pulled model as a manifest (``manifests/HOST/NAMESPACE/MODEL/TAG``, JSON) whose layer of media type
``application/vnd.ollama.image.model`` names the blob holding the weights — a plain GGUF file at
``blobs/sha256-HEX``. Reading the manifest is all it takes to run that file without the Ollama server.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from salon.errors import ModelFileError, ModelNotFound

PREFIX = "gguf/"
OLLAMA_HOST = "registry.ollama.ai"
MODEL_LAYER = "application/vnd.ollama.image.model"
_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")


@dataclass(frozen=True, slots=True)
class LocalModel:
    """A GGUF file Salon can run, and the name a ``gguf/…`` reference gives it."""

    name: str
    path: Path
    source: str
    """Where it was found: ``models folder``, a configured folder, or ``ollama``."""


def ollama_store() -> Path:
    """Ollama's model store: ``$OLLAMA_MODELS``, else ``~/.ollama/models`` (Ollama's own rule)."""
    if override := os.environ.get("OLLAMA_MODELS", "").strip():
        return Path(override).expanduser()
    return Path.home() / ".ollama" / "models"


def _ollama_parts(name: str) -> tuple[str, str, str, str] | None:
    """``llama3.2`` → (registry.ollama.ai, library, llama3.2, latest); None for what cannot be an Ollama name."""
    model, _, tag = name.partition(":")
    parts = model.split("/")
    if not model or any(not p or p in (".", "..") for p in parts) or len(parts) > 3 or "/" in tag:
        return None
    host, namespace = OLLAMA_HOST, "library"
    if len(parts) == 3:
        host, namespace, model = parts
    elif len(parts) == 2:
        namespace, model = parts
    return host, namespace, model, tag or "latest"


def ollama_blob(store: Path, name: str) -> Path | None:
    """The GGUF blob of the model Ollama pulled as ``name``, or None if the store has no such model.

    Raises :class:`ModelFileError` for a manifest that is there but unreadable or names no weights.
    """
    parts = _ollama_parts(name)
    if parts is None:
        return None
    manifest = store.joinpath("manifests", *parts)
    if not manifest.is_file():
        return None
    try:
        layers = json.loads(manifest.read_text(encoding="utf-8")).get("layers", [])
        digest = next(layer["digest"] for layer in layers if layer.get("mediaType") == MODEL_LAYER)
    except (OSError, ValueError, AttributeError, TypeError, KeyError, StopIteration):
        raise ModelFileError(manifest, "is an Ollama manifest without a readable model layer") from None
    found = _DIGEST.match(str(digest))
    if found is None:
        raise ModelFileError(manifest, f"names a model layer Salon cannot place ({digest!r})")
    return store / "blobs" / f"sha256-{found.group(1)}"


def _in_folder(folder: Path, name: str) -> Path | None:
    if Path(name).is_absolute() or ".." in Path(name).parts:
        return None
    for candidate in (folder / name, folder / f"{name}.gguf"):
        if candidate.is_file():
            return candidate
    return None


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or name.lower().endswith(".gguf")


def resolve(name: str, folders: Sequence[Path], store: Path | None = None) -> Path:
    """The file ``gguf/NAME`` names. In order: a path that exists, a file in ``folders`` (``NAME`` or
    ``NAME.gguf``), a model in Ollama's store. Raises :class:`ModelFileError` or :class:`ModelNotFound`."""
    store = ollama_store() if store is None else store
    path = Path(name).expanduser()
    if path.exists():
        return path
    for folder in folders:
        if (found := _in_folder(folder, name)) is not None:
            return found
    if (blob := ollama_blob(store, name)) is not None:
        if not blob.exists():
            raise ModelFileError(blob, f"is missing: Ollama's manifest for '{name}' names it, but the blob is "
                                       "gone (run `ollama pull` again)")
        return blob
    if _looks_like_path(name):
        raise ModelFileError(path, "no such file")
    places = [str(f) for f in folders] + [f"Ollama's store {store}"]
    raise ModelNotFound(PREFIX + name, f"no file '{name}' or '{name}.gguf' in {', '.join(places)}",
                        pull_hint=False)


def local_models(folders: Sequence[Path], store: Path | None = None) -> Iterator[LocalModel]:
    """Every GGUF file in ``folders`` and every model in Ollama's store, by the name that runs it."""
    store = ollama_store() if store is None else store
    for index, folder in enumerate(folders):
        source = "models folder" if index == 0 else str(folder)
        try:
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".gguf" and p.is_file())
        except OSError:
            continue
        for file in files:
            yield LocalModel(file.stem, file, source)
    yield from _ollama_models(store)


def _ollama_models(store: Path) -> Iterator[LocalModel]:
    root = store / "manifests"
    try:
        manifests = sorted(p for p in root.glob("*/*/*/*") if p.is_file())
    except OSError:
        return
    for manifest in manifests:
        host, namespace, model, tag = manifest.relative_to(root).parts
        name = model if (host, namespace) == (OLLAMA_HOST, "library") else (
            f"{namespace}/{model}" if host == OLLAMA_HOST else f"{host}/{namespace}/{model}")
        if tag != "latest":
            name = f"{name}:{tag}"
        try:
            blob = ollama_blob(store, name)
        except ModelFileError:
            continue
        if blob is not None and blob.is_file():
            yield LocalModel(name, blob, "ollama")
