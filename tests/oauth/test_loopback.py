"""The RFC 8252 loopback listener: pasted redirects (browser on another machine), refusals, time-out, cancel."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

import pytest

from desktop.oauth.errors import Cancelled, SignInTimedOut
from desktop.oauth.loopback import LoopbackListener, authorize_with_system_browser
from desktop.oauth.tokens import TokenService
from tests.oauth.conftest import follow_to_redirect


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_listener_refuses_other_paths_and_foreign_state():
    with LoopbackListener() as listener:
        base = f"http://127.0.0.1:{listener.port}"
        listener.expect("right-state", f"{base}/oauth2/callback")
        assert get(f"{base}/favicon.ico")[0] == 404
        status, page = get(f"{base}/oauth2/callback?code=x&state=wrong-state")
        assert status == 400 and "Sign-in refused" in page
        assert not listener.submit(f"{base}/oauth2/callback?code=x&state=wrong-state")
        assert listener.submit(f"{base}/oauth2/callback?code=x&state=right-state")
        assert listener.wait(1) == f"{base}/oauth2/callback?code=x&state=right-state"
        status, page = get(f"{base}/oauth2/callback?code=y&state=right-state")
        assert status == 409 and "already handled" in page


def test_listener_time_out_and_cancel():
    with LoopbackListener() as listener:
        with pytest.raises(SignInTimedOut):
            listener.wait(0.2)
    with LoopbackListener() as listener:
        threading.Timer(0.1, listener.cancel).start()
        with pytest.raises(Cancelled) as info:
            listener.wait(10)
        assert not isinstance(info.value, SignInTimedOut)


@pytest.mark.realserver
def test_pasted_redirect_from_another_machine(ctx, oauth, server_config):
    cfg = server_config(Browser="system")
    shown: list[str] = []

    def paste(listener: LoopbackListener) -> None:
        # the remote browser ends on http://127.0.0.1:<port>/... which it cannot reach; the admin pastes it
        pasted = follow_to_redirect(shown[0])
        threading.Timer(0.1, listener.submit, args=(pasted,)).start()

    state = authorize_with_system_browser(TokenService(ctx), cfg.name, timeout=20, open_browser=None,
                                          show_url=lambda url, opened: shown.append(url), on_listener=paste)
    assert state.has_access_token and "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in shown[0]
    assert oauth.counters["authorization_code"] == 1
