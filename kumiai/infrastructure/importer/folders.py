"""Character and skill folders in the v2 home: written by an import, removed by its undo."""

from __future__ import annotations

import shutil
from pathlib import Path

from kumiai.core.exceptions import PathNotAllowedError
from kumiai.infrastructure.filesystem.atomic import atomic_write_bytes, atomic_write_text
from kumiai.infrastructure.filesystem.documents import AGENT_FORMAT, SKILL_FORMAT
from kumiai.infrastructure.filesystem.home import HomeLayout
from kumiai.infrastructure.filesystem.paths import confine
from kumiai.infrastructure.importer.plan import DefinitionFolder


def folder_path(layout: HomeLayout, folder: DefinitionFolder) -> Path:
    root = layout.characters_dir if folder.kind == "character" else layout.skills_dir
    return root / folder.folder


def write_definition_folder(layout: HomeLayout, folder: DefinitionFolder) -> list[str]:
    """Write the main document and the extra files; return the extra files refused.

    An extra file is refused when its path would leave the folder (only possible with
    a hand-edited export) or would replace the converted main document.
    """
    directory = folder_path(layout, folder)
    directory.mkdir(parents=True, exist_ok=True)
    document_format = AGENT_FORMAT if folder.kind == "character" else SKILL_FORMAT
    main_name, main_text = document_format.file_name, document_format.render(folder.document)
    refused = []
    for relative, data in folder.extra_files.items():
        try:
            target = confine(directory, relative)
        except PathNotAllowedError:
            refused.append(relative)
            continue
        if target == directory.resolve() / main_name:
            refused.append(relative)
            continue
        atomic_write_bytes(target, data)
    atomic_write_text(directory / main_name, main_text)
    return refused


def remove_folder(path: Path) -> None:
    """Delete a folder this import created (a missing folder is not an error)."""
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
