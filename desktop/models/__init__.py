"""Domain model: plain classes (dataclasses, NamedTuples, ``record.Record``) and pure functions (no Qt), plus the
thin Qt item models that adapt them (the ``*_model.py`` modules, the only ones here that import PySide6)."""
