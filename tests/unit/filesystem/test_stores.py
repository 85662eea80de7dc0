"""The folder stores behind the DefinitionFiles and ProjectFiles ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from kumiai.application.ports.files import DefinitionFiles, ProjectFiles
from kumiai.core.exceptions import (
    ConflictError,
    NotFoundError,
    PathNotAllowedError,
    PayloadTooLargeError,
    ValidationError,
)
from kumiai.infrastructure.filesystem.stores import DefinitionFolderStore, ProjectFolderStore


@pytest.fixture
def skills(tmp_path: Path) -> DefinitionFolderStore:
    store = DefinitionFolderStore(tmp_path / "skills", "SKILL.md", kind="skill", max_read_bytes=64)
    store.write_main("seo", "---\nname: SEO\n---\nbody\n")
    return store


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "code" / "shop"
    ProjectFolderStore().create_project_dir(str(folder))
    return folder


def test_stores_satisfy_the_ports(skills: DefinitionFolderStore) -> None:
    definition_port: DefinitionFiles = skills
    project_port: ProjectFiles = ProjectFolderStore()
    assert definition_port.exists("seo")
    assert project_port is not None


# ---------------------------------------------------------------- definitions


def test_main_document_is_written_and_read_back(skills: DefinitionFolderStore) -> None:
    assert skills.read_main("seo") == "---\nname: SEO\n---\nbody\n"
    assert Path(skills.folder("seo")).is_absolute()
    assert skills.exists("seo")
    assert not skills.exists("other")


def test_extra_files_are_written_listed_read_and_deleted(skills: DefinitionFolderStore) -> None:
    skills.write_file("seo", "reference/guide.md", b"guide")
    assert skills.read_file("seo", "reference/guide.md") == b"guide"
    assert sorted(entry.path for entry in skills.list_files("seo")) == [
        "SKILL.md",
        "reference",
        "reference/guide.md",
    ]
    skills.delete_file("seo", "reference/guide.md")
    skills.delete_file("seo", "reference")
    assert [entry.path for entry in skills.list_files("seo")] == ["SKILL.md"]


@pytest.mark.parametrize("rel", ["SKILL.md", "./SKILL.md", "reference/../SKILL.md"])
def test_main_document_cannot_be_deleted(skills: DefinitionFolderStore, rel: str) -> None:
    with pytest.raises(ValidationError, match=r"SKILL\.md cannot be deleted"):
        skills.delete_file("seo", rel)
    assert skills.read_main("seo")


def test_main_document_cannot_be_renamed_away(skills: DefinitionFolderStore) -> None:
    with pytest.raises(ValidationError, match="cannot be renamed"):
        skills.rename_file("seo", "SKILL.md", "OLD.md")


def test_deleting_a_symlink_removes_the_link_not_its_target(
    skills: DefinitionFolderStore,
) -> None:
    folder = Path(skills.folder("seo"))
    skills.write_file("seo", "real.md", b"r")
    (folder / "alias.md").symlink_to(folder / "real.md")
    skills.delete_file("seo", "alias.md")
    assert (folder / "real.md").read_bytes() == b"r"
    assert not (folder / "alias.md").is_symlink()


def test_files_are_renamed_into_new_folders(skills: DefinitionFolderStore) -> None:
    skills.write_file("seo", "a.md", b"a")
    skills.rename_file("seo", "a.md", "docs/b.md")
    assert skills.read_file("seo", "docs/b.md") == b"a"
    with pytest.raises(NotFoundError):
        skills.read_file("seo", "a.md")


def test_rename_refuses_existing_targets_missing_sources_and_self_nesting(
    skills: DefinitionFolderStore,
) -> None:
    skills.write_file("seo", "docs/a.md", b"a")
    skills.write_file("seo", "b.md", b"b")
    with pytest.raises(ConflictError):
        skills.rename_file("seo", "b.md", "docs/a.md")
    with pytest.raises(NotFoundError):
        skills.rename_file("seo", "nope.md", "c.md")
    with pytest.raises(ValidationError, match="into itself"):
        skills.rename_file("seo", "docs", "docs/inner")


def test_soft_delete_renames_the_folder_with_a_free_suffix(
    skills: DefinitionFolderStore, tmp_path: Path
) -> None:
    first = skills.delete_folder("seo")
    skills.write_main("seo", "again")
    second = skills.delete_folder("seo")
    skills.write_main("seo", "third time")
    third = skills.delete_folder("seo")
    assert [Path(p).name for p in (first, second, third)] == [
        "seo.deleted",
        "seo.deleted.2",
        "seo.deleted.3",
    ]
    assert (tmp_path / "skills" / "seo.deleted" / "SKILL.md").exists()
    assert not skills.exists("seo")


def test_list_slugs_returns_live_folders_only(
    skills: DefinitionFolderStore, tmp_path: Path
) -> None:
    skills.write_main("alpha", "a")
    skills.write_main("gone", "g")
    skills.delete_folder("gone")
    root = tmp_path / "skills"
    (root / ".hidden").mkdir()
    (root / "stray.txt").write_text("x")
    (root / "linked").symlink_to(tmp_path, target_is_directory=True)
    assert skills.list_slugs() == ["alpha", "seo"]


def test_list_slugs_of_a_missing_root_is_empty(tmp_path: Path) -> None:
    assert DefinitionFolderStore(tmp_path / "none", "agent.md").list_slugs() == []


@pytest.mark.parametrize("slug", ["", "..", ".hidden", "a/b", "x.deleted", "x.deleted.2", "a\\b"])
def test_malformed_slugs_are_rejected(skills: DefinitionFolderStore, slug: str) -> None:
    with pytest.raises(PathNotAllowedError):
        skills.folder(slug)


def test_slug_linking_to_a_sibling_folder_is_rejected(
    skills: DefinitionFolderStore, tmp_path: Path
) -> None:
    (tmp_path / "skills" / "twin").symlink_to(tmp_path / "skills" / "seo")
    with pytest.raises(PathNotAllowedError, match="link"):
        skills.read_main("twin")


@pytest.mark.parametrize("rel", ["../other/SKILL.md", "/etc/passwd", "", "a\x00b"])
def test_file_paths_outside_the_folder_are_rejected(
    skills: DefinitionFolderStore, rel: str
) -> None:
    with pytest.raises(PathNotAllowedError):
        skills.read_file("seo", rel)
    with pytest.raises(PathNotAllowedError):
        skills.write_file("seo", rel, b"x")
    with pytest.raises(PathNotAllowedError):
        skills.delete_file("seo", rel)


@pytest.mark.parametrize("rel", [".", "reference/.."])
def test_the_folder_itself_cannot_be_deleted_as_a_file(
    skills: DefinitionFolderStore, rel: str
) -> None:
    with pytest.raises(PathNotAllowedError, match="names a folder"):
        skills.delete_file("seo", rel)


def test_missing_definitions_and_files_are_not_found(skills: DefinitionFolderStore) -> None:
    with pytest.raises(NotFoundError, match="skill not found: nope"):
        skills.read_main("nope")
    with pytest.raises(NotFoundError, match="skill not found"):
        skills.list_files("nope")
    with pytest.raises(NotFoundError, match="skill not found"):
        skills.delete_folder("nope")
    with pytest.raises(NotFoundError, match=r"file not found: missing\.md"):
        skills.read_file("seo", "missing.md")
    with pytest.raises(NotFoundError, match="file not found"):
        skills.delete_file("seo", "missing.md")


def test_reads_above_the_cap_are_refused(skills: DefinitionFolderStore) -> None:
    skills.write_file("seo", "big.bin", b"x" * 65)
    skills.write_file("seo", "fits.bin", b"x" * 64)
    with pytest.raises(PayloadTooLargeError, match="64-byte"):
        skills.read_file("seo", "big.bin")
    assert len(skills.read_file("seo", "fits.bin")) == 64


def test_default_read_cap_is_ten_megabytes(tmp_path: Path) -> None:
    store = DefinitionFolderStore(tmp_path, "agent.md")
    store.write_main("a", "x")
    store.write_file("a", "big.bin", b"\0" * (10 * 1024 * 1024 + 1))
    with pytest.raises(PayloadTooLargeError):
        store.read_file("a", "big.bin")


def test_directories_cannot_be_read_or_overwritten(skills: DefinitionFolderStore) -> None:
    skills.write_file("seo", "docs/a.md", b"a")
    with pytest.raises(ValidationError, match="not a regular file"):
        skills.read_file("seo", "docs")
    with pytest.raises(ValidationError, match="a folder exists"):
        skills.write_file("seo", "docs", b"x")


def test_writing_below_a_file_is_a_validation_error(skills: DefinitionFolderStore) -> None:
    skills.write_file("seo", "a.md", b"a")
    with pytest.raises(ValidationError, match="cannot write"):
        skills.write_file("seo", "a.md/b.md", b"b")


def test_main_document_that_is_not_utf8_is_reported(skills: DefinitionFolderStore) -> None:
    skills.write_file("seo", "SKILL.md", b"\xff\xfe")
    with pytest.raises(ValidationError, match="not UTF-8"):
        skills.read_main("seo")


# ---------------------------------------------------------------- projects


def test_project_dir_is_created_with_parents_and_may_exist(project: Path) -> None:
    assert project.is_dir()
    ProjectFolderStore().create_project_dir(str(project))


def test_project_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValidationError, match="not a folder"):
        ProjectFolderStore().create_project_dir(str(tmp_path / "file"))
    with pytest.raises(ValidationError, match="cannot create"):
        ProjectFolderStore().create_project_dir(str(tmp_path / "file" / "below"))


@pytest.mark.parametrize("path", ["", "relative/dir", ".", "/tmp/a\x00b", "~no-such-user-here/x"])
def test_project_paths_must_be_absolute_and_clean(path: str) -> None:
    # "." is a folder that exists: it is refused all the same.
    with pytest.raises(PathNotAllowedError):
        ProjectFolderStore().create_project_dir(path)


def test_project_md_is_created_once_and_then_kept(project: Path) -> None:
    store = ProjectFolderStore()
    assert store.write_project_md(str(project), "Shop", "Sell things.")
    assert (project / "PROJECT.md").read_text() == "# Shop\n\n## Goal\n\nSell things.\n"
    assert not store.write_project_md(str(project), "Renamed", "")
    assert (project / "PROJECT.md").read_text().startswith("# Shop")


def test_project_md_without_description_is_just_a_title(tmp_path: Path) -> None:
    store = ProjectFolderStore()
    store.write_project_md(str(tmp_path), "Shop", "  ")
    assert (tmp_path / "PROJECT.md").read_text() == "# Shop\n"


def test_project_files_accept_relative_and_absolute_paths_inside(project: Path) -> None:
    store = ProjectFolderStore()
    store.write_file(str(project), "src/app.py", b"print(1)")
    assert store.read_file(str(project), str(project / "src" / "app.py")) == b"print(1)"
    assert [e.path for e in store.list_files(str(project))] == ["src", "src/app.py"]
    store.delete_file(str(project), str(project / "src"))
    assert store.list_files(str(project)) == []


def test_project_files_outside_the_project_are_refused(project: Path, tmp_path: Path) -> None:
    store = ProjectFolderStore()
    with pytest.raises(PathNotAllowedError):
        store.read_file(str(project), "../../outside.txt")
    with pytest.raises(PathNotAllowedError):
        store.write_file(str(project), str(tmp_path / "x.txt"), b"x")


def test_missing_project_folder_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="project folder not found"):
        ProjectFolderStore().list_files(str(tmp_path / "gone"))


def test_project_reads_are_capped(project: Path) -> None:
    store = ProjectFolderStore(max_read_bytes=3)
    store.write_file(str(project), "a.txt", b"abcd")
    with pytest.raises(PayloadTooLargeError):
        store.read_file(str(project), "a.txt")
