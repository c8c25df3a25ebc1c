"""The web page at ``/`` in a real headless browser (Debian's Chromium, driven by Playwright) against a real
``salon serve``: streaming, the delta counter, quiet agents, the final swap, labels, stop, earlier threads, hostile
text, the agent hub's own EventSource client, and nothing fetched from anywhere else."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from salon.store import Store
from salon.terminal import inert
from tests.conftest import run_salon
from tests.hostile import ESCAPES, forbidden
from tests.serve.conftest import Served
from tests.servers.ollama import OllamaServer, Scripted, tokenize

CHROMIUM = os.environ.get("SALON_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"no Chromium at {CHROMIUM}: install Debian's (apt-get install chromium; "
                                       ".ci/run does) or point SALON_CHROMIUM at one")

from playwright.sync_api import Browser, Page, Playwright, sync_playwright  # noqa: E402

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # The system's browser: `playwright install` would download one, which this project never does.
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, server: Served) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    elsewhere: list[str] = []

    def only_this_server(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url.startswith(server.url + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(server.url + "/")
    page.locator("#agent option").first.wait_for(state="attached")
    yield page
    context.close()
    # Works offline: the page asked for nothing but this server.
    assert elsewhere == []


def ask(page: Page, agent: str, prompt: str) -> None:
    page.select_option("#agent", agent)
    page.fill("#prompt", prompt)
    page.press("#prompt", "Enter")


def counter(page: Page, nth: int = 0) -> int:
    text = page.locator(".msg.assistant .counter").nth(nth).text_content() or ""
    return int(text.split()[0]) if text else 0


def until(page: Page, condition: Callable[[], object]) -> None:
    """Poll from Python: the page's CSP forbids the eval that Playwright's wait_for_function needs."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, "the page did not get there in time"
        page.wait_for_timeout(50)


def wait_counter_above(page: Page, value: int, nth: int = 0) -> int:
    until(page, lambda: page.locator(".msg.assistant .counter").count() > nth and counter(page, nth) > value)
    return counter(page, nth)


def wait_final(page: Page, count: int = 1) -> None:
    until(page, lambda: page.locator(".msg.assistant .body.final").count() >= count)


def test_a_reply_streams_the_counter_moves_and_the_final_message_replaces_the_text(
        page: Page, ollama_server: OllamaServer) -> None:
    words = " ".join(f"word{i}" for i in range(60))
    ollama_server.script(Scripted(text=f"Virtue is **knowledge**, friend. {words}", rate=25))
    page.select_option("#agent", "socrates")
    assert "Ask Socrates" in page.text_content("#welcome")

    ask(page, "socrates", "What is virtue?")
    page.wait_for_selector(".msg.assistant .body.live", state="attached")
    first = wait_counter_above(page, 5)
    later = wait_counter_above(page, first)
    live_text = page.text_content(".msg.assistant .body.live")

    assert later > first
    assert live_text.startswith("Virtue is **knowledge**, friend.")  # raw while it streams
    assert page.is_enabled("#stop")
    wait_final(page)
    assert page.locator(".msg.assistant .body.live").count() == 0
    assert page.text_content(".msg.assistant .body.final strong") == "knowledge"
    assert page.text_content(".msg.assistant .body.final").startswith("Virtue is knowledge, friend. word0")
    assert page.text_content(".msg.assistant .persona") == "Socrates"
    assert page.text_content(".msg.user") == "What is virtue?"
    assert counter(page) == len(tokenize(f"Virtue is **knowledge**, friend. {words}"))
    until(page, lambda: page.is_disabled("#stop"))


def test_an_agent_without_streaming_text_shows_only_the_counter_until_the_final_message(
        page: Page, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text=" ".join(f"draft{i}" for i in range(40)), rate=25))

    ask(page, "quiet-drafter", "Write a draft.")
    page.wait_for_selector(".msg.assistant .body.live", state="attached")
    wait_counter_above(page, 5)

    assert page.text_content(".msg.assistant .body.live") == ""
    assert page.text_content(".msg.assistant .persona") == "Quiet drafter"
    wait_final(page)
    assert page.text_content(".msg.assistant .body.final").startswith("draft0 draft1")
    assert counter(page) == 40


def test_a_two_step_run_shows_two_labelled_messages(page: Page, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text="What do you mean by soul?"), Scripted(text="Picture a cave."))

    ask(page, "socrates-then-plato", "Is the soul immortal?")
    wait_final(page, 2)

    personas = page.locator(".msg.assistant .persona").all_text_contents()
    bodies = page.locator(".msg.assistant .body").all_text_contents()
    assert personas == ["Socrates", "Plato"]
    assert bodies == ["What do you mean by soul?", "Picture a cave."]


def test_stop_ends_the_reply_and_keeps_the_partial_text(
        page: Page, ollama_server: OllamaServer, data_dir: Path) -> None:
    ollama_server.script(Scripted(text=" ".join(f"word{i}" for i in range(500)), rate=25))

    ask(page, "socrates", "Talk forever.")
    wait_counter_above(page, 3)
    page.click("#stop")
    wait_final(page)

    shown = page.text_content(".msg.assistant .body.final")
    assert page.text_content(".msg.assistant .status") == "interrupted"
    assert page.text_content("#status") == "stopped"
    assert shown.startswith("word0 word1 word2") and "word499" not in shown
    with Store.open(data_dir, secrets=()) as store:
        conversation = store.conversations()[0]
        reply = store.messages(conversation.id)[1]
    assert (reply.status, reply.text) == ("interrupted", shown)


HOSTILE = ('<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>\n\n'
           "Use `Vec<String>` or <b>bold</b> &amp; **<i>this</i>**")


def test_model_text_is_shown_as_text_never_as_html(page: Page, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text=HOSTILE, rate=200))

    ask(page, "socrates", "<em>Say</em> something hostile")
    wait_final(page)
    shown = page.text_content(".msg.assistant .body.final")
    page.click("#new-thread")
    page.click("#threads button")  # and again, read back from the database
    wait_final(page)

    assert '<img src=x onerror="window.__pwned=1">' in shown and "<script>window.__pwned=2</script>" in shown
    assert "Vec<String>" in page.text_content(".msg.assistant .body.final code")
    assert "<b>bold</b> &amp; " in shown and page.text_content(".msg.assistant strong") == "<i>this</i>"
    assert page.text_content(".msg.user") == "<em>Say</em> something hostile"
    assert page.text_content(".msg.assistant .body.final") == shown
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#messages img, #messages script, #messages b, #messages i, #messages em").count() == 0


def test_earlier_threads_are_listed_and_open_with_their_labelled_messages(
        browser: Browser, server: Served, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text="From the shell, Plato."))
    asked = run_salon("ask", "--agent", "plato", "A question from the shell")
    assert asked.returncode == 0, asked.stderr
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(server.url + "/")

    page.click("#threads button >> text=A question from the shell")
    wait_final(page)

    assert page.text_content(".msg.user") == "A question from the shell"
    assert page.text_content(".msg.assistant .persona") == "Plato"
    assert page.text_content(".msg.assistant .body.final") == "From the shell, Plato."
    assert page.input_value("#agent") == "plato"
    page.close()


def test_the_agent_hubs_eventsource_client_shows_a_run(page: Page, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text="Seen through EventSource.", rate=50))

    text = page.evaluate("""async () => {
        const post = (path, body) => fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                                  body: JSON.stringify(body)}).then(r => r.json());
        const thread = await post("/v1/threads", {agent_id: "socrates"});
        await post(`/v1/threads/${thread.id}/messages`, {role: "user", content: "Hello"});
        const run = await post(`/v1/threads/${thread.id}/runs`, {assistant_id: "socrates"});
        return await new Promise((resolve, reject) => {
            const source = new EventSource(`/v1/threads/${thread.id}/stream/${run.id}`);
            let text = "";
            source.onmessage = (e) => {
                const data = JSON.parse(e.data);
                if (data.event === "thread.message.delta") text += data.data.delta.content[0].text.value;
                if (["thread.run.completed", "thread.run.failed", "thread.run.cancelled"].includes(data.event)) {
                    source.close();
                    resolve(text);
                }
            };
            source.onerror = () => { source.close(); reject(new Error("stream error")); };
        });
    }""")

    assert text == "Seen through EventSource."


def test_off_loopback_the_page_asks_for_the_token_or_takes_it_from_the_address(
        browser: Browser, serve: Callable[..., Served], ollama_server: OllamaServer) -> None:
    server = serve("--host", "0.0.0.0", lines=2)
    token = server.banner[0].rsplit(" ", 1)[1]
    ollama_server.script(Scripted(text="Behind a token."))
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)

    page.goto(server.url + "/")
    page.locator("#token-form.shown").wait_for()
    assert page.locator("#agent option").count() == 0
    page.fill("#token", token)
    page.click("#token-form button")
    page.locator("#agent option").first.wait_for(state="attached")
    ask(page, "socrates", "Hello?")
    wait_final(page)
    assert page.text_content(".msg.assistant .body.final") == "Behind a token."

    other = browser.new_page()
    other.goto(f"{server.url}/#token={token}")
    other.locator("#agent option").first.wait_for(state="attached")
    assert "#token" not in other.url  # taken out of the address bar (and history) once read
    page.close()
    other.close()


@pytest.fixture
def broken_lab(config_dir: Path, ollama_server: OllamaServer, tmp_path: Path) -> None:
    """An agent whose only MCP server will not start, written before the page's server starts."""
    from tests.tools.conftest import lab_server, write_agent

    ollama_server.add_model("qwen3", "completion", "tools")
    (config_dir / "config.toml").write_text(lab_server(tmp_path / "lab.log", "--exit-at-start"), encoding="utf-8")
    (config_dir / "agents").mkdir(exist_ok=True)
    write_agent(config_dir / "agents", "labbie", "ollama/qwen3", ["lab.*"])


def test_a_tool_server_that_will_not_start_is_a_notice_and_the_reply_comes(
        broken_lab: None, page: Page, ollama_server: OllamaServer) -> None:
    ollama_server.script(Scripted(text="The lab is closed today."))
    ask(page, "labbie", "Echo it.")
    wait_final(page)
    assert page.text_content(".msg.assistant .body.final") == "The lab is closed today."
    notice = page.text_content(".notice") or ""
    assert notice.startswith("⚠ the tools of MCP server 'lab' are not available for this reply")
    assert "cannot open its database" in notice


ESCAPED_REPLY = "\n\n".join(f"{name}: {text}" for name, text in sorted(ESCAPES.items()))
HOSTILE_NAME = "Mirror \u202erorrim"
HOSTILE_WELCOME = ("Welcome " + ESCAPES["osc2"], "see " + ESCAPES["bidi-filename"])


@pytest.fixture
def hostile_agent(config_dir: Path) -> str:
    """An agent whose name and welcome carry bidi and escapes. A test requests it before ``page``: pytest sets
    fixtures up in the order asked, so the file is there when the page's server starts and reads its agents."""
    (config_dir / "agents").mkdir(parents=True)
    title, description = (json.dumps(text) for text in HOSTILE_WELCOME)  # JSON's escapes are TOML's
    (config_dir / "agents" / "mirror.toml").write_text(
        f'name = {json.dumps(HOSTILE_NAME)}\nmodel = "ollama/llama3.2"\n\n'
        f"[welcome]\ntitle = {title}\ndescription = {description}\n", encoding="utf-8")
    return "mirror"


def test_bidi_and_control_characters_are_shown_visibly_as_a_terminal_shows_them(
        hostile_agent: str, page: Page, ollama_server: OllamaServer) -> None:
    hold = threading.Event()
    ollama_server.script(Scripted(text=ESCAPED_REPLY, rate=200, hold_final=hold),
                         Scripted(text="The cave", error_after=1, error="runner \u202edeppots \x1b]2;T\x07"))
    prompt = "Open " + ESCAPES["bidi-filename"] + " " + ESCAPES["osc2"]
    ask(page, hostile_agent, prompt)
    until(page, lambda: page.text_content(".msg.assistant .body.live") == inert(ESCAPED_REPLY))
    hold.set()
    wait_final(page)
    ask(page, hostile_agent, "And then?")
    until(page, lambda: (page.text_content("#status") or "").startswith("failed"))
    regions = {region: page.text_content(region) or "" for region in
               ("#messages", "#threads", "#agent", "#welcome", "#status")}
    paragraphs = page.locator(".msg.assistant .body.final").first.locator("p").all_text_contents()
    page.click("#new-thread")
    page.click("#threads button")  # and again, read back from the database
    wait_final(page, 2)

    for region, text in regions.items():
        assert forbidden(text) == [], region
    assert paragraphs == [inert(f"{name}: {text}") for name, text in sorted(ESCAPES.items())]
    assert "open photo\\u{202e}gnp.exe now" in paragraphs[sorted(ESCAPES).index("bidi-filename")]
    assert page.text_content(".msg.user") == inert(prompt)
    assert page.text_content("#threads button") == inert(prompt)  # the thread's title
    assert page.locator(".msg.assistant .persona").first.text_content() == inert(HOSTILE_NAME)
    assert inert(HOSTILE_NAME + " (mirror)") in regions["#agent"]
    assert regions["#welcome"] == inert("".join(HOSTILE_WELCOME))
    assert "\\u{202e}deppots ␛]2;T␇" in regions["#status"]
    assert page.locator(".msg.assistant .body.final").first.locator("p").all_text_contents() == paragraphs
    assert "\\u{202e}deppots" in page.locator(".msg.assistant .status").nth(1).text_content()
    assert forbidden(page.text_content("#messages") or "") == []
