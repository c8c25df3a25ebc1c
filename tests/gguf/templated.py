"""A copy of the test model with a chat template written into its header: the real weights, a real GGUF file.

GGUF keeps metadata as a counted list of typed key/value pairs before the tensor table; tensor offsets are relative
to the aligned start of the data. So adding a key means: bump the count, append the pair after the others, keep the
tensor table as it is, pad to the alignment, and copy the data unchanged.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

from salon.providers.gguf.file import _Reader

_STRING = 8


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def with_chat_template(source: Path, target: Path, template: str) -> Path:
    import mmap

    with source.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        reader = _Reader(data)
        reader.pos = 8
        tensor_count, kv_count = reader.scalar("<Q"), reader.scalar("<Q")
        alignment = 32
        for _ in range(kv_count):
            key = reader.string()
            value = reader.value(reader.scalar("<I"))
            if key == "general.alignment":
                alignment = value
        kv_end = reader.pos
        for _ in range(tensor_count):
            reader.skip_string()
            dims = reader.scalar("<I")
            reader.pos += 8 * dims + 4 + 8
        tensors_end = reader.pos
        data_start = -(-tensors_end // alignment) * alignment
        head = bytes(data[:16]) + struct.pack("<Q", kv_count + 1) + bytes(data[24:kv_end])
        added = _string("tokenizer.chat_template") + struct.pack("<I", _STRING) + _string(template)
        header = head + added + bytes(data[kv_end:tensors_end])
        padding = b"\0" * ((-len(header)) % alignment)
        with target.open("wb") as out:
            out.write(header + padding)
            handle.seek(data_start)
            shutil.copyfileobj(handle, out, 1 << 20)
    return target
