"""HomeLayout names the folders of KUMIAI_HOME."""

from __future__ import annotations

from pathlib import Path

from kumiai.infrastructure.filesystem.home import HomeLayout


def test_folders_live_under_home(tmp_path: Path) -> None:
    layout = HomeLayout(tmp_path)
    assert layout.characters_dir == tmp_path / "characters"
    assert layout.skills_dir == tmp_path / "skills"
    assert layout.projects_dir == tmp_path / "projects"
    assert layout.pgdata_dir == tmp_path / "pgdata"
    assert layout.uploads_dir == tmp_path / "uploads"
    assert layout.imports_dir == tmp_path / "imports"
