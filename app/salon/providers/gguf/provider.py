"""``gguf/…`` models: GGUF files run inside Salon's own process on llama.cpp, with no server and no network.

llama-cpp-python is an optional extra (``pip install 'salon[local]'``), imported the first time such a model
answers (:mod:`salon.providers.gguf.engine`). Finding files (:mod:`~salon.providers.gguf.locate`) and reading their
headers (:mod:`~salon.providers.gguf.file`) need none of it, so ``salon models`` lists them without it.

One model is kept loaded and reused across replies, then released ``keep_alive`` after the last one (Ollama's
default, five minutes, unless the agent's ``[params]`` say otherwise). Replies take turns on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from salon.errors import LocalModelError, ModelFileError, NotEnoughMemory, ProviderError, ToolsUnsupported
from salon.providers.base import CompletionRequest, ModelInfo
from salon.providers.gguf.file import GGUFInfo, read_header
from salon.providers.gguf.locate import PREFIX, local_models, resolve
from salon.providers.gguf.thinking import ThinkingSplitter
from salon.reply import Chunk, Usage

if TYPE_CHECKING:
    from salon.providers.gguf.engine import Engine, Finished

DEFAULT_CONTEXT = 4096
"""Tokens of context when the agent sets no ``num_ctx`` (Ollama's default), or the model's own if smaller."""
DEFAULT_KEEP_ALIVE = 300.0
_OVERHEAD = 128 * 2**20
"""Compute buffers and the runtime beside the weights and the KV cache: a margin, not a measurement."""


def available_memory() -> int | None:
    """Bytes of memory the machine can give without swapping (``MemAvailable``); None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def keep_alive_seconds(value: Any) -> float | None:
    """``keep_alive`` as Ollama takes it (``"5m"``, ``"1h30m"``, ``300``, ``0``, ``-1``): seconds, None = forever."""
    if value is None:
        return DEFAULT_KEEP_ALIVE
    if isinstance(value, int | float) and not isinstance(value, bool):
        return None if value < 0 else float(value)
    text = str(value).strip()
    if re.fullmatch(r"-\d+(\.\d+)?[smh]?", text):
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if parts and "".join(n + u for n, u in parts) == text:
        scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
        return sum(float(n) * scale[u] for n, u in parts)
    return DEFAULT_KEEP_ALIVE


def context_size(params: Mapping[str, Any], info: GGUFInfo) -> int:
    wanted = params.get("num_ctx")
    if isinstance(wanted, int) and wanted > 0:
        return wanted
    return min(DEFAULT_CONTEXT, info.context_length or DEFAULT_CONTEXT)


def check_memory(name: str, info: GGUFInfo, n_ctx: int, available: int | None) -> None:
    """Refuse, before loading, a model and context the machine has no room for; the figures say why."""
    if available is None:
        return
    per_token = info.kv_bytes_per_token()
    kv = per_token * n_ctx if per_token else 0
    needed = info.size + kv + _OVERHEAD
    if needed > available:
        context = f"{kv / 2**20:,.0f} MiB of context for num_ctx {n_ctx:,}" if per_token else \
            f"context for num_ctx {n_ctx:,}"
        raise NotEnoughMemory(name, needed, available,
                              f"the {info.size / 2**20:,.0f} MiB file, {context}, "
                              f"{_OVERHEAD // 2**20} MiB of working space")


class GgufProvider:
    """Completions from GGUF files on llama.cpp; every failure leaves as a :class:`ProviderError`."""

    label = "gguf"

    def __init__(self, folders: Sequence[Path], store: Path | None = None, *, threads: int | None = None,
                 memory: Callable[[], int | None] = available_memory) -> None:
        self.folders = tuple(folders)
        self.store = store
        self.threads = threads
        self._memory = memory
        self._engine: Engine | None = None
        self._lock: asyncio.Lock | None = None
        self._release: asyncio.TimerHandle | None = None
        self._releases = 0
        self._running: threading.Event | None = None
        self.loads = 0
        """How many times a model was loaded: a reply that reuses the loaded one adds nothing."""
        self.last: Finished | None = None
        """How the latest generation ended, as llama.cpp's worker counted it (a cancelled one too)."""

    @property
    def loaded(self) -> Path | None:
        """The file of the model held in memory now, if any."""
        return self._engine.path if self._engine is not None else None

    async def list_models(self) -> list[ModelInfo]:
        """Every GGUF file Salon can find, read from its header: no llama.cpp, no server."""
        return await asyncio.to_thread(self._list)

    def _list(self) -> list[ModelInfo]:
        listed = []
        for model in local_models(self.folders, self.store):
            where = " · from Ollama" if model.source == "ollama" else ""
            try:
                info = read_header(model.path)
            except ModelFileError as error:
                listed.append(ModelInfo(ref=PREFIX + model.name, name=model.name, details=f"unusable: {error.reason}"))
                continue
            listed.append(ModelInfo(ref=PREFIX + model.name, name=model.name, size=info.size,
                                    details=info.describe() + where))
        return listed

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        if request.tools:
            # Said before anything loads: a tools agent on a gguf model must not answer as if it had no tools.
            raise ToolsUnsupported(PREFIX + request.model, "Salon's embedded engine offers no tools to a model yet")
        params = dict(request.params)
        info = await asyncio.to_thread(self._checked, request.model)
        n_ctx = context_size(params, info)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            self._cancel_release()
            try:
                engine = await self._engine_for(PREFIX + request.model, info, n_ctx)
                # aclosing: a stream closed early (cancel) must stop the worker now, not when collected.
                async with contextlib.aclosing(self._generate(engine, request, params)) as chunks:
                    async for chunk in chunks:
                        yield chunk
            finally:
                self._schedule_release(keep_alive_seconds(params.get("keep_alive")))

    def _checked(self, name: str) -> GGUFInfo:
        """The file ``name`` runs, checked, and the engine importable: one trip off the event loop per reply."""
        path = resolve(name, self.folders, self.store)
        engine = self._engine
        if engine is not None and engine.path == path and engine.info.size == _size(path):
            info = engine.info  # the loaded file, unchanged: its header was read when it was loaded
        else:
            info = read_header(path)
        from salon.providers.gguf.engine import import_llama_cpp

        import_llama_cpp()
        return info

    async def _engine_for(self, name: str, info: GGUFInfo, n_ctx: int) -> Engine:
        current = self._engine
        if current is not None and current.path == info.path and current.n_ctx == n_ctx:
            return current
        await self._unload()
        check_memory(name, info, n_ctx, await asyncio.to_thread(self._memory))
        from salon.providers.gguf.engine import Engine

        self._engine = await asyncio.to_thread(Engine, info, n_ctx, self.threads)
        self.loads += 1
        return self._engine

    async def _generate(self, engine: Engine, request: CompletionRequest,
                        params: Mapping[str, Any]) -> AsyncGenerator[Chunk]:
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | Finished | BaseException] = asyncio.Queue()
        stop = self._running = threading.Event()

        def send(item: str | Finished | BaseException) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop has closed: nobody is reading any more
                stop.set()

        def work() -> None:
            try:
                # The prompt is formatted and counted here, on the worker: a too-long one fails as any error does.
                prompt, format_stops = engine.prompt(messages)
                self.last = engine.generate(prompt, params, stop, send, format_stops)
                send(self.last)
            except Exception as error:
                send(error)

        worker = threading.Thread(target=work, name="salon-gguf", daemon=True)
        worker.start()
        splitter = ThinkingSplitter()
        text: list[str] = []
        thinking: list[str] = []
        try:
            while True:
                item = await queue.get()
                if isinstance(item, str):
                    said, thought = splitter.feed(item)
                elif isinstance(item, BaseException):
                    raise _mapped(item)
                else:
                    finished = item
                    break
                if not request.stream:
                    text.append(said)
                    thinking.append(thought)
                elif said or thought:
                    yield Chunk(text=said, thinking=thought)
        finally:
            # Within a token: the worker checks `stop` after each one (a cancelled reply ends here too).
            stop.set()
            await asyncio.to_thread(worker.join)
        said, thought = splitter.flush()
        if not request.stream:
            said, thought = "".join(text) + said, "".join(thinking) + thought
        yield Chunk(text=said, thinking=thought, finish_reason=finished.reason,
                    usage=Usage(input_tokens=finished.prompt_tokens, output_tokens=finished.output_tokens),
                    eval_seconds=finished.eval_seconds, model=PREFIX + request.model)

    def _cancel_release(self) -> None:
        if self._release is not None:
            self._release.cancel()
            self._release = None

    def _schedule_release(self, seconds: float | None) -> None:
        self._cancel_release()
        if seconds is None or self._engine is None:
            return
        loop = asyncio.get_running_loop()
        self._releases += 1
        ticket = self._releases
        self._release = loop.call_later(seconds, lambda: loop.create_task(self._release_when_idle(ticket)))

    async def _release_when_idle(self, ticket: int) -> None:
        assert self._lock is not None
        async with self._lock:
            # A reply that came meanwhile cancelled this release (and scheduled its own).
            if self._release is not None and self._releases == ticket:
                self._release = None
                await self._unload()

    async def _unload(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            await asyncio.to_thread(engine.close)

    async def aclose(self) -> None:
        self._cancel_release()
        if self._running is not None:
            self._running.set()
        if self._lock is not None and self._lock.locked():
            # A reply still streams: it ends within a token now; its own `finally` waits for the worker.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    async with self._lock:
                        pass
        await self._unload()


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _mapped(error: BaseException) -> ProviderError:
    if isinstance(error, ProviderError):
        return error
    return LocalModelError(f"llama.cpp failed mid-reply: {error}")
