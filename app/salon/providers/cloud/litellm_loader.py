"""litellm, imported once, on first use, off the event loop, and configured to stay offline and quiet."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from types import ModuleType

# Set before litellm is imported: they are read at import time.
_OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # the bundled price list, not a fetch from GitHub (a 5 s stall offline)
    # The default, DEV, loads a .env file found upwards from litellm's folder (from the working directory in a REPL).
    "LITELLM_MODE": "PRODUCTION",
}
_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")

_import_lock = threading.Lock()
# The configured module once imported; a cache like sys.modules, never reset.
_litellm: ModuleType | None = None


def import_litellm() -> ModuleType:
    """litellm, imported once and configured to stay offline and quiet.

    The first call takes seconds of CPU (about 2,600 modules): from a running event loop use
    :func:`import_litellm_async` instead.
    """
    global _litellm
    with _import_lock:
        if _litellm is None:
            os.environ.update(_OFFLINE_ENV)
            import litellm

            litellm.suppress_debug_info = True  # else mapped errors print "Give Feedback / Get Help" to stdout
            # litellm would download a Hugging Face tokenizer to estimate tokens for names like "llama-3";
            # its bundled tiktoken files estimate offline.
            litellm.disable_hf_tokenizer_download = True
            if not os.environ.get("LITELLM_LOG"):
                # litellm's handler writes info to stdout and warnings to stderr, which would tear through a pipe
                # from `salon ask` or the TUI's screen; Salon reports every failure itself. LITELLM_LOG re-enables.
                for name in _LITELLM_LOGGERS:
                    logging.getLogger(name).setLevel(logging.CRITICAL)
            _litellm = litellm
        return _litellm


async def import_litellm_async() -> ModuleType:
    """:func:`import_litellm` in a worker thread, so the event loop (the TUI's screen) keeps running meanwhile."""
    if _litellm is not None:
        return _litellm
    return await asyncio.to_thread(import_litellm)


def litellm_loaded() -> bool:
    return _litellm is not None
