"""Safe, bounded YAML reading and a deterministic YAML writer for the backup files.

Reading (``reader.load_yaml``) is PyYAML's *safe* loading only - libyaml's ``CSafeLoader`` when
PyYAML was built with it, the pure-Python ``SafeLoader`` otherwise - with these guards, each
checked before the data reaches the rest of the program:

* size: at most ``MAX_FILE_BYTES`` (32 MiB), checked before parsing (and, for files, before
  reading: see ``reader.read_limited``). 10,000 configurations of the Microsoft template are about
  28 MB; Znuny exports are usually a few KB.
* binary data: NUL bytes, or bytes that are not UTF-8 (a UTF-8 byte-order mark is allowed).
* expansion ("billion laughs" alias bombs, however spelled: block or flow, ``"k":*a``, aliases as
  keys, ``<<`` merge keys, anchored long texts): every value is counted while it is read, an alias
  at the full size of what it repeats, and the file is refused at the first value past
  ``MAX_NODES`` values or ``MAX_TEXT_BYTES`` bytes of text; an alias inside its own anchor is
  refused too. The limits admit any plain file under the size limit.
* one value longer than ``MAX_VALUE_CHARS`` characters, a number over about 1,000 digits, and a
  value SafeLoader's constructors cannot build ("2024-13-45", "!!int x") are refused with their line.
* a key twice in one mapping (also ``'URL'`` and ``URL``, or two ``<<`` merged mappings that both
  have it) is refused with its line: YAML would silently keep the last one. A key written next to
  ``<<`` still overrides the merged one, as YAML defines.
* nesting: libyaml refuses more than 1000 levels; anything that still exhausts Python's
  recursion is reported as "nested too deeply".

There are three reading paths and each keeps every guard, in the same words: ``lines.py``
(plain block style, line by line; it reads only files it can prove inside the limits and hands
anything to refuse to the next path, which names the line), ``events.py`` (the parser's events)
and ``nodes.py`` (the node graph, for explicit tags, merge keys and keys that are not text; it
measures the graph in document order before building anything, so both stop at the same value).
``reader.py`` reads the file and tries them in that order; ``loader.py`` is what they share (the
safe loader, scalar construction, parser errors in words); ``limits.py`` holds the limits (``MAX_*``,
read when a reader starts) and every refusal's words (``YamlReadError``).

The values are built by ``SafeConstructor``'s own per-tag constructors through a flat builder
(tests check it gives exactly what ``yaml.safe_load`` gives, apart from the refusals above); with the
garbage collector paused and resolved tags cached it is about twice as fast as ``yaml.safe_load`` on
large files. Files in the plain block style the writer writes (and ``yaml.safe_dump`` writes) are
read line by line (each distinct line split once, about four times as fast again).

Writing (``writer.dump_records``) emits block-style YAML in a fixed key order chosen by the caller,
so the same data always gives the same bytes. Plain scalars are used where they read back as
the same string; everything else is quoted the way PyYAML quotes it.
"""
