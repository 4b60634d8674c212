"""The transcript of a mail-server connection test: what was said, recorded and redacted.

``Transcript`` keeps the lines of one conversation (bounded) as they were said and redacts them at
the end (``finish``): each run of consecutive lines of one side as one text, with every secret known
by then (``desktop/usage/redact.py``), so a token a server wraps over several reply lines is found
too. The recording clients are the stdlib's (imaplib, poplib, smtplib) with small mixins that
record each line they send and receive, and tell the transcript about each TCP connection as soon as
it exists (a ``Cancellation`` watches it). The conversations themselves: ``mail_sessions.py``.
"""

from __future__ import annotations

import imaplib
import poplib
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from desktop.usage.redact import Redactor

MAX_TRANSCRIPT_LINES = 400
MAX_LINE_CHARS = 1000
#: what is kept of a line until it is redacted (a server cannot make the transcript hold megabytes)
MAX_RAW_LINE_CHARS = 16 * MAX_LINE_CHARS
EHLO_NAME = "localhost"  # never socket.getfqdn(): a DNS wait on machines without one


@dataclass
class TranscriptLine:
    direction: str  # "C" client, "S" server, "*" note from Tokendesk
    text: str

    def __str__(self) -> str:
        return f"{self.direction}: {self.text}"


class Transcript:
    """Redacted lines of one conversation (bounded).

    Lines are kept as they were said until ``finish``, which redacts each run of consecutive lines of
    one side (client, server, notes) as one text with the secrets known by then - a token the server
    wraps over several lines is found as a whole - and only then cuts long lines. A line's ``prefix``
    (an SMTP reply code) is not part of its text, so the text of continued reply lines joins up.
    """

    def __init__(self, redactor: Redactor, on_connect: Callable[[socket.socket], None] | None = None) -> None:
        self.redactor = redactor
        self.lines: list[TranscriptLine] = []
        #: (direction, prefix, text, characters cut off) said since the last finish, not redacted yet
        self._said: list[tuple[str, str, str, int]] = []
        self._dropped = 0
        #: told about each TCP connection as soon as it exists (a Cancellation watches it)
        self.on_connect = on_connect

    def connected(self, sock: socket.socket) -> socket.socket:
        if self.on_connect is not None:
            self.on_connect(sock)
        return sock

    def _add(self, direction: str, text: str, prefix: str = "") -> None:
        if len(self.lines) + len(self._said) >= MAX_TRANSCRIPT_LINES:
            self._dropped += 1
            return
        text = text.rstrip("\r\n")
        cut = max(0, len(text) - MAX_RAW_LINE_CHARS)
        self._said.append((direction, prefix, text[:MAX_RAW_LINE_CHARS] if cut else text, cut))

    def client(self, data: bytes | str) -> None:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        for line in text.rstrip("\r\n").split("\r\n"):
            self._add("C", line)

    def server(self, data: bytes | str, prefix: str = "") -> None:
        self._add("S", data.decode("utf-8", "replace") if isinstance(data, bytes) else data, prefix)

    def note(self, text: str) -> None:
        self._add("*", text)

    def finish(self) -> list[TranscriptLine]:
        said, self._said = self._said, []
        start = 0
        while start < len(said):
            end = start
            while end < len(said) and said[end][0] == said[start][0]:
                end += 1
            run = said[start:end]
            for (direction, prefix, _, cut), text in zip(run, self.redactor.redact_lines([t for _, _, t, _ in run]),
                                                         strict=True):
                text = prefix + text
                more = max(0, len(text) - MAX_LINE_CHARS) + cut
                if more:
                    text = text[:MAX_LINE_CHARS] + f" ... ({more} more characters)"
                self.lines.append(TranscriptLine(direction, text))
            start = end
        if self._dropped:
            self.lines.append(TranscriptLine("*", f"({self._dropped} more lines not shown)"))
            self._dropped = 0
        return self.lines


# ---- recording clients: mixins record each line the stdlib client sends and receives
class _IMAPRecorder:
    _transcript: Transcript

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = self._transcript.connected(imaplib.IMAP4._create_socket(self, timeout))  # type: ignore[arg-type]
        if isinstance(self, imaplib.IMAP4_SSL):
            return self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        return sock

    def send(self, data: bytes) -> None:
        if data != b"\r\n":  # imaplib sends the CRLF after a continuation answer separately
            self._transcript.client(data)
        super().send(data)  # type: ignore[misc]

    def readline(self) -> bytes:
        line: bytes = super().readline()  # type: ignore[misc]
        if line:
            self._transcript.server(line)
        return line


class RecordingIMAP(_IMAPRecorder, imaplib.IMAP4):
    def __init__(self, transcript: Transcript, host: str, port: int, timeout: float) -> None:
        self._transcript = transcript
        super().__init__(host, port, timeout=timeout)


class RecordingIMAPS(_IMAPRecorder, imaplib.IMAP4_SSL):
    def __init__(self, transcript: Transcript, host: str, port: int, timeout: float,
                 context: ssl.SSLContext) -> None:
        self._transcript = transcript
        super().__init__(host, port, ssl_context=context, timeout=timeout)


class _POP3Recorder:
    _transcript: Transcript

    def _create_socket(self, timeout: float) -> socket.socket:
        sock = self._transcript.connected(poplib.POP3._create_socket(self, timeout))  # type: ignore[arg-type]
        if isinstance(self, poplib.POP3_SSL):
            return self.context.wrap_socket(sock, server_hostname=self.host)
        return sock

    def _putline(self, line: bytes) -> None:
        self._transcript.client(line)
        super()._putline(line)  # type: ignore[misc]

    def _getline(self) -> tuple[bytes, int]:
        line, octets = super()._getline()  # type: ignore[misc]
        self._transcript.server(line)
        return line, octets


class RecordingPOP3(_POP3Recorder, poplib.POP3):
    def __init__(self, transcript: Transcript, host: str, port: int, timeout: float) -> None:
        self._transcript = transcript
        super().__init__(host, port, timeout=timeout)


class RecordingPOP3S(_POP3Recorder, poplib.POP3_SSL):
    def __init__(self, transcript: Transcript, host: str, port: int, timeout: float,
                 context: ssl.SSLContext) -> None:
        self._transcript = transcript
        super().__init__(host, port, timeout=timeout, context=context)


_ENHANCED_STATUS = re.compile(rb"[245]\.\d{1,3}\.\d{1,3} ")


class _SMTPRecorder:
    _transcript: Transcript

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = self._transcript.connected(smtplib.SMTP._get_socket(self, host, port, timeout))  # type: ignore[arg-type]
        if isinstance(self, smtplib.SMTP_SSL):
            return self.context.wrap_socket(sock, server_hostname=self._host)
        return sock

    def send(self, s: bytes | str) -> None:
        self._transcript.client(s)
        super().send(s)  # type: ignore[misc]

    def getreply(self) -> tuple[int, bytes]:
        code, msg = super().getreply()  # type: ignore[misc]
        lines = msg.split(b"\n") if msg else [b""]
        for i, line in enumerate(lines):
            prefix = f"{code}{'-' if i < len(lines) - 1 else ' '}"
            status = _ENHANCED_STATUS.match(line)  # "5.7.8 ", repeated on every line of a reply
            if status:
                prefix += status.group().decode("ascii")
                line = line[status.end():]
            self._transcript.server(line, prefix)
        return code, msg


class RecordingSMTP(_SMTPRecorder, smtplib.SMTP):
    def __init__(self, transcript: Transcript, host: str, port: int, timeout: float) -> None:
        self._transcript = transcript
        super().__init__(host, port, local_hostname=EHLO_NAME, timeout=timeout)


class RecordingSMTPS(_SMTPRecorder, smtplib.SMTP_SSL):
    def __init__(self, transcript: Transcript, host: str, port: int, timeout: float,
                 context: ssl.SSLContext) -> None:
        self._transcript = transcript
        super().__init__(host, port, local_hostname=EHLO_NAME, timeout=timeout, context=context)
