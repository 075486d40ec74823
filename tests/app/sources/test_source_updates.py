"""PATCH /api/v1/sources/{id}: a field sent as null is refused with a clear error, never a 500."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("field", ["options", "name", "interval_seconds", "enabled", "media"])
@pytest.mark.parametrize("kind", ["push", "rss"])
def test_null_for_a_field_that_cannot_be_empty_is_a_validation_error(
    client, write_headers, field: str, kind: str, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from app.core import urls

    monkeypatch.setattr(urls, "resolve", lambda host: [urls.ipaddress.ip_address("93.184.216.34")])
    body: dict[str, object] = {"name": f"{kind}-source", "kind": kind, "options": {}}
    if kind != "push":
        body["url"] = "https://feeds.example/rss"
    created = client.post("/api/v1/sources", json=body, headers=write_headers)
    assert created.status_code == 201, created.text
    before = created.json()
    response = client.patch(f"/api/v1/sources/{before['id']}", json={field: None}, headers=write_headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in str(error["details"])
    after = client.get(f"/api/v1/sources/{before['id']}", headers=write_headers).json()
    assert after == before  # nothing changed


def test_options_can_still_be_cleared_and_a_push_source_url_stays_absent(client, write_headers) -> None:  # type: ignore[no-untyped-def]
    created = client.post("/api/v1/sources", json={"name": "p", "kind": "push"}, headers=write_headers).json()
    cleared = client.patch(f"/api/v1/sources/{created['id']}", json={"options": {}}, headers=write_headers)
    assert cleared.status_code == 200 and cleared.json()["options"] == {}
    no_url = client.patch(f"/api/v1/sources/{created['id']}", json={"url": None}, headers=write_headers)
    assert no_url.status_code == 200 and no_url.json()["url"] is None
