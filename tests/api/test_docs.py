"""OpenAPI and Swagger UI work without internet access; /healthz needs no credentials."""

from pathlib import Path

import httpx

from blockpost.app import create_app
from blockpost.config import Settings
from blockpost.db import migrate
from blockpost.db.engine import Database


async def test_swagger_ui_is_served_from_local_assets(anon: httpx.AsyncClient) -> None:
    page = await anon.get("/swagger")
    assert page.status_code == 200
    assert "/swagger/assets/swagger-ui-bundle.js" in page.text
    assert "/swagger/assets/swagger-ui.css" in page.text
    assert "cdn" not in page.text.lower()
    script = await anon.get("/swagger/assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert len(script.content) > 100_000
    slash = await anon.get("/swagger/", follow_redirects=True)
    assert slash.status_code == 200


async def test_openapi_documents_the_token_header(anon: httpx.AsyncClient) -> None:
    spec = (await anon.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["api_token"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "The API token: paste it alone, "
        "or as `Token <api token>` or `Bearer <api token>`",
    }
    assert spec["paths"]["/api/v1alpha/projects"]["get"]["security"] == [{"api_token": []}]


async def test_healthz_needs_no_credentials(anon: httpx.AsyncClient) -> None:
    response = await anon.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_says_ready_on_a_current_schema(anon: httpx.AsyncClient) -> None:
    response = await anon.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "schema_revision": migrate.head_revision()}


async def test_readyz_is_503_until_the_schema_is_upgraded(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    old = Database(url)
    await migrate.upgrade(old, "0001")
    await old.dispose()
    app = create_app(Settings(database_url=url, data_dir=tmp_path / "data", secret_key="k"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        response = await client.get("/readyz")
    await app.state.db.dispose()
    assert response.status_code == 503
    assert "blockpost db upgrade" in response.json()["message"]
