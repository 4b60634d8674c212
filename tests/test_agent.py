"""The window as the token agent (desktop/agent.py): the protocol over the instance socket, the work done from
the window's context, who asked, and the command line asking a window first and working alone when none
answers (old window, hung window, no window)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from desktop import agent, instance, procinfo
from desktop.cli import main
from desktop.cli.via_window import parse_token_arguments
from desktop.models.token import utcnow
from desktop.store.secrets import ACCESS_TOKEN

pytestmark = pytest.mark.skipif(not instance.supported(), reason="abstract Unix sockets are Linux-only")

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "eyJhbGciOiJSUzI1NiJ9." + "x" * 900 + ".sig-agent-test"


@pytest.fixture
def valid_token(ctx, make_config):
    """A configuration with a valid stored access token (no network needed to hand it out)."""
    cfg = make_config("Support mailbox")
    ctx.secrets.set_for(cfg.id, ACCESS_TOKEN, TOKEN)
    ctx.store.update_state(cfg.id, has_access_token=True, token_expires_at=utcnow() + timedelta(hours=1),
                           last_requested_at=utcnow() - timedelta(minutes=5),
                           token_info={"account": "support@example.org", "granted_scope": "mail.send"})
    return cfg


class Served:
    """An AgentServer on the test's data directory, accepting on a thread (the GUI's notifier in the app)."""

    def __init__(self, home: Path, handle, on_command=None) -> None:
        self.listener = instance.claim(home)
        assert self.listener is not None
        self.commands: list[str] = []
        self.server = agent.AgentServer(self.listener, handle, on_command or self.commands.append)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import select

        while not self._stop.is_set():
            ready, _, _ = select.select([self.listener], [], [], 0.05)
            if ready:
                self.server.accept_ready()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.server.close()
        self.listener.close()


@pytest.fixture
def serve(tokendesk_home):
    started: list[Served] = []

    def start(handle, on_command=None) -> Served:
        served = Served(tokendesk_home, handle, on_command)
        started.append(served)
        return served

    yield start
    for served in started:
        served.close()


def no_local_store():
    raise AssertionError("the command opened the store although the window answered")


# ---- the protocol
def test_a_request_is_taken_and_answered_with_the_peer_pid(serve, tokendesk_home):
    seen = []

    def handle(request, pid):
        seen.append((request, pid))
        return {"ok": True, "token": "t0k", "expires_at": None}

    serve(handle)
    answer = agent.ask({"op": "token", "name": "X"}, tokendesk_home)
    assert answer == {"v": 1, "ok": True, "token": "t0k", "expires_at": None}
    assert seen == [({"v": 1, "op": "token", "name": "X"}, os.getpid())]


def test_show_and_minimized_still_work_through_the_agent_server(serve, tokendesk_home):
    served = serve(lambda request, pid: {"ok": True})
    assert instance.ask_running_instance("show", tokendesk_home) is True
    assert instance.ask_running_instance("minimized", tokendesk_home) is True
    deadline = time.monotonic() + 5
    while len(served.commands) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert served.commands == ["show", "minimized"]


def test_unknown_or_garbled_requests_get_no_token(serve, tokendesk_home):
    serve(lambda request, pid: {"ok": True, "token": "should not be sent"})
    address = instance.address(tokendesk_home)
    for payload in (b"rm -rf /\n", b'{"v":1,"op":\n', b"[1, 2]\n", b"x" * (agent.MAX_REQUEST + 10) + b"\n"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(address)
            try:
                sock.sendall(payload)
                assert sock.recv(100) == b""  # closed without a word
            except ConnectionResetError:
                pass  # closed with unread bytes: also no word
    # another protocol version: told so, and a client falls back
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(address)
        sock.sendall(b'{"v":99,"op":"token","name":"X"}\n')
        assert json.loads(sock.recv(1000))["unsupported"] is True


def accept_when_ready(server: agent.AgentServer, expected: int) -> int:
    """Call accept_ready as the GUI's socket notifier would, until ``expected`` connections were taken on."""
    import select

    taken = 0
    deadline = time.monotonic() + 5
    while taken < expected and time.monotonic() < deadline:
        if select.select([server.listener], [], [], 0.05)[0]:
            taken += server.accept_ready()
    return taken


def test_the_request_line_has_a_read_time_out(tokendesk_home):
    listener = instance.claim(tokendesk_home)
    server = agent.AgentServer(listener, lambda r, p: {"ok": True}, lambda c: None, read_timeout=0.3)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(instance.address(tokendesk_home))
            sock.sendall(b'{"v":1,"op":"token"')  # and then nothing
            started = time.monotonic()
            assert accept_when_ready(server, 1) == 1
            assert sock.recv(100) == b""
            assert time.monotonic() - started < 3
    finally:
        server.close()
        listener.close()


def test_requests_beyond_the_bound_are_closed_at_once(tokendesk_home):
    release = threading.Event()

    def slow(request, pid):
        release.wait(10)
        return {"ok": True, "token": "late"}

    listener = instance.claim(tokendesk_home)
    server = agent.AgentServer(listener, slow, lambda c: None, workers=1, max_waiting=1)
    socks = []
    try:
        for _ in range(3):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(5)
            sock.connect(instance.address(tokendesk_home))
            sock.sendall(b'{"v":1,"op":"token","name":"X"}\n')
            socks.append(sock)
        assert accept_when_ready(server, 2) == 2
        server.accept_ready()  # the third is over the bound: closed unanswered
        try:
            assert socks[2].recv(10) == b""
        except ConnectionResetError:
            pass  # closed with its request unread: also not a word
        release.set()
        lines = socks[0].makefile("rb")
        assert json.loads(lines.readline()) == {"v": 1, "accepted": True}
        assert json.loads(lines.readline()) == {"v": 1, "ok": True, "token": "late"}
    finally:
        release.set()
        for sock in socks:
            sock.close()
        server.close()
        listener.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another user")
def test_another_users_process_gets_nothing(serve, tokendesk_home):
    serve(lambda request, pid: {"ok": True, "token": "secret"})
    code = (
        "import os, socket, sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5)\n"
        f"s.connect({instance.address(tokendesk_home)!r})\n"
        "try:\n    s.sendall(b'{\"v\":1,\"op\":\"token\",\"name\":\"X\"}\\n')\n    data = s.recv(100)\n"
        "except OSError:\n    data = b''\n"
        "print(repr(data))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "b''", out.stderr


def test_the_client_refuses_a_listener_of_another_user(tokendesk_home, monkeypatch):
    listener = instance.claim(tokendesk_home)
    try:
        monkeypatch.setattr(instance, "peer_credentials", lambda sock: (1, os.getuid() + 1, 1))
        assert agent.ask({"op": "token", "name": "X"}, tokendesk_home) is None
    finally:
        listener.close()


def test_an_old_window_that_knows_only_show_means_work_alone(tokendesk_home):
    listener = instance.claim(tokendesk_home)
    got = []
    server = threading.Thread(target=lambda: (listener.setblocking(True), got.append(instance.read_command(listener))))
    server.start()
    try:
        started = time.monotonic()
        assert agent.ask({"op": "token", "name": "X"}, tokendesk_home) is None
        assert time.monotonic() - started < agent.ACCEPT_TIMEOUT
    finally:
        server.join(5)
        listener.close()
    assert got == [None]


def test_a_hung_window_means_work_alone_within_the_time_out(tokendesk_home):
    listener = instance.claim(tokendesk_home)  # listens, never accepts
    try:
        started = time.monotonic()
        assert agent.ask({"op": "token", "name": "X"}, tokendesk_home, accept_timeout=0.3) is None
        assert 0.25 < time.monotonic() - started < 2
    finally:
        listener.close()


def test_a_garbled_or_unsupported_answer_means_work_alone(serve, tokendesk_home):
    answers = iter([{"ok": "yes"}, {"ok": False, "unsupported": True}, {"ok": False, "locked": True}])
    serve(lambda request, pid: next(answers))
    for _ in range(3):
        assert agent.ask({"op": "token", "name": "X"}, tokendesk_home) is None


# ---- the work, from the window's context
def test_the_agent_hands_out_the_token_and_records_who_asked(ctx, valid_token):
    changed = []
    work = agent.TokenAgent(ctx, on_changed=changed.append, program_for=lambda pid: f"/usr/bin/prog{pid}")
    answer = work({"op": "token", "name": "support MAILBOX"}, 7)
    assert answer == {"ok": True, "token": TOKEN, "token_type": "Bearer", "expires_at": answer["expires_at"],
                      "account": "support@example.org", "scope": "mail.send"}
    state = ctx.store.get_state(valid_token.id)
    assert state.last_used_by == "/usr/bin/prog7" and state.last_used_at is not None
    assert changed == [valid_token.id]
    # the same program again within the minute: no write, no change to show
    work({"op": "token", "name": "Support mailbox"}, 7)
    assert changed == [valid_token.id]
    # another program: written at once
    work({"op": "token", "name": "Support mailbox"}, 8)
    assert ctx.store.get_state(valid_token.id).last_used_by == "/usr/bin/prog8"
    assert changed == [valid_token.id, valid_token.id]


def test_the_agent_answers_failures_with_the_command_lines_texts_and_codes(ctx, valid_token):
    work = agent.TokenAgent(ctx, program_for=lambda pid: "")
    missing = work({"op": "token", "name": "nothing"}, 1)
    assert missing["ok"] is False and missing["exit"] == 3 and "No configuration named 'nothing'" in missing["message"]
    ctx.store.update_state(valid_token.id, has_access_token=False, reauthorization_needed=True,
                           error_message="invalid_grant", error_description="revoked")
    reauth = work({"op": "token", "name": "Support mailbox"}, 1)
    assert reauth["ok"] is False and reauth["exit"] == 4
    assert 'Next: tokendesk authorize "Support mailbox"' in reauth["message"]
    assert work({"op": "delete", "name": "Support mailbox"}, 1)["unsupported"] is True
    assert work({"op": "token", "name": ""}, 1)["unsupported"] is True


def test_mark_used_without_a_program_keeps_its_once_a_minute_rule(ctx, valid_token):
    from desktop.oauth.tokens import TokenService

    service = TokenService(ctx)
    service.access_token("Support mailbox")
    first = ctx.store.get_state(valid_token.id).last_used_at
    assert first is not None and ctx.store.get_state(valid_token.id).last_used_by == ""
    service.access_token("Support mailbox")
    assert ctx.store.get_state(valid_token.id).last_used_at == first
    service.access_token_and_state("Support mailbox", used_by="/usr/bin/msmtp")
    assert ctx.store.get_state(valid_token.id).last_used_by == "/usr/bin/msmtp"
    service.access_token("Support mailbox", mark_used=False)
    assert ctx.store.get_state(valid_token.id).last_used_by == "/usr/bin/msmtp"


# ---- the command line
def test_plain_token_arguments_are_read_without_argparse():
    assert parse_token_arguments(["token", "X"]) == ("X", "raw", None, False)
    assert parse_token_arguments(["-v", "token", "--format=json", "My box"]) == ("My box", "json", None, True)
    assert parse_token_arguments(["token", "X", "--format", "xoauth2", "--user", "a@b"]) == ("X", "xoauth2", "a@b",
                                                                                             False)
    for odd in (["token"], ["token", "--help"], ["token", "X", "Y"], ["token", "--form", "json", "X"],
                ["token", "X", "--format", "yaml"], ["token", "X", "--user"], ["list"], ["token", "-X"]):
        assert parse_token_arguments(odd) is None, odd


def test_tokendesk_token_is_answered_by_the_window_in_every_format(ctx, valid_token, serve, capsys):
    serve(agent.TokenAgent(ctx, program_for=lambda pid: "/usr/bin/msmtp"))
    assert main(["token", "Support mailbox"], context_factory=no_local_store) == 0
    assert capsys.readouterr().out == TOKEN + "\n"
    assert main(["token", "Support mailbox", "--format", "header"], context_factory=no_local_store) == 0
    assert capsys.readouterr().out == f"Authorization: Bearer {TOKEN}\n"
    assert main(["token", "--format", "json", "Support mailbox"], context_factory=no_local_store) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["access_token"] == TOKEN and data["account"] == "support@example.org" and data["scope"] == "mail.send"
    assert 3500 <= data["expires_in"] <= 3600 and data["configuration"] == "Support mailbox"
    from desktop.usage.sasl import xoauth2_base64

    assert main(["token", "Support mailbox", "--format", "xoauth2"], context_factory=no_local_store) == 0
    assert capsys.readouterr().out.strip() == xoauth2_base64("support@example.org", TOKEN)
    # the argparse path (an abbreviated option) asks the window too
    assert main(["token", "Support mailbox", "--form", "raw"], context_factory=no_local_store) == 0
    assert capsys.readouterr().out == TOKEN + "\n"
    assert ctx.store.get_state(valid_token.id).last_used_by == "/usr/bin/msmtp"
    # failures: the same exit codes and words as without a window
    assert main(["token", "nothing"], context_factory=no_local_store) == 3
    assert capsys.readouterr().err.startswith("tokendesk: No configuration named 'nothing'")


def test_tokendesk_refresh_asks_the_window(ctx, valid_token, serve, capsys, monkeypatch):
    from desktop.oauth import tokens

    refreshed = []

    def fake_refresh(self, name):
        refreshed.append(name)
        return self.ctx.store.update_state(valid_token.id, has_refresh_token=True,
                                           token_expires_at=utcnow() + timedelta(hours=2))

    monkeypatch.setattr(tokens.TokenService, "refresh", fake_refresh)
    serve(agent.TokenAgent(ctx))
    assert main(["refresh", "support mailbox"], context_factory=no_local_store) == 0
    out = capsys.readouterr().out
    assert out.startswith("Support mailbox: refreshed (valid until ") and "refresh token stored" in out
    assert refreshed == ["Support mailbox"]
    assert main(["refresh", "nothing"], context_factory=no_local_store) == 3


def test_without_a_window_and_with_an_old_or_hung_one_the_command_works_alone(ctx, valid_token, tokendesk_home,
                                                                               capsys, monkeypatch):
    assert main(["token", "Support mailbox"], context_factory=lambda: ctx) == 0  # nobody listens
    assert capsys.readouterr().out == TOKEN + "\n"
    listener = instance.claim(tokendesk_home)
    old = threading.Thread(target=lambda: (listener.setblocking(True), instance.read_command(listener)))
    old.start()
    try:
        assert main(["token", "Support mailbox"], context_factory=lambda: ctx) == 0  # an old window
        assert capsys.readouterr().out == TOKEN + "\n"
        old.join(5)
        monkeypatch.setattr(agent, "ACCEPT_TIMEOUT", 0.3)
        started = time.monotonic()
        assert main(["token", "Support mailbox"], context_factory=lambda: ctx) == 0  # hung: never accepts
        assert time.monotonic() - started < 2.5
        assert capsys.readouterr().out == TOKEN + "\n"
    finally:
        listener.close()


def test_only_one_ask_when_no_window_answers(ctx, valid_token, monkeypatch, capsys):
    asked = []
    real = agent.ask
    monkeypatch.setattr(agent, "ask", lambda *a, **k: asked.append(a) or real(*a, **k))
    assert main(["token", "Support mailbox"], context_factory=lambda: ctx) == 0
    assert len(asked) == 1
    assert main(["token", "--form=raw", "Support mailbox"], context_factory=lambda: ctx) == 0  # argparse path
    assert len(asked) == 2


def test_the_procinfo_walk_names_the_real_program_of_a_command_line_request(ctx, valid_token, serve, tmp_path):
    """A real command line process through ``sh -c``: the window sees its pid and walks up to this test's process."""
    serve(agent.TokenAgent(ctx))
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    proc = subprocess.run(["sh", "-c", f"{sys.executable} -m desktop token 'Support mailbox'; true"],
                          capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert proc.stdout == TOKEN + "\n", proc.stderr
    assert ctx.store.get_state(valid_token.id).last_used_by == procinfo.describe(procinfo.read_process(os.getpid()))


def test_a_command_that_needs_a_secret_gets_the_open_vaults_key_from_the_window(ctx, valid_token, serve,
                                                                                 tokendesk_home):
    """``desktop.cli.common`` hands ``agent.ask_vault_key`` to the vault: with the window's vault open, a command's
    own vault opens without the keyring (or a passphrase); with it closed, the window gives nothing."""
    import keyring
    from keyring.backends import fail

    from desktop.services import open_context

    serve(agent.TokenAgent(ctx))
    vault = ctx.vault
    if vault is None:
        pytest.skip("this secret store has no vault")
    cipher = vault.cipher()
    assert agent.ask_vault_key(tokendesk_home) == (cipher.key_id, cipher.key)
    keyring.set_keyring(fail.Keyring())  # the command's process has no keyring at all
    other = open_context(agent_key=lambda: agent.ask_vault_key(tokendesk_home))
    try:
        assert other.secrets.get_for(valid_token.id, ACCESS_TOKEN) == TOKEN
    finally:
        other.close()
    vault.lock()
    assert agent.ask_vault_key(tokendesk_home) is None


def test_closing_waits_a_bounded_time_and_queued_requests_work_alone(tokendesk_home):
    release = threading.Event()
    started = threading.Event()

    def slow(request, pid):
        started.set()
        release.wait(10)
        return {"ok": True, "token": "late"}

    listener = instance.claim(tokendesk_home)
    server = agent.AgentServer(listener, slow, lambda c: None, workers=1)
    asked: list = []
    askers = [threading.Thread(target=lambda: asked.append(agent.ask({"op": "token", "name": "X"}, tokendesk_home,
                                                                     answer_timeout=10))) for _ in range(2)]
    try:
        for asker in askers:
            asker.start()
        assert accept_when_ready(server, 2) == 2
        assert started.wait(5)
        begun = time.monotonic()
        assert server.close(timeout=0.3) is False  # one still runs
        assert time.monotonic() - begun < 2
        release.set()
        for asker in askers:
            asker.join(10)
        assert sorted(asked, key=lambda a: a is None) == [{"v": 1, "ok": True, "token": "late"}, None]
        assert server.close(timeout=5) is True
    finally:
        release.set()
        listener.close()


def test_refresh_all_asks_the_window_for_each_name(ctx, valid_token, make_config, serve, capsys, monkeypatch):
    from desktop.oauth import tokens

    other = make_config("Sales Gmail", template="Google Mail")
    for cfg in (valid_token, other):
        ctx.store.update_state(cfg.id, has_access_token=True, has_refresh_token=True)
    make_config("Never signed in")  # skipped: no refresh token
    refreshed = []

    def fake_refresh(self, name):
        refreshed.append(name)
        return self.ctx.store.get_state(self.ctx.store.get(name).id)

    monkeypatch.setattr(tokens.TokenService, "refresh", fake_refresh)
    served_by = []
    work = agent.TokenAgent(ctx)
    serve(lambda request, pid: served_by.append(request["name"]) or work(request, pid))
    assert main(["refresh", "--all"], context_factory=lambda: ctx) == 0
    out = capsys.readouterr().out
    assert "Never signed in: skipped (no refresh token" in out
    assert "Sales Gmail: refreshed (" in out and "Support mailbox: refreshed (" in out
    assert sorted(served_by) == sorted(refreshed) == ["Sales Gmail", "Support mailbox"]
