"""``docfleet extract --endpoint`` against real servers on loopback: ``transformers serve``
running the tiny test model (answers as ``--model`` gives them), and scripted servers
(``chat_server``) for failures, limits, structured output and the API key."""

from __future__ import annotations

import base64
import csv
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("httpx")

from chat_server import ChatServer, message_text

from docfleet.jobs.extract.job import ExtractConfig, run_extract

KEY = "sk-extract-0123456789abcdef"
FAST = {"backoff": 0.01, "cool_down": 0.2}  # pool tuning that keeps retries quick
SCHEMA = {
    "type": "object",
    "properties": {"customer": {"type": "string"}, "total": {"type": "number"}},
    "required": ["customer", "total"],
}
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def notes(path: Path, values: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "note"])
        writer.writerows([f"n{i}", value] for i, value in enumerate(values))
    return path


def config(data: Path, out: Path, *servers: ChatServer | str, **extra: Any) -> ExtractConfig:
    urls = [s if isinstance(s, str) else s.url for s in servers]
    settings = {"endpoint": urls, "served_model": "test-model", "input": str(data),
                "output": str(out), "id_column": "id", "prompt": "Extract: {note}",
                "answer_format": "text", "max_new_tokens": 8, "progress": False,
                "request_timeout": 2.0}  # fmt: skip
    return ExtractConfig(**{**settings, **extra})


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def extract(cli):
    """``docfleet extract ARGS --no-progress`` offline, in two minutes at most; ``env`` adds
    variables to this process's environment."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return cli("extract", *args, "--no-progress", env={**os.environ, **OFFLINE, **(env or {})},
                   timeout=120)  # fmt: skip

    return run


# --- scripted servers -----------------------------------------------------------------------


def test_every_record_ends_as_one_line_in_input_order_with_retries_counted(chat_servers, tmp_path):
    server = chat_servers(slow=1.0)
    scripts = ["a|429,ok", "b|500,ok", "c|slow,ok", "d|badjson,ok", "e|drop,ok", "f|ok",
               "g|500,500,500", "h|400"] + [f"plain {i}" for i in range(12)]  # fmt: skip
    data, out = notes(tmp_path / "notes.csv", scripts), tmp_path / "out.jsonl"
    report = run_extract(config(data, out, server, request_timeout=0.5, concurrency=4),
                         pool_options={"max_attempts": 3, **FAST})  # fmt: skip
    got = lines(out)
    assert [line["id"] for line in got] == [f"n{i}" for i in range(len(scripts))]
    by_note = dict(zip(scripts, got, strict=True))
    attempts = {"a|429,ok": 2, "b|500,ok": 2, "c|slow,ok": 2, "d|badjson,ok": 2, "e|drop,ok": 2,
                "f|ok": 1, "plain 3": 1}  # fmt: skip
    for note, count in attempts.items():
        line = by_note[note]
        assert line["status"] == "ok" and line["answer"] == f"echo: Extract: {note}", line
        assert line["attempts"] == count and line["endpoint"] == server.url
        assert (line["model"], line["tokens_in"], line["tokens_out"]) == ("test-model", 5, 5)
        assert line["latency_s"] > 0 and line["seconds"] >= line["latency_s"]
    assert by_note["c|slow,ok"]["seconds"] >= 0.5  # the timed-out attempt counts in its time
    failed = by_note["g|500,500,500"]
    assert (failed["status"], failed["error"]["type"], failed["attempts"]) == (
        "error", "ServerError", 3,
    )  # fmt: skip
    assert "3 attempts failed" in failed["error"]["message"]
    refused = by_note["h|400"]
    assert (refused["error"]["type"], refused["attempts"]) == ("HTTPError", 1)
    assert (report.items, report.ok, report.failed, report.exit_code) == (20, 18, 2, 1)
    assert report.failures == Counter({"ServerError": 1, "HTTPError": 1})
    stats = report.endpoints[server.url]
    assert {k: v for k, v in stats["retries"].items() if v} == {
        "429": 1, "5xx": 3, "timeout": 1, "malformed": 1, "connection": 1,
    }  # fmt: skip
    assert stats["requests"] == len(server.arrivals) and stats["ok"] == 18
    first, second = (a.at for a in server.arrivals if a.content == "Extract: a|429,ok")
    assert second - first >= 1.0  # Retry-After: 1


def test_a_server_failing_everything_is_rested_and_the_other_does_the_work(chat_servers, tmp_path):
    bad, good = chat_servers(default="500"), chat_servers()
    data = notes(tmp_path / "notes.csv", [f"note {i}" for i in range(16)])
    out = tmp_path / "out.jsonl"
    report = run_extract(config(data, out, bad, good, concurrency=2),
                         pool_options={**FAST, "cool_down": 10.0})  # fmt: skip
    assert report.ok == 16 and {line["endpoint"] for line in lines(out)} == {good.url}
    assert report.endpoints[bad.url]["out_of_rotation"] == 1
    assert report.endpoints[bad.url]["ok"] == 0 and report.endpoints[good.url]["ok"] == 16
    assert sum(line["attempts"] for line in lines(out)) == 16 + len(bad.arrivals)


def test_the_schema_goes_as_response_format_and_repairs_follow_a_server_refusing_it(
    chat_servers, tmp_path
):
    def answer(body: dict[str, Any]) -> str:  # JSON when asked for it, else prose
        last = message_text(body["messages"][-1]["content"])
        if "response_format" in body or last.startswith("Your answer could not be used"):
            return '{"customer": "Acme", "total": 3}'
        return "Acme owes three"

    takes, refuses = chat_servers(answer=answer), chat_servers(answer=answer, reject_format=True)
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    data = notes(tmp_path / "notes.csv", ["invoice 1", "invoice 2", "invoice 3"])
    options = {"answer_format": "json", "json_schema": str(schema), "concurrency": 1}
    run_extract(config(data, tmp_path / "a.jsonl", takes, **options))
    assert all(line["valid"] and line["repairs"] == 0 for line in lines(tmp_path / "a.jsonl"))
    sent = takes.arrivals[0].body["response_format"]
    assert sent == {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}
    report = run_extract(config(data, tmp_path / "b.jsonl", refuses, **options))
    got = lines(tmp_path / "b.jsonl")
    assert all(line["valid"] and line["repairs"] == 1 for line in got)
    assert got[0]["answer"] == {"customer": "Acme", "total": 3}
    assert report.endpoints[refuses.url]["no_response_format"] == 1
    repair = refuses.arrivals[-1].body["messages"]  # the conversation so far, then the repair
    assert [m["role"] for m in repair] == ["user", "assistant", "user"]
    assert repair[1]["content"] == "Acme owes three"
    assert repair[2]["content"].startswith("Your answer could not be used:\n- no JSON object")


def test_turns_carry_the_conversation_and_only_the_last_asks_for_the_schema(chat_servers, tmp_path):
    server = chat_servers(answer=lambda body: '{"customer": "Acme", "total": 1}')
    prompts = tmp_path / "turns.yml"
    prompts.write_text(
        "system: You read invoices.\nturns:\n  - 'Who paid? {note}'\n"
        "  - 'Given {answer_1}, the total as JSON.'\n",
        encoding="utf-8",
    )
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    data = notes(tmp_path / "notes.csv", ["invoice 7"])
    run_extract(config(data, tmp_path / "out.jsonl", server, prompt=None,
                       prompt_file=str(prompts), json_schema=str(schema),
                       answer_format="json"))  # fmt: skip
    first, second = (a.body for a in server.arrivals)
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
    assert second["messages"][3]["content"].startswith('Given {"customer": "Acme"')
    assert "response_format" not in first and "response_format" in second
    assert first["temperature"] == 0 and first["max_tokens"] == 8
    (line,) = lines(tmp_path / "out.jsonl")
    assert line["valid"] and len(line["turns"]) == 2 and line["attempts"] == 2


def test_limit_resume_on_other_servers_and_retry_failed(chat_servers, tmp_path):
    first, second = chat_servers(), chat_servers()
    data = notes(tmp_path / "notes.csv", ["one", "two", "x|400,ok", "four", "five"])
    out = tmp_path / "out.jsonl"
    trial = run_extract(config(data, out, first, limit=2))
    assert trial.items == 2 and len(lines(out)) == 2
    rest = run_extract(config(data, out, second))  # other servers: the run resumes
    assert (rest.items, rest.kept, rest.failed) == (5, 2, 1)
    assert lines(out)[2]["error"]["type"] == "HTTPError"  # the 400 came now: an error line
    redo = run_extract(config(data, out, second, retry_failed=True))
    assert (redo.items, redo.kept, redo.failed) == (5, 4, 0)
    got = lines(out)
    assert [line["id"] for line in got] == ["n0", "n1", "n2", "n3", "n4"]
    assert [line["endpoint"] for line in got] == [first.url] * 2 + [second.url] * 3
    assert got[2]["answer"] == "echo: Extract: x|400,ok" and len(second.arrivals) == 4
    settings = json.loads((tmp_path / ".out.jsonl.settings.json").read_text(encoding="utf-8"))
    assert settings["served_model"] == "test-model" and "endpoint" not in settings
    with pytest.raises(ValueError, match="served_model test-model -> other"):
        run_extract(config(data, out, second, served_model="other"))


def test_pages_are_sent_as_image_urls(chat_servers, tmp_path):
    from PIL import Image

    server = chat_servers()
    scans = tmp_path / "scans"
    scans.mkdir()
    Image.new("RGB", (40, 30), "white").save(scans / "receipt.png")
    run_extract(config(scans, tmp_path / "out.jsonl", server, prompt="Total of {file}?"))
    (line,) = lines(tmp_path / "out.jsonl")
    assert line["status"] == "ok" and line["id"].endswith("receipt.png#1")
    picture, text = server.arrivals[0].body["messages"][0]["content"]
    assert text == {"type": "text", "text": "Total of receipt.png?"}
    url = picture["image_url"]["url"]
    assert picture["type"] == "image_url" and url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1])[:4] == b"\x89PNG"


def test_server_settings_come_from_flags_yaml_or_environment_and_the_key_stays_hidden(tmp_path):
    from docfleet.llm.endpoints.extract import endpoint_settings
    from docfleet.settings.cascade import resolve_config

    environ = {"DOCFLEET_ENDPOINT": "http://a:8000/v1, http://b:8000/v1",
               "DOCFLEET_TOKENS_PER_MINUTE": "6000", "SERVER_KEY": KEY}  # fmt: skip
    flags = {"served_model": "qwen", "input": "in.csv", "output": "out.jsonl", "prompt": "{x}",
             "api_key_env": "SERVER_KEY", "concurrency": 3}  # fmt: skip
    config = resolve_config(flags, environ=environ, model=ExtractConfig)
    settings = endpoint_settings(config, environ["SERVER_KEY"])
    assert settings.urls == ("http://a:8000/v1", "http://b:8000/v1")
    assert (settings.tokens_per_minute, settings.concurrency, settings.api_key) == (6000, 3, KEY)
    assert KEY not in repr(settings) and KEY not in config.model_dump_json()


# --- the command line -----------------------------------------------------------------------


def test_cli_paces_requests_exits_by_outcome_and_sums_up_each_server(
    extract, chat_servers, tmp_path
):
    bad, good = chat_servers(default="500"), chat_servers()
    data = notes(tmp_path / "notes.csv", [f"note {i}" for i in range(12)])
    out = tmp_path / "out.jsonl"
    args = ["--endpoint", bad.url, "--endpoint", good.url, "--served-model", "m", "--input",
            str(data), "--prompt", "Say {note}", "--answer-format", "text",
            "--requests-per-minute", "300", "--concurrency", "2", "-o", str(out)]  # fmt: skip
    done = extract(*args)
    assert done.returncode == 0, done.stderr
    assert len(lines(out)) == 12
    summary = " ".join(done.stderr.replace("│", " ").split())  # the table's cells, unwrapped
    rows = (f"{bad.url} {len(bad.arrivals)} requests (0 ok, {len(bad.arrivals)} failed)",
            f"{good.url} 12 requests (12 ok, 0 failed)", "requests/s", "tokens/s",
            f"retries 5xx {len(bad.arrivals)}", "out of rotation 1 time(s)")  # fmt: skip
    for shown in rows:
        assert shown in summary, shown
    times = sorted(a.at for a in bad.arrivals + good.arrivals)  # 5 a second, after a burst of 5
    # the bucket fills from the pool's start, a moment before the first request arrives
    assert times[-1] - times[0] >= (len(times) - 5) / 5 - 0.3
    for at in times:
        assert sum(at <= t < at + 1.0 for t in times) <= 5 + 5

    failing = notes(tmp_path / "failing.csv", ["fine", "x|400"])
    done = extract("--endpoint", good.url, "--served-model", "m", "--input", str(failing),
                   "--prompt", "Say {note}", "-o", str(tmp_path / "f.jsonl"))  # fmt: skip
    assert done.returncode == 1 and "failed: HTTPError" in done.stderr

    both = extract("--model", "somewhere", *args)
    assert both.returncode == 2 and "--model and --endpoint are exclusive" in both.stderr
    unnamed = extract("--endpoint", good.url, "--input", str(data), "--prompt", "{note}", "-o",
                      str(tmp_path / "u.jsonl"))  # fmt: skip
    assert unnamed.returncode == 2 and "--served-model" in unnamed.stderr
    assert not (tmp_path / "u.jsonl").exists()


def test_the_api_key_is_sent_and_shown_nowhere(extract, chat_servers, tmp_path):
    server = chat_servers()
    data = notes(tmp_path / "notes.csv", ["fine", "k|401echo", "x|400"])
    out = tmp_path / "out.jsonl"
    base = ["--endpoint", server.url, "--served-model", "m", "--input", str(data), "--prompt",
            "Say {note}", "-o", str(out)]  # fmt: skip
    done = extract(*base, "--api-key-env", "SERVER_KEY", env={"SERVER_KEY": KEY})
    assert done.returncode == 1, done.stderr
    assert all(a.headers["Authorization"] == f"Bearer {KEY}" for a in server.arrivals)
    assert "bad credentials: Bearer ***" in lines(out)[1]["error"]["message"]
    yaml_file = tmp_path / "run.yml"
    yaml_file.write_text(f"api_key: {KEY}\n", encoding="utf-8")
    refused = [
        extract(*base, "--api-key", KEY),
        extract(*base, f"--api-key={KEY}"),
        extract(*base, "--api-key-env", KEY),  # the key where its variable's name belongs
        extract(*base, "--config", str(yaml_file)),
        extract(*base, "--api-key-env", "UNSET_SERVER_KEY", env={"SERVER_KEY": KEY}),
    ]
    assert [r.returncode for r in refused] == [2] * 5
    assert "--api-key-env NAME" in refused[0].stderr and "not the key" in refused[2].stderr
    assert "UNSET_SERVER_KEY, which is not set" in refused[4].stderr
    shown = [done.stdout, done.stderr, *(r.stdout + r.stderr for r in refused)]
    shown += [p.read_text(encoding="utf-8") for p in tmp_path.glob("*.jsonl*")]
    shown += [p.read_text(encoding="utf-8") for p in tmp_path.glob(".*")]
    assert len(shown) >= 8 and not [text for text in shown if KEY in text]


# --- transformers serve -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny test model, whose generation also stops at its pad token: the local path cuts
    an answer there (after an end, generate pads), and a server stops only at ``eos_token_id``.
    """
    pytest.importorskip("transformers")
    from llm_factory import tiny_causal_lm

    path = tiny_causal_lm(tmp_path_factory.mktemp("llm") / "tiny", context=1024)
    generation = json.loads((path / "generation_config.json").read_text(encoding="utf-8"))
    generation["eos_token_id"] = [generation["eos_token_id"], generation["pad_token_id"]]
    (path / "generation_config.json").write_text(json.dumps(generation), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def served(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two ``transformers serve`` processes on loopback, each holding the tiny model."""
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():
        pytest.skip("transformers serve needs its serving extras: pip install openai")
    logs = tmp_path_factory.mktemp("serve")
    servers = []
    for n in range(2):
        port = _free_port()
        command = [sys.executable, "-m", "transformers.cli.transformers", "serve", str(tiny),
                   "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]  # fmt: skip
        log = (logs / f"serve{n}.log").open("w")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **OFFLINE})  # fmt: skip
        servers.append((process, f"http://127.0.0.1:{port}", log))
    try:
        for process, url, _ in servers:
            _wait_until_healthy(process, url, logs)
        yield [f"{url}/v1" for _, url, _ in servers]
    finally:
        for process, _, log in servers:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str, logs: Path) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            shown = "\n".join(p.read_text()[-2000:] for p in logs.glob("*.log"))
            raise AssertionError(f"transformers serve exited: {shown}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"transformers serve at {url} did not come up in 120 s")


def test_transformers_serve_answers_as_the_local_model_repairs_included(tiny, served, tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    texts = ["invoice 42 paid by Acme", "order shipped", "customer balance is low", "total 12"]
    data = notes(tmp_path / "notes.csv", texts)
    options = {"answer_format": "json", "json_schema": str(schema), "max_repairs": 1,
               "prompt": "Extract the customer and total as JSON: {note}"}  # fmt: skip
    run_extract(config(data, tmp_path / "served.jsonl", served[0], served_model=str(tiny),
                       **options))  # fmt: skip
    local = {"model": str(tiny), "input": str(data), "output": str(tmp_path / "local.jsonl"),
             "id_column": "id", "max_new_tokens": 8, "devices": "cpu", "workers": "thread",
             "batch_size": 1, "progress": False}  # fmt: skip
    run_extract(ExtractConfig(**local, **options))
    same = ("id", "status", "answer", "raw", "turns", "repairs", "problems", "tokens_in")
    pairs = zip(lines(tmp_path / "served.jsonl"), lines(tmp_path / "local.jsonl"), strict=True)
    for by_server, by_model in pairs:
        assert {k: by_server[k] for k in same} == {k: by_model[k] for k in same}
        assert by_server["repairs"] == 1  # a random model never meets the schema
        assert by_server["model"] == str(tiny) and by_server["endpoint"] == served[0]


def test_transformers_serve_two_servers_share_the_rest_of_a_resumed_run(tiny, served, tmp_path):
    data = notes(tmp_path / "notes.csv", [f"invoice {i} paid by customer {i}" for i in range(16)])
    out, whole = tmp_path / "out.jsonl", tmp_path / "whole.jsonl"
    options = {"served_model": str(tiny), "concurrency": 1}
    run_extract(config(data, whole, served[0], **options))
    trial = run_extract(config(data, out, served[0], limit=4, **options))
    assert trial.items == 4
    report = run_extract(config(data, out, *served, **options))
    assert (report.items, report.kept, report.ok) == (16, 4, 16)
    got = lines(out)
    assert [line["answer"] for line in got] == [line["answer"] for line in lines(whole)]
    shares = Counter(line["endpoint"] for line in got[4:])
    assert set(shares) == set(served) and sum(shares.values()) == 12
    assert {url: s["ok"] for url, s in report.endpoints.items()} == shares


def test_a_run_stops_when_no_server_answers_and_resumes_on_one_that_does(
    extract, chat_servers, tmp_path
):
    """Every server down: the run stops after --give-up-after with exit 1 and a message naming
    the servers' errors, rather than crawling through retries; the re-run resumes."""
    with socket.socket() as probe:  # a port nothing listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    data = notes(tmp_path / "notes.csv", [f"note {i}" for i in range(6)])
    out = tmp_path / "out.jsonl"
    common = ["--served-model", "m", "--input", str(data), "--prompt", "Say {note}",
              "--id-column", "id", "--answer-format", "text", "-o", str(out)]  # fmt: skip
    started = time.monotonic()
    down = extract("--endpoint", dead, "--give-up-after", "2", *common)
    assert down.returncode == 1, down.stderr
    assert time.monotonic() - started < 60
    assert "no server has answered for 2 s" in down.stderr and dead in down.stderr
    assert "run the same command again to resume" in down.stderr
    kept = lines(out) if out.exists() else []
    assert len(kept) < 6  # the records the stop left are not error lines: they are undone
    up = chat_servers()
    again = extract("--endpoint", up.url, "--retry-failed", *common)
    assert again.returncode == 0, again.stderr
    assert [line["id"] for line in lines(out)] == [f"n{i}" for i in range(6)]
    assert all(line["status"] == "ok" for line in lines(out))


def test_request_attempts_and_cool_down_come_from_the_command_line(extract, chat_servers, tmp_path):
    failing = chat_servers(default="500")
    data = notes(tmp_path / "notes.csv", ["a", "b", "c"])
    out = tmp_path / "out.jsonl"
    done = extract("--endpoint", failing.url, "--served-model", "m", "--input", str(data),
                   "--id-column", "id", "--prompt", "Say {note}", "--answer-format", "text",
                   "--request-attempts", "2", "--cool-down", "0", "-o", str(out))  # fmt: skip
    assert done.returncode == 1, done.stderr
    written = lines(out)
    assert [line["error"]["type"] for line in written] == ["ServerError"] * 3
    assert [line["attempts"] for line in written] == [2, 2, 2]
    assert len(failing.arrivals) == 6
