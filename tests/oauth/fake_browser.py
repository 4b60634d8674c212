"""A tiny stand-in for a web browser, for $BROWSER in the system-browser tests.

Usage: python fake_browser.py URL. Follows the redirects (authorization server -> loopback
listener) like a browser would, then writes "<status>\n<final url>\n<page>" to the file named by
$FAKE_BROWSER_OUT (if set). With $FAKE_BROWSER_REWRITE="old=>new" it first replaces text in
the final redirect (to play an attacker's or a stale tab's redirect).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.parse
import urllib.request


class _Stop(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


def main() -> int:
    url = sys.argv[1]
    rewrite = os.environ.get("FAKE_BROWSER_REWRITE", "")
    opener = urllib.request.build_opener(_Stop)
    status, body = 0, b""
    for _ in range(10):
        try:
            with opener.open(url, timeout=90) as resp:
                status, body = resp.status, resp.read()
                break
        except urllib.error.HTTPError as exc:
            location = exc.headers.get("Location")
            if exc.code in (301, 302, 303, 307, 308) and location:
                url = urllib.parse.urljoin(url, location)
                if rewrite and url.startswith("http://127.0.0.1") and "/authorize" not in url:
                    old, new = rewrite.split("=>", 1)
                    url = url.replace(old, new)
                continue
            status, body = exc.code, exc.read()
            break
        except OSError as exc:
            status, body = -1, str(exc).encode()
            break
    out = os.environ.get("FAKE_BROWSER_OUT")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(f"{status}\n{url}\n{body.decode('utf-8', 'replace')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
