"""The loopback listener under abuse: slow clients, many clients, oversized and malformed requests, odd states.

Whatever a local program sends, the listener answers with a plain HTTP error or closes the connection, in
bounded time, holds no thread per connection, leaves nothing running after close(), and still takes the real
redirect. Property tests (hypothesis) for the request parser and for raw bytes on a real socket.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop.oauth import loopback
from desktop.oauth.errors import StateMismatch
from desktop.oauth.flow import AuthorizationRequest, parse_callback
from desktop.oauth.loopback import BadRequest, LoopbackListener, parse_request

STATE = "right-state-0123456789"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def raw(port: int, data: bytes, *, wait: float = 5.0) -> bytes:
    """Send ``data``, half-close, and read the answer until the listener closes (b'' when it just closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return b""
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
        return b"".join(chunks)


def status_of(answer: bytes) -> int | None:
    if not answer:
        return None
    line = answer.split(b"\r\n", 1)[0].split(b" ")
    assert line[0] in (b"HTTP/1.0", b"HTTP/1.1"), answer[:100]
    return int(line[1])


def extra_threads(baseline: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in baseline and t.is_alive()]


@pytest.fixture
def listening():
    with LoopbackListener() as listener:
        listener.expect(STATE, f"http://127.0.0.1:{listener.port}/oauth2/callback")
        yield listener


def test_fifty_slow_clients_hold_no_threads_and_leave_nothing_after_close():
    baseline = set(threading.enumerate())
    listener = LoopbackListener().start()
    listener.expect(STATE, f"http://127.0.0.1:{listener.port}/oauth2/callback")
    slow = []
    for index in range(50):
        sock = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
        if index % 2:
            sock.sendall(b"GET /oauth2/callback?code=x&st")  # half a request line, then nothing
        slow.append(sock)
    time.sleep(0.3)
    assert len(extra_threads(baseline)) <= 2, [t.name for t in extra_threads(baseline)]
    # the real redirect still gets through while they hang on
    listener.finish(True, "Signed in", ["You can close this tab."])
    status, page = get(f"http://127.0.0.1:{listener.port}/oauth2/callback?code=c&state={STATE}")
    assert status == 200 and listener.wait(1).endswith(f"state={STATE}")
    started = time.monotonic()
    listener.close()
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 3
    while extra_threads(baseline) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert extra_threads(baseline) == [], [t.name for t in extra_threads(baseline)]
    for sock in slow:
        sock.close()


def test_a_client_that_sends_nothing_is_dropped_after_the_read_time_out(monkeypatch):
    monkeypatch.setattr(loopback, "READ_TIMEOUT", 0.5)
    with LoopbackListener() as listener:
        listener.expect(STATE, f"http://127.0.0.1:{listener.port}/oauth2/callback")
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
            sock.sendall(b"GET /oauth2/callback HTTP/1.1\r\nHost: x\r\n")  # headers never end
            started = time.monotonic()
            answer = sock.recv(4096)
            assert time.monotonic() - started < 3
            assert status_of(answer) in (None, 408)


def test_beyond_the_cap_the_oldest_idle_connection_makes_room(monkeypatch):
    monkeypatch.setattr(loopback, "MAX_CONNECTIONS", 4)
    with LoopbackListener() as listener:
        listener.expect(STATE, f"http://127.0.0.1:{listener.port}/oauth2/callback")
        listener.finish(True, "Signed in", ["You can close this tab."])
        held = []
        for _ in range(4):
            held.append(socket.create_connection(("127.0.0.1", listener.port), timeout=5))
            time.sleep(0.05)
        started = time.monotonic()
        assert get(f"http://127.0.0.1:{listener.port}/oauth2/callback?code=c&state={STATE}")[0] == 200
        assert time.monotonic() - started < 2
        assert status_of(held[0].recv(4096)) in (None, 503)  # the oldest idle one was closed for it
        for sock in held:
            sock.close()


def test_an_oversized_request_gets_431_and_nothing_is_kept(listening):
    answer = raw(listening.port, b"GET /oauth2/callback?state=" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n")
    assert status_of(answer) in (414, 431)
    headers = b"GET /oauth2/callback HTTP/1.1\r\n" + b"X-Long: " + b"b" * 60_000 + b"\r\n\r\n"
    assert status_of(raw(listening.port, headers)) == 431


@pytest.mark.parametrize("request_bytes", [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS client hello
    b"GET\r\n\r\n",
    b"GET /oauth2/callback\r\n\r\n",
    b"GET /oauth2/callback HTTP/9\r\n\r\n",
    b"GET  /oauth2/callback  HTTP/1.1\r\n\r\n",
    b"GET http://[::1/oauth2/callback HTTP/1.1\r\n\r\n",
    b"GET //[oauth2 HTTP/1.1\r\n\r\n",
    b"GET /oauth2/callback?state=\xc3\xa4 HTTP/1.1\r\n\r\n",
    b"\r\n\r\n",
    b"G\x00T / HTTP/1.1\r\n\r\n",
])
def test_malformed_requests_get_a_plain_400(listening, request_bytes):
    answer = raw(listening.port, request_bytes)
    assert status_of(answer) == 400, answer[:200]
    assert b"Content-Type: text/plain" in answer and b"Bad request" in answer


def test_other_methods_are_refused(listening):
    answer = raw(listening.port, b"POST /oauth2/callback HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    assert status_of(answer) == 405 and b"Allow: GET" in answer


@pytest.mark.parametrize("state", ["%C3%A4", "\u00e4".encode().decode("latin-1"), "%FF%FE", "%00", "", "%F0%9F%94%91"])
def test_a_non_ascii_or_odd_state_is_a_mismatch_not_a_crash(listening, state):
    status, page = get(f"http://127.0.0.1:{listening.port}/oauth2/callback?code=c&state={state}"
                       if state.isascii() else f"http://127.0.0.1:{listening.port}/oauth2/callback?code=c&state=x")
    assert status == 400 and "Sign-in refused" in page
    assert not listening.submit(f"http://127.0.0.1:{listening.port}/oauth2/callback?code=c&state=\u00e4")
    assert not listening.submit("http://[::1/oauth2/callback?code=c")  # a pasted address that is not a URL
    listening.finish(True, "Signed in", ["You can close this tab."])
    assert get(f"http://127.0.0.1:{listening.port}/oauth2/callback?code=c&state={STATE}")[0] == 200


def test_parse_callback_treats_a_non_ascii_or_unparsable_state_as_a_mismatch(ctx, make_config):
    cfg = make_config("Box")
    for url in ("http://127.0.0.1:1/cb?code=c&state=%C3%A4", "http://127.0.0.1:1/cb?code=c&state=\u00e4\u00f6",
                "http://[::1/cb?code=c&state=s"):
        request = AuthorizationRequest(config_id=cfg.id, config_name=cfg.name, url="", redirect_uri="",
                                       state="s\u00e4", code_verifier=None)
        with pytest.raises(StateMismatch):
            parse_callback(cfg, request, url)


# ---- properties
request_lines = st.one_of(
    st.binary(max_size=400),
    st.builds(lambda m, t, v, h: m + b" " + t + b" " + v + b"\r\n" + h + b"\r\n",
              st.sampled_from([b"GET", b"get", b"POST", b"HEAD", b"", b"G T"]),
              st.binary(max_size=200) | st.sampled_from([b"/oauth2/callback?code=c&state=x", b"/", b"*", b"//[x"]),
              st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"", b"http/1.1"]),
              st.binary(max_size=100)),
)


@settings(max_examples=800, deadline=None)
@given(request_lines)
def test_the_request_parser_takes_or_refuses_anything_quickly(data):
    started = time.monotonic()
    try:
        method, target = parse_request(data)
    except BadRequest as exc:
        assert exc.status in (400, 405, 414, 431) and exc.reason
    else:
        assert method == "GET" and target.startswith("/") and target.isascii() and target.isprintable()
        assert " " not in target
    assert time.monotonic() - started < 0.1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request_lines)
def test_any_bytes_on_the_socket_get_an_answer_or_a_close_quickly(listening, data):
    started = time.monotonic()
    answer = raw(listening.port, data + b"\r\n\r\n")
    assert time.monotonic() - started < 3
    assert status_of(answer) in (None, 400, 404, 405, 414, 431)
    assert listening._callbacks.empty()  # nothing without this sign-in's state was taken
