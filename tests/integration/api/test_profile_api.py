from __future__ import annotations

import httpx


async def test_profile_is_created_with_defaults_on_first_read(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/profile")
    assert response.status_code == 200
    profile = response.json()["data"]
    assert profile["display_name"] is None
    assert profile["bash_enabled"] is True
    assert profile["onboarding_completed"] is False


async def test_patch_changes_only_the_given_fields(client: httpx.AsyncClient) -> None:
    await client.patch("/api/v2/profile", json={"display_name": "Kumi", "description": "hi"})
    response = await client.patch("/api/v2/profile", json={"preferences": {"theme": "dark"}})
    profile = response.json()["data"]
    assert profile["display_name"] == "Kumi"
    assert profile["description"] == "hi"
    assert profile["preferences"] == {"theme": "dark"}


async def test_null_clears_a_text_field(client: httpx.AsyncClient) -> None:
    await client.patch("/api/v2/profile", json={"description": "x"})
    response = await client.patch("/api/v2/profile", json={"description": None})
    assert response.json()["data"]["description"] is None


async def test_a_large_data_url_avatar_is_accepted(client: httpx.AsyncClient) -> None:
    avatar = "data:image/png;base64," + "A" * 3_000_000
    response = await client.patch("/api/v2/profile", json={"avatar": avatar})
    assert response.status_code == 200
    assert (await client.get("/api/v2/profile")).json()["data"]["avatar"] == avatar


async def test_unknown_profile_fields_are_a_422(client: httpx.AsyncClient) -> None:
    response = await client.patch("/api/v2/profile", json={"shoe_size": 44})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_a_malformed_json_body_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.patch(
        "/api/v2/profile", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
