"""Reading GGUF headers and finding model files: no llama.cpp needed, the real test model's header throughout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from salon.errors import ModelFileError, ModelNotFound
from salon.providers.gguf.file import read_header
from salon.providers.gguf.locate import local_models, ollama_blob, resolve


def cut(source: Path, to: Path, size: int) -> Path:
    with source.open("rb") as whole:
        to.write_bytes(whole.read(size))
    return to


def ollama_store(root: Path, model_file: Path, name: str = "llama3.2", tag: str = "latest",
                 namespace: str = "library", host: str = "registry.ollama.ai") -> Path:
    """A real Ollama store layout whose model blob is the test GGUF: a manifest naming it by digest."""
    import hashlib

    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()
    blobs = root / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    blob = blobs / f"sha256-{digest}"
    if not blob.exists():
        blob.symlink_to(model_file)
    template = blobs / ("sha256-" + "1" * 64)
    template.write_text("{{ .Prompt }}", encoding="utf-8")
    manifest = root / "manifests" / host / namespace / name / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:" + "2" * 64},
        "layers": [
            {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}",
             "size": model_file.stat().st_size},
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "1" * 64, "size": 13},
        ],
    }), encoding="utf-8")
    return root


def test_the_header_says_size_quantisation_and_that_there_is_no_chat_template(model_file: Path) -> None:
    info = read_header(model_file)

    assert info.describe() == "268M Q4_K_M"
    assert (info.architecture, info.context_length, info.chat_template) == ("gemma3", 32768, None)
    assert info.size == model_file.stat().st_size == info.data_end
    # 18 layers, 1 KV head, (256 + 256) values, 2 bytes each: the figure the memory check multiplies by num_ctx.
    assert info.kv_bytes_per_token() == 18_432


def test_a_file_cut_off_inside_its_tensors_is_reported_with_both_sizes(model_file: Path, tmp_path: Path) -> None:
    short = cut(model_file, tmp_path / "partial.gguf", 50_000_000)

    with pytest.raises(ModelFileError) as caught:
        read_header(short)

    message = str(caught.value)
    assert message.startswith(f"{short}: is cut off: 50,000,000 bytes, but its tensors need 253,113,024")
    assert "interrupted download" in message


def test_a_file_cut_off_inside_its_header_is_reported_as_cut_off(model_file: Path, tmp_path: Path) -> None:
    short = cut(model_file, tmp_path / "stub.gguf", 1_000_000)

    with pytest.raises(ModelFileError, match=r"stub.gguf: is cut off or damaged: its header does not fit in its "
                                             r"1,000,000 bytes"):
        read_header(short)


@pytest.mark.parametrize(("content", "says"), [
    (b"", "is empty (0 bytes), not a GGUF model"),
    (b"<!doctype html><html><body>Not found</body></html>" * 10, "is not a GGUF model file (it starts with b'<!do'"),
    (b"GGUF\x03\x00", "is cut off: 6 bytes, too short even for a GGUF header"),
    (b"GGUF\x09\x00\x00\x00" + bytes(40), "is GGUF version 9; Salon reads versions 2 and 3"),
    (b"GGUF\x03\x00\x00\x00" + bytes(100), "is a GGUF file with no tensors in it: there are no weights to run"),
], ids=["empty", "html", "stub", "version", "no-tensors"])
def test_a_file_that_is_not_a_usable_gguf_says_what_it_is(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)

    with pytest.raises(ModelFileError) as caught:
        read_header(path)

    assert str(caught.value) == f"{path}: {says}" or str(caught.value).startswith(f"{path}: {says}")


def test_a_missing_file_or_a_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"nothing\.gguf: no such file"):
        read_header(tmp_path / "nothing.gguf")
    with pytest.raises(ModelFileError, match="is a folder, not a GGUF file"):
        read_header(tmp_path)


def test_gguf_name_is_looked_up_in_the_models_folders_in_order(model_file: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    (second / "gemma.gguf").symlink_to(model_file)
    (second / "plain-name").symlink_to(model_file)
    store = tmp_path / "store"

    assert resolve("gemma", [first, second], store) == second / "gemma.gguf"
    assert resolve("gemma.gguf", [first, second], store) == second / "gemma.gguf"
    assert resolve("plain-name", [first, second], store) == second / "plain-name"
    (first / "gemma.gguf").symlink_to(model_file)
    assert resolve("gemma", [first, second], store) == first / "gemma.gguf"
    # A path wins over every folder; ".." never climbs out of one (it is a path from the working folder).
    assert resolve(str(model_file), [first], store) == model_file
    with pytest.raises(ModelFileError, match="no such file"):
        resolve("../second/gemma", [first], store)


def test_an_unknown_name_says_where_it_was_looked_for(tmp_path: Path) -> None:
    folder, store = tmp_path / "models", tmp_path / "store"

    with pytest.raises(ModelNotFound) as caught:
        resolve("mystery", [folder], store)

    message = str(caught.value)
    assert "gguf/mystery" in message and str(folder) in message and str(store) in message
    assert "ollama pull" not in message
    with pytest.raises(ModelFileError, match=r"missing\.gguf: no such file"):
        resolve(str(tmp_path / "missing.gguf"), [folder], store)


def test_a_model_pulled_by_ollama_is_found_through_its_manifest(model_file: Path, tmp_path: Path) -> None:
    store = ollama_store(tmp_path / "ollama", model_file)
    ollama_store(store, model_file, name="gemma3", tag="270m")
    ollama_store(store, model_file, name="tiny", namespace="someone")
    ollama_store(store, model_file, name="repo", namespace="org", host="hf.co", tag="Q4_K_M")

    blob = resolve("llama3.2", [tmp_path / "empty"], store)
    assert blob.name.startswith("sha256-") and read_header(blob).describe() == "268M Q4_K_M"
    assert resolve("llama3.2:latest", [], store) == blob
    assert resolve("gemma3:270m", [], store) == blob
    assert resolve("someone/tiny", [], store) == blob
    assert resolve("hf.co/org/repo:Q4_K_M", [], store) == blob
    names = [(m.name, m.source) for m in local_models([tmp_path / "empty"], store)]
    assert names == [("hf.co/org/repo:Q4_K_M", "ollama"), ("gemma3:270m", "ollama"), ("llama3.2", "ollama"),
                     ("someone/tiny", "ollama")]


def test_a_manifest_whose_blob_is_gone_or_unreadable_is_reported(model_file: Path, tmp_path: Path) -> None:
    store = ollama_store(tmp_path / "ollama", model_file)
    blob = resolve("llama3.2", [], store)
    blob.unlink()

    with pytest.raises(ModelFileError, match="the blob is gone"):
        resolve("llama3.2", [], store)

    manifest = store / "manifests" / "registry.ollama.ai" / "library" / "llama3.2" / "latest"
    manifest.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelFileError, match="Ollama manifest without a readable model layer"):
        ollama_blob(store, "llama3.2")
    assert list(local_models([], store)) == []


def test_listing_finds_gguf_files_in_each_folder(model_file: Path, tmp_path: Path) -> None:
    data, extra = tmp_path / "models", tmp_path / "extra"
    data.mkdir(), extra.mkdir()
    (data / "gemma.gguf").symlink_to(model_file)
    (extra / "other.GGUF").symlink_to(model_file)
    (extra / "notes.txt").write_text("not a model", encoding="utf-8")

    found = [(m.name, m.source) for m in local_models([data, extra, tmp_path / "absent"], tmp_path / "store")]

    assert found == [("gemma", "models folder"), ("other", str(extra))]
