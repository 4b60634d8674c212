"""What ``@dataclass`` gave the two classes every start reads (``TokenConfiguration``, ``TokenState``), without
``dataclasses`` on the window's start path: importing it and generating the two classes' methods cost ~20M
instructions (~2% of the start to the first paint). Each class writes its own ``__init__`` (the 10,000-row table
load calls it per row: straight-line code, as fast as the generated one); this gives the rest.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self


class Record:
    """Equality over ``_compared``, a repr over ``_fields``, and ``replace(**changes)``; unhashable (mutable), as a
    dataclass with ``eq`` is."""

    __slots__ = ()
    #: every ``__init__`` argument, in order
    _fields: ClassVar[tuple[str, ...]] = ()
    #: the fields equality compares
    _compared: ClassVar[tuple[str, ...]] = ()
    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self._compared)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({fields})"

    def replace(self, **changes: Any) -> Self:
        """A new object with ``changes`` over this one's fields (``dataclasses.replace``)."""
        unknown = sorted(set(changes) - set(self._fields))
        if unknown:
            raise TypeError(f"{type(self).__qualname__} has no field {', '.join(unknown)}")
        values = {name: getattr(self, name) for name in self._fields}
        values.update(changes)
        return type(self)(**values)
