"""Shared fixtures. `small_kit`: a real kit (2 pages per register, fixed kit id), built once per session;
`small_disk`: real small filesystems, to fill up."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SMALL_KIT_ID = "TESTKIT2"


@pytest.fixture(scope="session")
def small_kit(tmp_path_factory: pytest.TempPathFactory):
    """papier.kit.KitResult of a kit built on the built-in samples with 2 pages per register."""
    from papier.kit import build_kit

    out = tmp_path_factory.mktemp("small_kit") / "kit"
    return build_kit(Path(out), pages_per_register=2, kit_id=SMALL_KIT_ID, commune="Commune de test")


@pytest.fixture(scope="session")
def first_versions_kit(tmp_path_factory: pytest.TempPathFactory):
    """A small kit of every built-in form at version 1, as kits printed before session 19 hold (pages in a safe
    are read back for years): the tests written on those layouts keep testing them."""
    from papier.forms import builtin_versions
    from papier.kit import build_kit

    base = tmp_path_factory.mktemp("v1_kit")
    recipe = base / "v1.toml"
    regs = "".join(f'\n[[registers]]\nform = "{name}"\nversion = 1\npages = 2\n' for name in builtin_versions())
    recipe.write_text(f'format = "papier.kit/1"\nname = "v1"\ntitle = "Kit de secours papier"\n{regs}',
                      encoding="utf-8")
    return build_kit(base / "kit", recipe=str(recipe), kit_id="TESTKITA", commune="Commune de test")


@pytest.fixture
def small_disk(tmp_path: Path):
    """mount(size) → a folder on a real tmpfs of that size ("2m"), to fill up; unmounted after the test. Mounting
    needs root: the test is skipped where it cannot."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        mnt = tmp_path / f"disk{len(mounted)}"
        mnt.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True,
                           text=True)
        if r.returncode != 0:
            pytest.skip(f"no tmpfs here (mount needs root): {r.stderr.strip()[:200]}")
        mounted.append(mnt)
        return mnt

    yield mount
    for mnt in mounted:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill_up(folder: Path) -> Path:
    """Fill the disk of `folder` to the last byte with one file (delete it to make room again)."""
    junk = folder / "junk.bin"
    fd = os.open(junk, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 1 << 12, 1):
            block = bytes(size)
            try:
                while True:
                    os.write(fd, block)
            except OSError:
                pass
    finally:
        os.close(fd)
    return junk
