"""Whether a model streams: asked by a face that wants a reply piece by piece, before it asks for one.

Ollama's ``/api/chat`` streams every model. A cloud model streams unless the user's ``[providers.NAME]`` says
``stream = false`` (a server that cannot), or litellm's own model list marks it as having no native streaming
(``openai/o1-pro``: litellm would fake a stream by sending the whole reply at once). A model litellm does not list
(a server of the user's own) speaks OpenAI's protocol, which streams.
"""

from __future__ import annotations

from salon.config.read import Config
from salon.refs import is_ollama


def streams_natively(config: Config, ref: str) -> bool:
    """Whether ``ref`` (as an agent names it) can stream; loads litellm for a cloud model the config leaves open."""
    if is_ollama(ref):
        return True
    prefix, slash, _ = ref.partition("/")
    settings = config.providers.get(prefix) if slash else None
    if settings is not None and not settings.stream:
        return False
    from salon.providers.cloud.litellm_loader import import_litellm

    litellm = import_litellm()
    if not slash:
        try:
            settings = config.providers.get(str(litellm.get_llm_provider(ref)[1]))
        except Exception:
            return True  # nobody serves it: the run itself reports that, with what to do
        if settings is not None and not settings.stream:
            return False
    try:
        info = litellm.get_model_info(ref)  # litellm's local list (Salon loads it offline), no request
    except Exception:
        return True
    return info.get("supports_native_streaming") is not False
