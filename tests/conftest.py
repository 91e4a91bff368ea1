"""Shared fixtures: the bundled mirrors served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaltimnews.mirror import MirrorServer, bundled_mirror, serve_mirror


@pytest.fixture(scope="session")
def suarakaltim_mirror() -> Iterator[MirrorServer]:
    """The bundled SuaraKaltim mirror, read-only, shared by the whole session."""
    with serve_mirror(bundled_mirror("suarakaltim")) as server:
        yield server


@pytest.fixture
def suarakaltim_mirror_copy(tmp_path: Path) -> Iterator[tuple[Path, MirrorServer]]:
    """A private copy of the SuaraKaltim mirror that a test may change, and its server."""
    root = tmp_path / "mirror"
    shutil.copytree(bundled_mirror("suarakaltim"), root)
    with serve_mirror(root) as server:
        yield root, server
