"""Shared fixtures. `small_kit`: a real kit (2 pages per register, fixed kit id), built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL_KIT_ID = "TESTKIT2"


@pytest.fixture(scope="session")
def small_kit(tmp_path_factory: pytest.TempPathFactory):
    """papier.kit.KitResult of a kit built on the built-in samples with 2 pages per register."""
    from papier.kit import build_kit

    out = tmp_path_factory.mktemp("small_kit") / "kit"
    return build_kit(Path(out), pages_per_register=2, kit_id=SMALL_KIT_ID, commune="Commune de test")
