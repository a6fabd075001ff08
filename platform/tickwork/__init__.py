"""Tickwork: hosted custom apps whose background jobs run on Eastern-time schedules.

The package lives in the ``platform/`` source folder, which deliberately has no ``__init__.py``:
a package named ``platform`` would shadow the standard library module of that name.
"""

from __future__ import annotations

__version__ = "0.1.0"
