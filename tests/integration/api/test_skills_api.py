from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.core.config import Settings
from tests.factories.definitions import make_skill, recorded_events

URL = "/api/v2/skills"


def skill_folder(settings: Settings, slug: str) -> Path:
    return settings.home / "skills" / slug


def front_matter(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1])
    return loaded


# ---------------------------------------------------------------- create and read


async def test_create_writes_skill_md_and_returns_its_body(
    client: httpx.AsyncClient, settings: Settings, connection: AsyncConnection
) -> None:
    response = await client.post(
        URL,
        json={
            "name": "PDF Tools",
            "description": "Read and fill PDFs",
            "tags": ["docs"],
            "content": "# PDF\n\nUse pdftotext.",
        },
    )

    assert response.status_code == 201
    skill = response.json()["data"]
    assert skill["slug"] == "pdf-tools"
    assert skill["content"] == "# PDF\n\nUse pdftotext."
    assert skill["file_path"] == str(skill_folder(settings, "pdf-tools"))
    path = skill_folder(settings, "pdf-tools") / "SKILL.md"
    assert front_matter(path) == {
        "name": "PDF Tools",
        "description": "Read and fill PDFs",
        "tags": ["docs"],
        "icon": "zap",
        "icon_color": "#4A90E2",
        "license": "MIT",
    }
    events = await recorded_events(connection)
    assert events[-1][0] == "skill_created"
    assert events[-1][1]["skill_id"] == skill["id"]


async def test_get_accepts_the_id_or_the_slug_and_includes_the_body(
    client: httpx.AsyncClient,
) -> None:
    skill = await make_skill(client, name="Haiku", content="Five, seven, five.")

    by_id = (await client.get(f"{URL}/{skill['id']}")).json()["data"]
    by_slug = (await client.get(f"{URL}/haiku")).json()["data"]

    assert by_id == by_slug == skill
    assert by_slug["content"] == "Five, seven, five."


@pytest.mark.parametrize("ref", ["nothing", "00000000-0000-0000-0000-000000000000"])
async def test_an_unknown_skill_is_a_404(client: httpx.AsyncClient, ref: str) -> None:
    assert (await client.get(f"{URL}/{ref}")).status_code == 404
    assert (await client.patch(f"{URL}/{ref}", json={"icon": "x"})).status_code == 404
    assert (await client.delete(f"{URL}/{ref}")).status_code == 404
    assert (await client.get(f"{URL}/{ref}/files")).status_code == 404
    assert (await client.get(f"{URL}/{ref}/files/a.txt")).status_code == 404
    assert (await client.put(f"{URL}/{ref}/files/a.txt", json={"content": ""})).status_code == 404


async def test_slug_clashes(client: httpx.AsyncClient) -> None:
    first = await make_skill(client, name="Git")
    second = await make_skill(client, name="Git")
    explicit = await client.post(URL, json={"name": "Other", "slug": "git"})

    assert (first["slug"], second["slug"]) == ("git", "git-2")
    assert explicit.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "Ok", "slug": "-bad-"},
        {"name": "Ok", "icon_color": "#12345"},
        {"name": "Ok", "tags": "not-a-list"},
        {"name": "Ok", "colour": "#123456"},
    ],
)
async def test_invalid_input_is_a_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post(URL, json=body)
    assert response.status_code == 422


async def test_pages_hold_every_row_once_even_with_inserts_between_requests(
    client: httpx.AsyncClient,
) -> None:
    original = {(await make_skill(client))["id"] for _ in range(7)}
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(URL, params=params)).json()
        seen += [row["id"] for row in body["data"]]
        pages += 1
        await make_skill(client)
        cursor = body["meta"]["next_cursor"]
        if not body["meta"]["has_more"]:
            break

    assert pages > 2
    assert len(seen) == len(set(seen))
    assert original <= set(seen)


async def test_list_filters_by_tag_and_free_text(client: httpx.AsyncClient) -> None:
    await make_skill(client, name="Excel", tags=["office"], description="Spreadsheets")
    await make_skill(client, name="Word", tags=["office"], description="Letters")
    await make_skill(client, name="Shell", tags=["dev"], description="Scripts_and_more")

    async def names(**params: str) -> list[str]:
        return [row["name"] for row in (await client.get(URL, params=params)).json()["data"]]

    assert await names(tag="office") == ["Excel", "Word"]
    assert await names(q="sheet") == ["Excel"]
    assert await names(q="s_a") == ["Shell"]
    assert await names(q="_") == ["Shell"]
    assert await names(tag="dev", q="excel") == []


async def test_list_items_carry_no_body(client: httpx.AsyncClient) -> None:
    await make_skill(client, content="long instructions")
    row = (await client.get(URL)).json()["data"][0]
    assert "content" not in row


# ---------------------------------------------------------------- update and delete


async def test_patch_rewrites_the_front_matter_and_keeps_the_body(
    client: httpx.AsyncClient, settings: Settings, connection: AsyncConnection
) -> None:
    await make_skill(client, name="Maps", content="Draw maps.")
    path = skill_folder(settings, "maps") / "SKILL.md"

    response = await client.patch(f"{URL}/maps", json={"description": "Cartography", "tags": []})

    assert response.status_code == 200
    assert response.json()["data"]["description"] == "Cartography"
    assert response.json()["data"]["content"] == "Draw maps."
    assert front_matter(path)["description"] == "Cartography"
    assert path.read_text().endswith("\nDraw maps.\n")
    assert (await recorded_events(connection))[-1][0] == "skill_updated"


async def test_patch_with_content_replaces_the_body(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_skill(client, name="Chess", content="Old.")
    response = await client.patch(f"{URL}/chess", json={"content": "New rules."})

    assert response.json()["data"]["content"] == "New rules."
    assert (skill_folder(settings, "chess") / "SKILL.md").read_text().endswith("\nNew rules.\n")


@pytest.mark.parametrize("changes", [{"name": None}, {"description": None}, {"slug": "x"}])
async def test_patch_with_invalid_changes_is_a_422(
    client: httpx.AsyncClient, changes: dict[str, Any]
) -> None:
    await make_skill(client, name="Poker")
    assert (await client.patch(f"{URL}/poker", json=changes)).status_code == 422


async def test_delete_hides_the_row_and_moves_the_folder_aside(
    client: httpx.AsyncClient, settings: Settings, connection: AsyncConnection
) -> None:
    await make_skill(client, name="Go")

    assert (await client.delete(f"{URL}/go")).status_code == 204
    assert (await client.get(f"{URL}/go")).status_code == 404
    assert (skill_folder(settings, "go.deleted") / "SKILL.md").is_file()
    assert (await recorded_events(connection))[-1][0] == "skill_deleted"


# ---------------------------------------------------------------- files


async def test_files_are_listed_flat_and_recursively(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_skill(client, name="Files")
    folder = skill_folder(settings, "files")
    (folder / "scripts").mkdir()
    (folder / "scripts" / "run.py").write_text("print('hi')\n")

    response = await client.get(f"{URL}/files/files")

    assert response.status_code == 200
    entries = {entry["path"]: entry for entry in response.json()["data"]}
    assert set(entries) == {"SKILL.md", "scripts", "scripts/run.py"}
    assert entries["scripts"]["is_directory"] is True
    assert entries["scripts/run.py"]["size"] == len("print('hi')\n")


async def test_text_and_binary_files_round_trip(
    client: httpx.AsyncClient, settings: Settings, connection: AsyncConnection
) -> None:
    await make_skill(client, name="Assets")
    binary = bytes(range(256))

    text_write = await client.put(
        f"{URL}/assets/files/docs/deep/notes.md", json={"content": "héllo"}
    )
    binary_write = await client.put(
        f"{URL}/assets/files/logo.bin",
        json={"content": base64.b64encode(binary).decode(), "encoding": "base64"},
    )

    assert text_write.status_code == binary_write.status_code == 200
    folder = skill_folder(settings, "assets")
    assert (folder / "docs" / "deep" / "notes.md").read_text() == "héllo"
    assert (folder / "logo.bin").read_bytes() == binary
    text = (await client.get(f"{URL}/assets/files/docs/deep/notes.md")).json()["data"]
    assert text == {
        "path": "docs/deep/notes.md",
        "content": "héllo",
        "size": len("héllo".encode()),
        "encoding": "utf-8",
    }
    raw = (await client.get(f"{URL}/assets/files/logo.bin")).json()["data"]
    assert raw["encoding"] == "base64"
    assert base64.b64decode(raw["content"]) == binary
    assert raw["size"] == 256
    events = await recorded_events(connection)
    assert [event for event, _ in events[-2:]] == ["skill_updated", "skill_updated"]
    assert events[-1][1]["written"] == "logo.bin"


async def test_writing_skill_md_resyncs_the_row(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_skill(client, name="Yoga")
    text = "---\nname: Yoga Flow\ndescription: Stretch\ntags: [health]\n---\n\nBreathe.\n"

    response = await client.put(f"{URL}/yoga/files/SKILL.md", json={"content": text})

    assert response.status_code == 200
    skill = (await client.get(f"{URL}/yoga")).json()["data"]
    assert (skill["name"], skill["description"], skill["tags"]) == (
        "Yoga Flow",
        "Stretch",
        ["health"],
    )
    assert skill["content"] == "Breathe."
    assert (skill_folder(settings, "yoga") / "SKILL.md").read_text() == text


@pytest.mark.parametrize(
    "body",
    [
        {"content": "---\nname: [broken\n---\n"},
        {"content": "---\ndescription: no name\n---\n"},
        {"content": base64.b64encode(b"\xff\xfe").decode(), "encoding": "base64"},
    ],
)
async def test_a_bad_skill_md_is_a_422_and_writes_nothing(
    client: httpx.AsyncClient, settings: Settings, body: dict[str, str]
) -> None:
    await make_skill(client, name="Tennis")
    path = skill_folder(settings, "tennis") / "SKILL.md"
    before = path.read_text()

    response = await client.put(f"{URL}/tennis/files/./SKILL.md", json=body)

    assert response.status_code == 422
    assert path.read_text() == before


async def test_invalid_base64_is_a_422(client: httpx.AsyncClient) -> None:
    await make_skill(client, name="Golf")
    response = await client.put(
        f"{URL}/golf/files/x.bin", json={"content": "!!!", "encoding": "base64"}
    )
    assert response.status_code == 422


async def test_files_can_be_deleted_but_not_skill_md(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_skill(client, name="Darts")
    await client.put(f"{URL}/darts/files/sub/a.txt", json={"content": "a"})

    assert (await client.delete(f"{URL}/darts/files/sub")).status_code == 204
    assert not (skill_folder(settings, "darts") / "sub").exists()
    response = await client.delete(f"{URL}/darts/files/SKILL.md")
    assert response.status_code == 422
    assert (skill_folder(settings, "darts") / "SKILL.md").is_file()


async def test_missing_files_are_a_404(client: httpx.AsyncClient) -> None:
    await make_skill(client, name="Judo")
    assert (await client.get(f"{URL}/judo/files/none.txt")).status_code == 404
    assert (await client.delete(f"{URL}/judo/files/none.txt")).status_code == 404


async def test_a_folder_cannot_be_read_as_a_file(client: httpx.AsyncClient) -> None:
    await make_skill(client, name="Sumo")
    await client.put(f"{URL}/sumo/files/dir/a.txt", json={"content": "a"})
    assert (await client.get(f"{URL}/sumo/files/dir")).status_code == 422


# Raw paths, so that the server receives exactly these bytes (httpx would otherwise
# collapse a literal "..").
TRAVERSALS = [
    ("%2e%2e%2f%2e%2e%2fsecret.txt", "../../secret.txt"),
    ("sub/%2e%2e/%2e%2e/secret.txt", "sub/../../secret.txt"),
    ("..%2fsecret.txt", "../secret.txt"),
    ("%2Fetc%2Fpasswd", "/etc/passwd"),
    ("a%5c..%5csecret.txt", "a\\..\\secret.txt"),
]


@pytest.mark.parametrize(("raw", "received"), TRAVERSALS)
async def test_paths_leaving_the_folder_are_a_400(
    client: httpx.AsyncClient, settings: Settings, raw: str, received: str
) -> None:
    await make_skill(client, name="Vault")
    secret = settings.home / "skills" / "secret.txt"
    secret.write_text("top secret")
    base = f"http://localhost{URL}/vault/files/"

    responses = [
        await client.send(client.build_request("GET", httpx.URL(base + raw))),
        await client.send(
            client.build_request("PUT", httpx.URL(base + raw), json={"content": "pwned"})
        ),
        await client.send(client.build_request("DELETE", httpx.URL(base + raw))),
    ]

    for response in responses:
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "path_not_allowed"
        assert response.json()["error"]["details"]["path"] == received
    assert secret.read_text() == "top secret"


async def test_a_literal_dot_dot_is_collapsed_by_the_client_not_passed_on(
    client: httpx.AsyncClient,
) -> None:
    # Documents why the traversal tests above percent-encode their dots.
    request = client.build_request("GET", f"{URL}/vault/files/../../secret.txt")
    assert request.url.path == f"{URL}/secret.txt"


async def test_symlinks_leading_out_of_the_folder_are_a_400(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    await make_skill(client, name="Links")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    folder = skill_folder(settings, "links")
    (folder / "door").symlink_to(outside, target_is_directory=True)
    (folder / "key.txt").symlink_to(outside / "secret.txt")

    read_through_dir = await client.get(f"{URL}/links/files/door/secret.txt")
    read_link = await client.get(f"{URL}/links/files/key.txt")
    write_through_dir = await client.put(f"{URL}/links/files/door/new.txt", json={"content": "x"})
    delete_through_dir = await client.delete(f"{URL}/links/files/door/secret.txt")

    for response in (read_through_dir, read_link, write_through_dir, delete_through_dir):
        assert response.status_code == 400, response.text
    assert (outside / "secret.txt").read_text() == "top secret"
    assert not (outside / "new.txt").exists()
    listed = {entry["path"] for entry in (await client.get(f"{URL}/links/files")).json()["data"]}
    assert listed == {"SKILL.md"}


async def test_the_skill_endpoints_are_documented(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(paths["/api/v2/skills/{ref}/files/{path}"]) == {"get", "put", "delete"}
    assert "400" in paths["/api/v2/skills/{ref}/files/{path}"]["get"]["responses"]
