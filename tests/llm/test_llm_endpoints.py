"""EndpointPool against real chat-completions servers on loopback, each answer scripted
(see ``chat_server``: ``"a|429,ok"`` is answered 429, then normally)."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("httpx")

from chat_server import ChatServer

from docfleet.llm.endpoints.pool import (
    FAILURES_IN_A_ROW,
    ChatRequest,
    ChatResult,
    EndpointPool,
    EndpointSettings,
    read_reply,
)
from docfleet.llm.endpoints.rate_limit import RateLimit

KEY = "sk-test-0123456789abcdef"
FORMAT = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}


def settings(*servers: ChatServer | str, **options: Any) -> EndpointSettings:
    """Settings that keep tests fast: little backoff, short rests."""
    urls = [s if isinstance(s, str) else s.url for s in servers]
    fast = {"backoff": 0.01, "cool_down": 0.2, "request_timeout": 2.0, "concurrency": 4}
    return EndpointSettings(tuple(urls), "test-model", **{**fast, **options})


def ask(key: Any, content: str | None = None, **options: Any) -> ChatRequest:
    text = str(key) if content is None else content
    return ChatRequest(key, [{"role": "user", "content": text}], max_tokens=8, **options)


def by_key(results: Iterator[ChatResult]) -> dict[Any, ChatResult]:
    out: dict[Any, ChatResult] = {}
    for result in results:
        assert result.key not in out, f"{result.key} answered twice"
        out[result.key] = result
    return out


def test_every_request_ends_once_and_retries_are_counted_by_reason(chat_servers):
    server = chat_servers(slow=1.0)
    scripts = {
        "a": "429,ok", "b": "500,ok", "c": "slow,ok", "d": "badjson,ok",
        "e": "drop,ok", "f": "nochoices,ok", "g": "ok", "h": "500,500,500",
    }  # fmt: skip
    requests = [ask(k, f"{k}|{s}") for k, s in scripts.items()] + [ask(i) for i in range(20)]
    with EndpointPool(settings(server, request_timeout=0.5, max_attempts=3)) as pool:
        results = by_key(pool.run(requests))
        stats = pool.stats()[server.url]
    assert set(results) == set(scripts) | set(range(20))
    expected = {"a": {"429": 1}, "b": {"5xx": 1}, "c": {"timeout": 1}, "d": {"malformed": 1},
                "e": {"connection": 1}, "f": {"malformed": 1}, "g": {}}  # fmt: skip
    for key, retries in expected.items():
        assert results[key].ok, results[key]
        assert results[key].text == f"echo: {key}|{scripts[key]}"
        assert results[key].retries_by_reason == retries
        assert results[key].attempts == 1 + sum(retries.values())
    assert all(results[i].ok and results[i].text == f"echo: {i}" for i in range(20))
    failed = results["h"]
    assert (failed.ok, failed.error_type, failed.attempts) == (False, "ServerError", 3)
    assert failed.retries_by_reason == {"5xx": 2} and "engine died" in failed.error
    first, second = (a.at for a in server.arrivals if a.content == "a|429,ok")
    assert second - first >= 1.0  # Retry-After: 1
    assert stats["requests"] == len(server.arrivals) == stats["ok"] + stats["failed"]
    assert stats["ok"] == 27 and stats["tokens_in"] == stats["tokens_out"] == 27 * 5
    assert {k: v for k, v in stats["retries"].items() if v} == {
        "429": 1, "5xx": 3, "timeout": 1, "malformed": 2, "connection": 1,
    }  # fmt: skip


def test_a_refused_request_is_not_retried_and_keeps_the_server_message(chat_servers):
    server = chat_servers()
    with EndpointPool(settings(server)) as pool:
        result = pool.chat(ask("request-key-42", "r|400"))
    assert (result.ok, result.error_type, result.attempts) == (False, "HTTPError", 1)
    assert result.error.startswith("HTTP 400: This model's maximum context length is 10 tokens")
    assert len(result.error) < 400 and server.url in result.error
    assert "request-key-42" not in result.error
    assert len(server.arrivals) == 1


def test_requests_per_minute_paces_the_requests(chat_servers):
    server = chat_servers()
    with EndpointPool(settings(server, requests_per_minute=240, concurrency=8)) as pool:
        assert all(r.ok for r in pool.run(ask(i) for i in range(10)))
    times = sorted(a.at for a in server.arrivals)
    for i, at in enumerate(times):  # 4 a second after a burst of one second's worth (4)
        assert at - times[0] >= (i - 4) / 4 - 0.02, (i, at - times[0])
    for at in times:
        assert sum(at <= t < at + 1.0 for t in times) <= 4 + 4


def test_tokens_per_minute_counts_what_the_server_reports(chat_servers):
    server = chat_servers()  # says every request cost 10 tokens; each is estimated at 8 + 32/4 = 16
    options = {"tokens_per_minute": 60 * 16, "concurrency": 8}  # one estimate a second
    with EndpointPool(settings(server, **options)) as pool:
        assert all(r.ok for r in pool.run(ask(i, f"{i:032d}") for i in range(5)))
    times = sorted(a.at for a in server.arrivals)
    span = times[-1] - times[0]
    # the estimate would allow one a second (4 s); what the server reported allows more
    assert 4 * 10 / 16 - 0.1 <= span < 3.5, span


def test_concurrency_is_respected_per_endpoint(chat_servers):
    server = chat_servers(delay=0.15)
    with EndpointPool(settings(server, concurrency=3)) as pool:
        assert all(r.ok for r in pool.run(ask(i) for i in range(12)))
        assert pool.stats()[server.url]["in_flight"] == 0
    assert server.max_in_flight == 3


def test_two_endpoints_share_the_work_and_the_slow_one_gets_less(chat_servers):
    fast, slow = chat_servers(delay=0.01), chat_servers(delay=0.4)
    with EndpointPool(settings(fast, slow, concurrency=2)) as pool:
        results = by_key(pool.run(ask(i) for i in range(40)))
        stats = pool.stats()
    assert len(results) == 40 and all(r.ok for r in results.values())
    assert 1 <= len(slow.arrivals) < len(fast.arrivals) / 4
    assert Counter(r.endpoint for r in results.values()) == {
        fast.url: len(fast.arrivals),
        slow.url: len(slow.arrivals),
    }
    assert stats[slow.url]["busy_seconds"] >= 0.4 * len(slow.arrivals) - 0.05


def test_an_endpoint_failing_everything_leaves_rotation_and_the_other_serves(chat_servers, caplog):
    bad, good = chat_servers(default="500"), chat_servers()
    with EndpointPool(settings(bad, good, concurrency=2, cool_down=10.0)) as pool:
        results = by_key(pool.run(ask(i) for i in range(20)))
        stats = pool.stats()
    assert all(r.ok and r.endpoint == good.url for r in results.values())
    assert len(bad.arrivals) <= FAILURES_IN_A_ROW + 1  # the third failure and one in flight
    assert stats[bad.url]["out_of_rotation"] == 1
    assert 0 < stats[bad.url]["out_of_rotation_seconds"] <= 10.0
    assert stats[bad.url]["retries"]["5xx"] == len(bad.arrivals) == stats[bad.url]["failed"]
    assert stats[good.url]["ok"] == 20
    assert "out of rotation for 10s" in caplog.text


def test_when_every_endpoint_rests_work_waits_for_the_first_back(chat_servers):
    server = chat_servers()
    with EndpointPool(settings(server, cool_down=0.5)) as pool:
        result = pool.chat(ask("r", "r|500,500,500,ok"))
        stats = pool.stats()[server.url]
    assert result.ok and result.retries_by_reason == {"5xx": 3}
    times = [a.at for a in server.arrivals]
    assert times[2] - times[0] < 0.5 <= times[3] - times[2]  # the third failure rested it
    assert stats["out_of_rotation"] == 1


def test_response_format_falls_back_when_the_server_refuses_it(chat_servers):
    refuses, takes = chat_servers(reject_format=True), chat_servers()
    with EndpointPool(settings(refuses, concurrency=1)) as pool:
        results = by_key(pool.run(ask(i, response_format=FORMAT) for i in range(3)))
        stats = pool.stats()[refuses.url]
    assert all(r.ok for r in results.values())
    assert results[0].retries_by_reason == {"no_response_format": 1}
    assert [("response_format" in a.body) for a in refuses.arrivals] == [True, False, False, False]
    assert (stats["no_response_format"], stats["response_format"]) == (1, False)
    with EndpointPool(settings(takes)) as pool:
        assert pool.chat(ask("x", response_format=FORMAT)).ok
    assert takes.arrivals[0].body["response_format"] == FORMAT


def test_the_api_key_is_sent_and_shown_nowhere(chat_servers, caplog):
    caplog.set_level(logging.DEBUG)
    server = chat_servers()
    with socket.socket() as closed:  # a port with nothing listening
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
    config = settings(server, api_key=KEY, max_attempts=2)
    shown = [repr(config), str(config)]
    with EndpointPool(config) as pool:
        shown.append(repr(pool))
        results = list(pool.run([ask("ok"), ask("echo", "e|401echo"), ask("fail", "f|500")]))
        shown += [repr(r) for r in results] + [json.dumps(pool.stats())]
    with EndpointPool(settings(nowhere, api_key=KEY, max_attempts=1)) as pool:
        refused = pool.chat(ask("refused"))
        shown += [repr(refused), json.dumps(pool.stats())]
    with pytest.raises(ValueError) as raised:
        EndpointSettings((), "m", api_key=KEY)
    shown += [str(raised.value), caplog.text] + [r.getMessage() for r in caplog.records]
    assert refused.error_type == "ConnectionError"
    assert {r.key: r.error_type for r in results} == {"ok": "", "echo": "HTTPError",
                                                      "fail": "ServerError"}  # fmt: skip
    assert "bad credentials: Bearer ***" in next(r.error for r in results if r.key == "echo")
    assert all(a.headers["Authorization"] == f"Bearer {KEY}" for a in server.arrivals)
    assert caplog.records, "expected the retries and failures to be logged"
    assert not [text for text in shown if KEY in text]


def test_chat_from_many_threads_shares_the_slots_with_run(chat_servers):
    server = chat_servers(delay=0.05)
    answers: dict[int, ChatResult] = {}
    with EndpointPool(settings(server, concurrency=2)) as pool:

        def talk(i: int) -> None:
            answers[i] = pool.chat(ask(f"thread {i}"))

        threads = [threading.Thread(target=talk, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        streamed = by_key(pool.run(ask(i) for i in range(6)))
        for thread in threads:
            thread.join()
    assert all(answers[i].ok and answers[i].text == f"echo: thread {i}" for i in range(8))
    assert all(r.ok for r in streamed.values()) and len(streamed) == 6
    assert server.max_in_flight == 2 and len(server.arrivals) == 14


def test_run_reads_ahead_a_bounded_number_of_requests(chat_servers):
    server = chat_servers()
    pulled = 0

    def endless() -> Iterator[ChatRequest]:
        nonlocal pulled
        while True:
            pulled += 1
            yield ask(pulled)

    with EndpointPool(settings(server)) as pool:
        taken = []
        for result in pool.run(endless(), ahead=5):
            taken.append(result)
            if len(taken) == 3:
                break
    assert all(r.ok for r in taken)
    assert pulled <= 5 + 3


def test_close_answers_what_waits_and_refuses_more(chat_servers):
    server = chat_servers(delay=3.0)
    pool = EndpointPool(settings(server, request_timeout=10.0))
    answer: list[ChatResult] = []
    thread = threading.Thread(target=lambda: answer.append(pool.chat(ask("late"))))
    thread.start()
    while not server.arrivals:
        time.sleep(0.01)
    start = time.monotonic()
    pool.close()
    thread.join()
    assert time.monotonic() - start < 1.0
    assert (answer[0].ok, answer[0].error_type) == (False, "Closed")
    with pytest.raises(RuntimeError, match="closed"):
        pool.chat(ask("after"))
    pool.close()  # twice is fine


def test_a_request_that_cannot_be_sent_ends_as_an_error_and_the_rest_go_on(chat_servers):
    server = chat_servers()
    bad = ChatRequest("bad", [{"role": "user", "content": object()}], max_tokens=8)
    with EndpointPool(settings(server)) as pool:
        results = by_key(pool.run([ask(1), bad, ask(2)]))
        with pytest.raises(TypeError, match="ChatRequest"):
            pool.chat({"messages": []})  # type: ignore[arg-type]
    assert (results["bad"].ok, results["bad"].error_type) == (False, "InvalidRequest")
    assert results[1].ok and results[2].ok and len(server.arrivals) == 2


def test_urls_are_shown_without_their_credentials():
    config = EndpointSettings(("https://user:pw@api.example.com/v1",), "m")
    assert "pw" not in repr(config) and "api.example.com/v1" in repr(config)
    assert list(EndpointPool(config).stats()) == ["https://api.example.com/v1"]


def test_importing_the_module_loads_no_http_client():
    code = "import sys, docfleet.llm.endpoints.pool; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"urls": ()}, "no endpoint URL"),
        ({"urls": ("gpu0:8000/v1",)}, "must start with http"),
        ({"urls": ("http://a/v1", "http://a/v1/")}, "given twice"),
        ({"model": ""}, "served model"),
        ({"concurrency": 0}, "concurrency must be at least 1"),
        ({"requests_per_minute": 0}, "requests_per_minute must be above 0"),
        ({"api_key": "two words"}, "one printable word"),
    ],
)
def test_settings_name_what_is_wrong(options, message):
    with pytest.raises(ValueError, match=message):
        EndpointSettings(**{"urls": ("http://a/v1",), "model": "m", **options})


def test_a_token_limit_lends_to_a_large_request_and_takes_back_what_was_not_used():
    now = [0.0]
    limit = RateLimit(600, clock=lambda: now[0])  # 10 a second
    limit.take(25)  # more than the bucket: sent on a full bucket, then owed
    assert limit.wait_time(10) == pytest.approx(2.5)
    limit.settle(25, 5)  # the server counted 5
    assert limit.wait_time(10) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (503, b'{"error": {"message": "overloaded"}}', "retry", "HTTP 503: overloaded"),
        (422, b'{"detail": "guided decoding is off"}', "no_response_format", "HTTP 422: guided"),
        (400, b'{"error": "Input validation error"}', "fatal", "HTTP 400: Input validation"),
        (404, b"<html>Not Found</html>", "fatal", "HTTP 404: <html>Not Found</html>"),
        (
            200,
            b'{"choices": [{"message": {"content": null}}]}',
            "retry",
            "an answer without message",
        ),
    ],
)
def test_replies_are_read_from_the_shapes_servers_send(status, body, kind, message):
    reply = read_reply(status, {"retry-after": "3"}, body)
    assert reply.kind == kind and reply.message.startswith(message)
    assert reply.retry_after == (3.0 if status == 503 else None)


def test_every_server_down_ends_waiting_and_later_requests_at_once():
    import socket

    with socket.socket() as probe:  # nothing listens there: connections are refused
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    settings = EndpointSettings([dead], "m", api_key=KEY, give_up_after=0.5, cool_down=60,
                                backoff=0.01)  # fmt: skip
    asks = [ChatRequest(i, [{"role": "user", "content": "hi"}], 4) for i in range(5)]
    started = time.monotonic()
    with EndpointPool(settings) as pool:
        results = list(pool.run(asks))
        later = pool.chat(ChatRequest("late", [{"role": "user", "content": "hi"}], 4))
    assert time.monotonic() - started < 10  # not 60 s of rest per server
    assert sorted(r.key for r in results) == list(range(5))
    assert {r.error_type for r in [*results, later]} == {"ServersDown"}
    assert "no server has answered for 0.5 s" in later.error and dead in later.error
    assert KEY not in later.error
