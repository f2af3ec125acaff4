"""Property-based run of the OpenAPI schema (schemathesis): no input gives a 5xx.

Equivalent command against a running server::

    schemathesis run http://127.0.0.1:8000/openapi.json -H "Authorization: Bearer $KEY" \\
        --checks not_a_server_error --max-examples 25
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from audio_detect_service.main import create_app  # noqa: E402
from audio_detect_service.security import create_key  # noqa: E402
from audio_detect_service.settings import Settings  # noqa: E402
from audio_detect_service.store import Store  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

_STATE: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tiny_gmm_dir, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('st') / 'audit.db'}"
    store = Store(url)
    store.migrate()
    _, key = create_key(store, name="schemathesis", scopes=["analyze", "read"])
    store.close()
    _STATE["key"] = key
    app = create_app(
        Settings(_env_file=None, model=str(tiny_gmm_dir), models_dir=tiny_gmm_dir.parent,
                 database_url=url, rate_limit_per_minute=100_000, max_upload_bytes=256 * 1024)
    )  # fmt: skip
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_5xx(api_schema):
    """Every operation, a bounded number of generated requests each, authenticated."""
    from hypothesis import given

    headers = {"Authorization": f"Bearer {_STATE['key']}"}
    failures: list[str] = []
    n_ops = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        n_ops += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case):
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.text[:300]}")
            elif response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error"} and body["error"]["code"], body

        check()
    assert n_ops >= 8
    assert not failures, failures
