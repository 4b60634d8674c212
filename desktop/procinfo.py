"""Which program asked for a token: from a process id to the program behind it (Linux ``/proc``). No Qt.

``tokendesk token NAME`` is rarely typed; it is run by msmtp's ``passwordeval``, mbsync's
``PassCmd``, getmail's ``password_command`` - usually through ``sh -c "tokendesk token X"``. The
process that asks is therefore the Tokendesk command line itself, whose parent may be a shell
that only runs that one command. ``requesting_program(pid)`` walks up from ``pid`` past

* the Tokendesk command (a Python interpreter running ``-m desktop`` or the ``tokendesk`` script) and
* non-interactive shells started as ``sh -c ...`` / ``bash -lc ...``

and names the first other program by its executable (``/proc/PID/exe``), e.g. ``/usr/bin/msmtp``.
An interpreter running a script is named with the script (``/usr/bin/python3.11 /usr/bin/getmail``);
an interactive shell stays as it is (``/usr/bin/bash``: the admin typed the command). A process of
another user (its ``exe`` is not readable) is named by its ``argv[0]``. ``''`` when nothing is known
(not Linux, the process is gone).
"""

from __future__ import annotations

import os

#: how far up the walk goes (tokendesk -> sh -c -> sh -c -> program is 3)
MAX_HOPS = 8
#: longest description kept (a script path can be long)
MAX_LENGTH = 300

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ksh93", "mksh", "ash", "busybox", "yash", "posh",
                    "rbash", "fish", "tcsh", "csh"})
#: interpreters named together with the script they run
_INTERPRETER_PREFIXES = ("python", "pypy", "perl", "ruby", "node", "php", "lua", "tclsh")


class Process:
    """What /proc says about one process (only what the walk needs)."""

    def __init__(self, pid: int, exe: str, argv: list[str], ppid: int) -> None:
        self.pid = pid
        self.exe = exe
        self.argv = argv
        self.ppid = ppid

    @property
    def name(self) -> str:
        """The executable's base name (``python3.11``), or argv[0]'s when the executable is unknown."""
        return os.path.basename(self.exe or (self.argv[0] if self.argv else ""))

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Process({self.pid}, {self.exe!r}, {self.argv!r}, ppid={self.ppid})"


def read_process(pid: int) -> Process | None:
    """``None`` when the process is gone (or this is not Linux)."""
    base = f"/proc/{pid}"
    try:
        with open(f"{base}/stat", "rb") as fh:
            stat = fh.read()
        with open(f"{base}/cmdline", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'
    try:
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
    except (ValueError, IndexError):
        ppid = 0
    argv = [part.decode("utf-8", "replace") for part in raw.split(b"\0")]
    if argv and argv[-1] == "":
        argv.pop()
    try:
        exe = os.readlink(f"{base}/exe")
    except OSError:  # another user's process (or a kernel thread): only its argv[0] is known
        exe = ""
    if exe.endswith(" (deleted)"):  # the binary was replaced by an update while it ran
        exe = exe[: -len(" (deleted)")]
    return Process(pid, exe, argv, ppid)


def is_tokendesk_command(proc: Process) -> bool:
    """The Tokendesk command line: a Python interpreter running ``-m desktop`` or the ``tokendesk`` script."""
    if proc.name in ("tokendesk", "tokendesk.py"):
        return True
    if not proc.name.startswith(("python", "pypy")):
        return False
    kind, value = _first_operand(proc.argv[1:], _PYTHON)
    if kind == "module":
        return value == "desktop"
    return kind == "script" and os.path.basename(value) in ("tokendesk", "tokendesk.py")


def is_shell_command(proc: Process) -> bool:
    """A shell started only to run a command string (``sh -c "..."``, ``bash -lc "..."``): not interactive."""
    argv0 = os.path.basename(proc.argv[0]).lstrip("-") if proc.argv else ""
    if proc.name not in SHELLS and argv0 not in SHELLS:
        return False
    return _first_operand(proc.argv[1:], _SHELL)[0] == "code"


def describe(proc: Process) -> str:
    """``/usr/bin/msmtp``; an interpreter with its script (``/usr/bin/python3.11 /usr/bin/getmail``)."""
    program = proc.exe or (proc.argv[0] if proc.argv else "")
    name = proc.name
    syntax = _SHELL if name in SHELLS else _PYTHON if name.startswith(("python", "pypy")) else (
        _OTHER if name.startswith(_INTERPRETER_PREFIXES) else None)
    if syntax is not None:
        kind, value = _first_operand(proc.argv[1:], syntax)
        if kind == "script":
            program = f"{program} {value}"
        elif kind == "module":
            program = f"{program} -m {value}"
    return program[:MAX_LENGTH]


class _Syntax:
    """How an interpreter's options read: which take a value, which introduce code or a module."""

    def __init__(self, valued: tuple[str, ...], code: tuple[str, ...], module: str = "",
                 clustered_code: bool = False) -> None:
        self.valued = valued
        self.code = code
        self.module = module
        #: shells: "-c" may come in a cluster ("-lc", "-ec")
        self.clustered_code = clustered_code


_PYTHON = _Syntax(valued=("-X", "-W", "--check-hash-based-pycs"), code=("-c",), module="-m")
_SHELL = _Syntax(valued=("-o", "+o", "-O", "+O", "--rcfile", "--init-file"), code=("-c",), clustered_code=True)
_OTHER = _Syntax(valued=("-r", "--require", "-I"), code=("-e", "-E", "-p", "--eval", "--print"))


def _first_operand(args: list[str], syntax: _Syntax) -> tuple[str, str]:
    """("script", path) | ("module", name) | ("code", "") | ("", "") for an interpreter's arguments."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            return ("script", args[index + 1]) if index + 1 < len(args) else ("", "")
        if syntax.module and arg.startswith(syntax.module):
            value = arg[len(syntax.module):] or (args[index + 1] if index + 1 < len(args) else "")
            return "module", value
        if arg in syntax.code or (syntax.clustered_code and arg[:1] == "-" and arg[1:2] != "-" and "c" in arg[1:]):
            return "code", ""
        if arg in syntax.valued:
            index += 2
            continue
        if arg[:1] in ("-", "+") and arg != "-":
            index += 1
            continue
        return "script", arg
    return "", ""


def requesting_program(pid: int) -> str:
    """The program that asked for the token, walking up from ``pid`` (see the module docstring)."""
    for _ in range(MAX_HOPS):
        if pid <= 0:
            return ""
        proc = read_process(pid)
        if proc is None:
            return ""
        if pid > 1 and (is_tokendesk_command(proc) or is_shell_command(proc)):
            pid = proc.ppid
            continue
        return describe(proc)
    return ""
