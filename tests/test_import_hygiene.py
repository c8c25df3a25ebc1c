"""litellm (about 3 s of CPU and 2,600 modules) loads only when a cloud model is used, llama-cpp-python (llama.cpp
itself) only when a gguf model answers, the web stack of `salon serve` (Starlette, uvicorn) only by
`salon serve`, and the MCP SDK only when an agent that uses tools runs.

Each entry point runs in a fresh interpreter with this checkout's code, and reports at exit which modules it had
loaded, so the tests fail the same way on every machine, whatever an earlier test in this process imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import salon_env
from tests.servers.ollama import OllamaServer, Scripted
from tests.servers.openai import OpenAIServer
from tests.servers.openai import Scripted as OpenAIScripted

# litellm, and the SDK it alone pulls in: a user who only runs Ollama loads neither.
CLOUD_ONLY = ("litellm", "openai")
# The HTTP face's stack: the TUI, `salon ask` and the Python API never load it.
WEB_ONLY = ("starlette", "uvicorn")
# The MCP SDK: only a run of an agent with tools loads it.
MCP_ONLY = ("mcp",)
# The embedded engine (the optional `local` extra): only a gguf model answering loads it; listing one does not.
ENGINE_ONLY = ("llama_cpp",)

# Runs `salon …` (or, with SALON_PROBE_CODE, a snippet) and writes the loaded top-level packages to SALON_PROBE_OUT
# at exit. With SALON_PROBE_TUI, a watchdog waits for the Textual app to start and settle, records, then exits it.
PROBE = textwrap.dedent('''
    import atexit, json, os, runpy, sys

    def report(note=None):
        path = os.environ["SALON_PROBE_OUT"]
        if os.path.exists(path):
            return
        loaded = sorted({name.split(".")[0] for name in sys.modules})
        with open(path, "w") as out:
            json.dump({"loaded": loaded, "note": note}, out)

    atexit.register(report)

    if os.environ.get("SALON_PROBE_TUI"):
        import threading, time
        from textual.app import App

        # The app is found as it is made. (Not by a gc.get_objects() scan from another thread: that holds every
        # object, a tuple still being built included, and CPython cannot resize a tuple someone else holds.)
        apps = []
        made = App.__init__

        def remember(self, *args, **kwargs):
            apps.append(self)
            made(self, *args, **kwargs)

        App.__init__ = remember

        def settled(app):
            # Start-up work (the connection check) runs after the first frame: done once the status line says
            # how it went and no worker runs.
            return "connected" in app.export_screenshot() and not any(w.is_running for w in app.workers)

        def watch():
            deadline = time.monotonic() + 60
            while not (apps and apps[0].is_running):
                if time.monotonic() > deadline:
                    report("the app never started")
                    os._exit(3)
                time.sleep(0.1)
            while not apps[0].call_from_thread(settled, apps[0]):
                if time.monotonic() > deadline:
                    report("the app never settled")
                    os._exit(3)
                time.sleep(0.1)
            report("started")
            apps[0].call_from_thread(apps[0].exit)

        threading.Thread(target=watch, daemon=True).start()

    if os.environ.get("SALON_PROBE_CODE"):
        exec(os.environ["SALON_PROBE_CODE"])
    else:
        sys.argv = ["salon", *sys.argv[1:]]
        runpy.run_module("salon", run_name="__main__", alter_sys=True)
''')


def probe(tmp_path: Path, *args: str, code: str | None = None, tui: bool = False, timeout: float = 60,
          **env: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / f"probe-{len(list(tmp_path.glob('probe-*')))}.json"
    extra = {"SALON_PROBE_OUT": str(out), **env}
    if code is not None:
        extra["SALON_PROBE_CODE"] = textwrap.dedent(code)
    if tui:
        extra["SALON_PROBE_TUI"] = "1"
        extra["TEXTUAL_DRIVER"] = "textual.drivers.headless_driver:HeadlessDriver"
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=timeout,
                          env=salon_env(**extra), cwd=tmp_path)
    assert out.exists(), f"the probe wrote no report; stderr:\n{done.stderr}"
    return done, json.loads(out.read_text())


def cloud_loaded(report: dict) -> list[str]:
    return [name for name in CLOUD_ONLY if name in report["loaded"]]


def web_loaded(report: dict) -> list[str]:
    return [name for name in WEB_ONLY if name in report["loaded"]]


def mcp_loaded(report: dict) -> list[str]:
    return [name for name in MCP_ONLY if name in report["loaded"]]


def engine_loaded(report: dict) -> list[str]:
    return [name for name in ENGINE_ONLY if name in report["loaded"]]


@pytest.fixture
def cloud_configured(config_dir: Path) -> Path:
    """A user who has cloud providers set up, and cloud agents beside the bundled ones, but runs Ollama."""
    (config_dir / "config.toml").write_text(
        '[providers.openai]\nmodels = ["gpt-4o-mini"]\n'
        '[providers.local]\napi_base = "http://127.0.0.1:9/v1"\nmodels = ["qwen2.5-7b-instruct"]\n',
        encoding="utf-8")
    (config_dir / "agents").mkdir()
    (config_dir / "agents" / "cloudy.toml").write_text('name = "Cloudy"\nmodel = "local/qwen2.5-7b-instruct"\n',
                                                       encoding="utf-8")
    return config_dir


def test_salon_help_loads_no_cloud_code(tmp_path: Path) -> None:
    done, report = probe(tmp_path, "--help")

    assert done.returncode == 0, done.stderr
    assert "usage: salon" in done.stdout and "serve" in done.stdout
    assert cloud_loaded(report) == []
    assert web_loaded(report) == []
    assert mcp_loaded(report) == []
    assert engine_loaded(report) == []


def test_asking_an_ollama_agent_loads_no_cloud_code(tmp_path: Path, ollama_server: OllamaServer,
                                                     cloud_configured: Path) -> None:
    ollama_server.script(Scripted(text="Virtue is knowledge."))
    done, report = probe(tmp_path, "ask", "--agent", "socrates", "What is virtue?")

    assert (done.returncode, done.stdout) == (0, "Virtue is knowledge.\n"), done.stderr
    assert "ollama" in report["loaded"]
    assert cloud_loaded(report) == []
    assert web_loaded(report) == []
    assert engine_loaded(report) == []
    assert mcp_loaded(report) == []


def test_streaming_an_ollama_agent_from_python_loads_no_cloud_code(tmp_path: Path, ollama_server: OllamaServer,
                                                                   cloud_configured: Path) -> None:
    ollama_server.script(Scripted(tokens=["Know ", "thyself."]))
    done, report = probe(tmp_path, code='''
        import salon
        print("".join(chunk.content for chunk in salon.agent("socrates").stream_sync("Advice?")))
        print(salon.supports_streaming("ollama/llama3.2"))
    ''')

    assert (done.returncode, done.stdout) == (0, "Know thyself.\nTrue\n"), done.stderr
    assert cloud_loaded(report) == []
    assert web_loaded(report) == []
    assert mcp_loaded(report) == []
    assert engine_loaded(report) == []


def test_listing_agents_and_cloud_models_loads_no_cloud_code(tmp_path: Path, cloud_configured: Path) -> None:
    listed, agents_report = probe(tmp_path, "agents", "list")
    models, picker_report = probe(tmp_path, code='''
        import asyncio
        from salon.config.read import load_config
        from salon.providers import Providers

        async def main():
            providers = Providers(load_config())
            try:
                print(*[m.ref for m in await providers.cloud().list_models()])
            finally:
                await providers.aclose()

        asyncio.run(main())
    ''')

    assert listed.returncode == 0 and "cloudy" in listed.stdout and "openai-assistant" in listed.stdout
    assert cloud_loaded(agents_report) == []
    assert models.stdout.split() == ["local/qwen2.5-7b-instruct", "openai/gpt-4o-mini"], models.stderr
    assert cloud_loaded(picker_report) == []


def test_importing_the_cloud_provider_module_loads_no_cloud_code(tmp_path: Path) -> None:
    done, report = probe(tmp_path, code="import salon, salon.api, salon.runner.run, salon.providers.cloud.provider, "
                                             "salon.tools")

    assert done.returncode == 0, done.stderr
    assert cloud_loaded(report) == []
    assert web_loaded(report) == []
    assert mcp_loaded(report) == []


def test_asking_a_cloud_agent_does_load_litellm(tmp_path: Path, config_dir: Path) -> None:
    # The control: the probe sees litellm when it is loaded, so the tests above can fail.
    with OpenAIServer() as server:
        server.script(OpenAIScripted(text="From the cloud."))
        (config_dir / "config.toml").write_text(f'[providers.local]\napi_base = "{server.api_base}"\n',
                                                encoding="utf-8")
        done, report = probe(tmp_path, "ask", "--model", "local/qwen2.5-7b-instruct", "Hello?")

    assert (done.returncode, done.stdout) == (0, "From the cloud.\n"), done.stderr
    assert cloud_loaded(report) == ["litellm", "openai"]


def test_asking_an_agent_with_tools_does_load_the_mcp_sdk(tmp_path: Path, config_dir: Path,
                                                           ollama_server: OllamaServer) -> None:
    # The control for the MCP checks above: the probe sees the SDK once a tool-using agent runs.
    ollama_server.add_model("qwen3", "completion", "tools")
    ollama_server.script(Scripted(text="No tools needed."))
    lab = Path(__file__).parent / "servers" / "mcp_tools.py"
    (config_dir / "config.toml").write_text(
        f'[mcp_servers.lab]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(str(lab))}]\n',
        encoding="utf-8")
    (config_dir / "agents").mkdir()
    (config_dir / "agents" / "labbie.toml").write_text('model = "ollama/qwen3"\ntools = ["lab.*"]\n',
                                                       encoding="utf-8")
    done, report = probe(tmp_path, "ask", "--agent", "labbie", "Hello?")

    assert (done.returncode, done.stdout) == (0, "No tools needed.\n"), done.stderr
    assert mcp_loaded(report) == ["mcp"]
    assert cloud_loaded(report) == []


def test_importing_the_tui_app_loads_no_cloud_code(tmp_path: Path) -> None:
    done, report = probe(tmp_path, code="import salon.tui.app")

    assert done.returncode == 0, done.stderr
    assert cloud_loaded(report) == []
    assert web_loaded(report) == []


def test_starting_the_tui_loads_no_cloud_code(tmp_path: Path, ollama_server: OllamaServer,
                                              cloud_configured: Path) -> None:
    done, report = probe(tmp_path, tui=True, timeout=90)

    assert report["note"] == "started", done.stderr
    assert "textual" in report["loaded"]
    assert cloud_loaded(report) == []
    assert web_loaded(report) == []
    assert mcp_loaded(report) == []
    assert engine_loaded(report) == []


def test_salon_serve_alone_loads_the_web_stack_and_no_cloud_code(tmp_path: Path) -> None:
    # The control for the web checks above: the probe sees Starlette and uvicorn once `salon serve` loads them.
    done, report = probe(tmp_path, code="""
        import os, re, signal, socket, sys, threading, time
        from salon.cli.dispatch import main

        class Tee:
            def __init__(self, out):
                self.out, self.text = out, ""

            def write(self, text):
                self.text += text
                return self.out.write(text)

            def __getattr__(self, name):
                return getattr(self.out, name)

        sys.stdout = Tee(sys.stdout)

        def answers(port):
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        def stop_once_serving():
            deadline = time.monotonic() + 60
            while not ((shown := re.search(r"127\\.0\\.0\\.1:(\\d+)", sys.stdout.text))
                       and answers(int(shown[1]))) and time.monotonic() < deadline:
                time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=stop_once_serving, daemon=True).start()
        sys.exit(main(["serve", "--port", "0"]))
    """)

    assert done.returncode == 0, done.stderr
    assert "Salon is serving on http://127.0.0.1:" in done.stdout
    assert web_loaded(report) == ["starlette", "uvicorn"]
    assert cloud_loaded(report) == []
    assert "textual" not in report["loaded"]


def test_litellm_is_imported_off_the_event_loop_which_keeps_running(tmp_path: Path) -> None:
    done, report = probe(tmp_path, code='''
        import asyncio, json, sys
        from salon.providers.cloud.provider import import_litellm_async

        async def main():
            importing = asyncio.create_task(import_litellm_async())
            mid_import = 0
            while not importing.done():
                # A tick while litellm is half imported: the loop ran during the import. A blocking import runs
                # from start to end in one step of the loop, so no tick can ever see it half done.
                mid_import += "litellm" in sys.modules
                await asyncio.sleep(0.01)
            await importing
            print(json.dumps({"mid_import_ticks": mid_import}))

        asyncio.run(main())
    ''')

    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)
    assert cloud_loaded(report) == ["litellm", "openai"]
    assert measured["mid_import_ticks"] > 0, "the event loop stood still while litellm was imported"


def test_listing_gguf_models_reads_their_headers_and_loads_no_engine(tmp_path: Path, data_dir: Path) -> None:
    from tests.gguf.model import assemble

    models = data_dir / "models"
    models.mkdir()
    assemble(models)
    done, report = probe(tmp_path, "models", OLLAMA_HOST="127.0.0.1:9")

    assert "gguf/gemma-3-270m-q4_k_m" in done.stdout and "Q4_K_M" in done.stdout, done.stderr
    assert engine_loaded(report) == []
    assert cloud_loaded(report) == []


def test_importing_the_gguf_provider_loads_no_engine(tmp_path: Path) -> None:
    done, report = probe(tmp_path, code="import salon.providers.gguf.provider, salon.providers.gguf.locate")

    assert done.returncode == 0, done.stderr
    assert engine_loaded(report) == []


def test_asking_a_gguf_model_loads_the_engine_and_no_cloud_code(tmp_path: Path, data_dir: Path,
                                                               config_dir: Path) -> None:
    # The control for the checks above: the probe sees llama_cpp once a gguf model answers.
    from tests.gguf.model import assemble, require_engine

    require_engine()
    (data_dir / "models").mkdir()
    assemble(data_dir / "models")
    (config_dir / "agents").mkdir()
    (config_dir / "agents" / "local.toml").write_text(
        'name = "Local"\nmodel = "gguf/gemma-3-270m-q4_k_m"\n[params]\nmax_tokens = 4\n', encoding="utf-8")
    done, report = probe(tmp_path, "ask", "--agent", "local", "Say hello", timeout=240)

    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    assert engine_loaded(report) == ["llama_cpp"]
    assert cloud_loaded(report) == [] and web_loaded(report) == []
