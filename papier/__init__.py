"""papier: emergency paper registers for a French town hall, and the way back from paper to data."""

from __future__ import annotations

__version__ = "0.1.0"
