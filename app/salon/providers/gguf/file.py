"""Read a GGUF file's header without llama.cpp: what it is, how big its parts are, and whether it is whole.

GGUF is llama.cpp's model format: a magic, a table of typed key/value metadata, a table of tensor descriptions,
then the tensor data. Listing models (``salon models``) and checking a file before it is loaded read only this
header, so neither imports llama-cpp-python nor maps gigabytes of weights.
"""

from __future__ import annotations

import mmap
import struct
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salon.errors import ModelFileError

MAGIC = b"GGUF"

# Metadata value types: number → struct format (strings and arrays are read apart).
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9

# ggml tensor types: number → (name, elements per block, bytes per block), for the size of each tensor's data.
_TENSOR_TYPES: Mapping[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
}

# `general.file_type` (llama.cpp's LLAMA_FTYPE): the quantisation a person asks for by name.
_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0", 38: "MXFP4_MOE",
}

# Arrays longer than this (a vocabulary) are skipped, not kept: nothing Salon shows needs them.
_KEPT_ARRAY = 64


@dataclass(frozen=True, slots=True)
class GGUFInfo:
    """What a GGUF header says about its model."""

    path: Path
    size: int
    """The file's size in bytes."""
    metadata: Mapping[str, Any]
    parameters: int
    """Elements across all tensors: the model's parameter count."""
    quantisation: str
    data_end: int
    """Where the last tensor's data ends; a file shorter than this was cut off."""

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    @property
    def chat_template(self) -> str | None:
        template = self.metadata.get("tokenizer.chat_template")
        return template if isinstance(template, str) and template.strip() else None

    def field(self, name: str) -> Any:
        """An architecture-specific field: ``field("context_length")`` reads ``gemma3.context_length``."""
        return self.metadata.get(f"{self.architecture}.{name}")

    @property
    def context_length(self) -> int | None:
        value = self.field("context_length")
        return value if isinstance(value, int) else None

    def kv_bytes_per_token(self) -> int | None:
        """Bytes of KV cache (f16 keys and values) one token of context takes, or None if the header is silent."""
        layers, width, heads = self.field("block_count"), self.field("embedding_length"), \
            self.field("attention.head_count")
        kv_heads = self.field("attention.head_count_kv") or heads
        if isinstance(kv_heads, list):  # per-layer counts in some architectures
            kv_heads = max(kv_heads) if kv_heads else heads
        if isinstance(heads, list):
            heads = max(heads) if heads else None
        if not all(isinstance(v, int) and v > 0 for v in (layers, width, heads, kv_heads)):
            return None
        key = self.field("attention.key_length") or width // heads
        value = self.field("attention.value_length") or width // heads
        return 2 * layers * kv_heads * (key + value)

    def describe(self) -> str:
        """``268M Q4_K_M``: what ``salon models`` shows beside the name."""
        return " ".join(part for part in (_count(self.parameters), self.quantisation) if part)


def read_header(path: Path) -> GGUFInfo:
    """The header of the GGUF file at ``path``; raises :class:`ModelFileError` naming what is wrong with it."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            if size < 24:
                raise _not_gguf(path, handle.read(4), size)
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _parse(path, size, data)
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except IsADirectoryError:
        raise ModelFileError(path, "is a folder, not a GGUF file") from None
    except PermissionError:
        raise ModelFileError(path, "cannot be read (permission denied)") from None
    except OSError as error:
        raise ModelFileError(path, f"cannot be read ({error.strerror or error})") from None


def _not_gguf(path: Path, head: bytes, size: int) -> ModelFileError:
    if size == 0:
        return ModelFileError(path, "is empty (0 bytes), not a GGUF model")
    if head[:4] == MAGIC:
        return ModelFileError(path, f"is cut off: {size} bytes, too short even for a GGUF header")
    return ModelFileError(path, f"is not a GGUF model file (it starts with {head[:4]!r}, not {MAGIC!r})")


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: Any) -> None:
        self.data = data
        self.pos = 0

    def scalar(self, fmt: str) -> Any:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.scalar("<Q")
        end = self.pos + length
        if end > len(self.data):
            raise struct.error("string runs past the end of the file")
        text = bytes(self.data[self.pos:end]).decode("utf-8", errors="replace")
        self.pos = end
        return text

    def skip_string(self) -> None:
        length = self.scalar("<Q")
        self.pos += length

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.scalar("<I"), self.scalar("<Q")
            if count > _KEPT_ARRAY:
                self.skip_array(item_kind, count)
                return count  # only its length is kept
            return [self.value(item_kind) for _ in range(count)]
        raise ValueError(f"unknown metadata value type {kind}")

    def skip_array(self, kind: int, count: int) -> None:
        if kind in _SCALARS:
            self.pos += struct.calcsize(_SCALARS[kind]) * count
        elif kind == _STRING:
            for _ in range(count):
                self.pos += struct.unpack_from("<Q", self.data, self.pos)[0] + 8
        else:
            for _ in range(count):
                self.value(kind)


def _parse(path: Path, size: int, data: Any) -> GGUFInfo:
    if data[:4] != MAGIC:
        raise _not_gguf(path, data[:4], size)
    reader = _Reader(data)
    reader.pos = 4
    try:
        version = reader.scalar("<I")
        if version not in (2, 3):
            raise ModelFileError(path, f"is GGUF version {version}; Salon reads versions 2 and 3")
        tensor_count, kv_count = reader.scalar("<Q"), reader.scalar("<Q")
        metadata: dict[str, Any] = {}
        for _ in range(kv_count):
            key = reader.string()
            metadata[key] = reader.value(reader.scalar("<I"))
        parameters, data_size, kinds = 0, 0, Counter[int]()
        for _ in range(tensor_count):
            reader.skip_string()
            dims = [reader.scalar("<Q") for _ in range(reader.scalar("<I"))]
            kind, offset = reader.scalar("<I"), reader.scalar("<Q")
            elements = 1
            for dim in dims:
                elements *= dim
            parameters += elements
            kinds[kind] += elements
            _, block, block_bytes = _TENSOR_TYPES.get(kind, ("", 0, 0))
            data_size = max(data_size, offset + (elements // block * block_bytes if block else 0))
    except (struct.error, ValueError, IndexError):
        raise ModelFileError(path, f"is cut off or damaged: its header does not fit in its {size:,} bytes") \
            from None
    if tensor_count == 0:
        raise ModelFileError(path, "is a GGUF file with no tensors in it: there are no weights to run")
    alignment = metadata.get("general.alignment", 32)
    alignment = alignment if isinstance(alignment, int) and alignment > 0 else 32
    data_start = -(-reader.pos // alignment) * alignment
    data_end = data_start + data_size
    if size < data_end:
        raise ModelFileError(path, f"is cut off: {size:,} bytes, but its tensors need {data_end:,} "
                                   "(an interrupted download or copy?)")
    return GGUFInfo(path, size, metadata, parameters, _quantisation(metadata, kinds), data_end)


def _quantisation(metadata: Mapping[str, Any], kinds: Counter[int]) -> str:
    file_type = metadata.get("general.file_type")
    if isinstance(file_type, int) and file_type in _FILE_TYPES:
        return _FILE_TYPES[file_type]
    if kinds:  # the tensor type most of the weights are stored in
        return _TENSOR_TYPES.get(kinds.most_common(1)[0][0], ("", 0, 0))[0]
    return ""


def _count(parameters: int) -> str:
    if parameters >= 1e9:
        return f"{parameters / 1e9:.1f}B"
    if parameters >= 1e6:
        return f"{parameters / 1e6:.0f}M"
    return ""
