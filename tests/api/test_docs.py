"""OpenAPI and Swagger UI work without internet access; /healthz needs no credentials."""

import httpx


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
        "description": "`Token <api token>` or `Bearer <api token>`",
    }
    assert spec["paths"]["/api/v1alpha/projects"]["get"]["security"] == [{"api_token": []}]


async def test_healthz_needs_no_credentials(anon: httpx.AsyncClient) -> None:
    response = await anon.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
