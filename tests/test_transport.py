"""Client construction, error mapping, retries, timeouts, URLs and secrets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiohttp
import pytest
from _support import ServeApp, acquired
from aiohttp import web

from llmrix import LlmrixClient
from llmrix._pool import CONTROL_HEADROOM
from llmrix.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    LlmrixError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    UnprocessableEntityError,
)

SECRET = "sk-test-VERY-SECRET-123"
CONV = "/api/open/v1/conversations/{id}"
RAW_PATHS = web.AppKey("raw_paths", list)


def status_app(status: int, body: bytes, content_type: str = "application/json") -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, content_type=content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


def test_missing_base_url_is_a_value_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMRIX_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="LLMRIX_BASE_URL"):
        LlmrixClient()


@pytest.mark.parametrize(
    "url", ["ftp://h", "localhost:8899", "http://", "/relative", "http://h?q=1"]
)
def test_bad_base_url_is_a_value_error(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        LlmrixClient(url)


def test_env_fallback_and_repr_hides_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMRIX_BASE_URL", "http://example.test/gw//")
    monkeypatch.setenv("LLMRIX_API_KEY", SECRET)
    client = LlmrixClient()
    assert client.base_url == "http://example.test/gw"
    assert SECRET not in repr(client)
    assert SECRET not in str(vars(client))
    assert client.session is None  # created lazily, inside a running loop


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (409, ConflictError),
        (418, APIError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, ServiceUnavailableError),
    ],
)
async def test_status_mapping_with_json_message(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], status: int, cls: type[APIError]
) -> None:
    client = make_client(
        await serve(status_app(status, b'{"detail": "thing went wrong"}')),
        api_key=SECRET,
        max_retries=0,
    )
    with pytest.raises(cls) as info:
        await client.conversations.get("c1")
    assert type(info.value) is cls
    assert info.value.status_code == status
    assert info.value.message == "thing went wrong"
    assert info.value.body == '{"detail": "thing went wrong"}'
    assert SECRET not in str(info.value) + repr(info.value)
    assert acquired(client) == 0


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b'{"message": "m1", "detail": "d"}', "application/json", "m1"),
        (b'{"error": {"message": "nested"}}', "application/json", "nested"),
        (b'{"msg": "short"}', "application/json", "short"),
        (
            b'{"detail": [{"loc": ["body"], "msg": "field required"}]}',
            "application/json",
            "field required",
        ),
        (b'{"code": 7}', "application/json", '{"code": 7}'),
        (
            b"<html><body>Forbidden</body></html>",
            "text/html",
            "<html><body>Forbidden</body></html>",
        ),
        (b"", "text/plain", "server returned HTTP 403"),
        (b"\xff\xfe bad bytes", "text/plain", "\ufffd\ufffd bad bytes"),
    ],
)
async def test_message_extraction(
    serve: ServeApp,
    make_client: Callable[..., LlmrixClient],
    body: bytes,
    content_type: str,
    message: str,
) -> None:
    client = make_client(await serve(status_app(403, body, content_type)))
    with pytest.raises(AuthenticationError) as info:
        await client.conversations.get("c1")
    assert info.value.message == message


async def test_huge_error_body_is_read_to_1_mib_and_message_cut(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(status_app(400, b"x" * (3 * 1024 * 1024), "text/plain")))
    with pytest.raises(BadRequestError) as info:
        await client.conversations.get("c1")
    assert len(info.value.body) == 1024 * 1024
    assert len(info.value.message) <= 503
    assert acquired(client) == 0


async def test_connection_refused_is_api_connection_error(
    make_client: Callable[..., LlmrixClient],
) -> None:
    client = make_client("http://127.0.0.1:9", max_retries=0)
    with pytest.raises(APIConnectionError) as info:
        await client.conversations.get("c1")
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value, LlmrixError)


async def test_total_timeout_is_api_timeout_error(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"id": "x"})

    app = web.Application()
    app.router.add_get(CONV, slow)
    client = make_client(await serve(app), timeout=0.2, max_retries=0)
    with pytest.raises(APITimeoutError):
        await client.conversations.get("c1")
    assert acquired(client) == 0


def flaky_app(failures: int, status: int, retry_after: str | None = None) -> web.Application:
    calls: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(request.method)
        if len(calls) <= failures:
            headers = {"Retry-After": retry_after} if retry_after else {}
            return web.json_response(
                {"message": f"try {len(calls)}"}, status=status, headers=headers
            )
        return web.json_response({"id": "c1", "title": "ok", "seq": 1})

    app = web.Application()
    app[RAW_PATHS] = calls
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


async def test_get_is_retried_until_success(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("llmrix._retry.RetryPolicy.backoff", lambda self, attempt: 0.01)
    app = flaky_app(2, 502)
    client = make_client(await serve(app))
    conversation = await client.conversations.get("c1")
    assert conversation.title == "ok"
    assert app[RAW_PATHS] == ["GET", "GET", "GET"]


async def test_retries_exhausted_raise_the_real_error(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("llmrix._retry.RetryPolicy.backoff", lambda self, attempt: 0.01)
    app = flaky_app(100, 500)
    client = make_client(await serve(app), max_retries=3)
    with pytest.raises(InternalServerError) as info:
        await client.conversations.get("c1")
    assert info.value.message == "try 4"
    assert len(app[RAW_PATHS]) == 4


async def test_create_is_not_retried_without_retry_after(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    app = flaky_app(1, 503)
    client = make_client(await serve(app))
    with pytest.raises(InternalServerError):
        await client.conversations.create("t")
    assert app[RAW_PATHS] == ["POST"]


async def test_retry_after_lets_a_create_retry_and_is_honoured(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    app = flaky_app(1, 429, retry_after="0.3")
    client = make_client(await serve(app))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.conversations.create("t")
    assert loop.time() - started >= 0.3
    assert app[RAW_PATHS] == ["POST", "POST"]


async def test_decide_is_never_retried(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    from llmrix import HitlDecision

    app = flaky_app(1, 502)
    client = make_client(await serve(app))
    with pytest.raises(InternalServerError):
        await client.chat("c1").decide([HitlDecision.approve()])
    assert app[RAW_PATHS] == ["POST"]


async def test_stop_is_retried(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("llmrix._retry.RetryPolicy.backoff", lambda self, attempt: 0.01)
    app = flaky_app(1, 502)
    client = make_client(await serve(app))
    await client.chat("c1").stop()
    assert app[RAW_PATHS] == ["POST", "POST"]


@pytest.mark.parametrize(
    ("conversation_id", "raw"),
    [
        ("../x", "..%2Fx"),
        ("a/b", "a%2Fb"),
        ("%2F", "%252F"),
        ("?q=1", "%3Fq%3D1"),
        ("#f", "%23f"),
        ("héllo wörld", "h%C3%A9llo%20w%C3%B6rld"),
    ],
)
async def test_ids_are_one_encoded_segment(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], conversation_id: str, raw: str
) -> None:
    seen: list[tuple[str, str]] = []

    async def get(request: web.Request) -> web.Response:
        seen.append((request.raw_path, request.match_info["id"]))
        return web.json_response({"id": request.match_info["id"]})

    app = web.Application()
    app.router.add_get(CONV, get)
    client = make_client(await serve(app))
    conversation = await client.conversations.get(conversation_id)
    assert conversation.id == conversation_id
    assert seen == [(f"/api/open/v1/conversations/{raw}", conversation_id)]


@pytest.mark.parametrize("bad", ["", ".", ".."])
async def test_empty_and_dot_ids_are_value_errors(
    make_client: Callable[..., LlmrixClient], bad: str
) -> None:
    client = make_client("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="invalid path id"):
        await client.conversations.get(bad)
    with pytest.raises(ValueError, match="invalid path id"):
        client.chat(bad)


async def test_base_url_path_prefix_is_kept(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def get(request: web.Request) -> web.Response:
        return web.json_response({"id": request.path})

    app = web.Application()
    app.router.add_get("/gateway/api/open/v1/conversations/{id}", get)
    root = await serve(app)
    for given in ("/gateway/", "/gateway/api/open/v1", "/gateway/api/open/v1/"):
        client = make_client(root + given)
        assert client.base_url == root + "/gateway"
        conversation = await client.conversations.get("c1")
        assert conversation.id == "/gateway/api/open/v1/conversations/c1"


async def test_auth_header_sent_and_never_leaks_to_another_host(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    other_seen: list[str | None] = []

    async def other(request: web.Request) -> web.Response:
        other_seen.append(request.headers.get("Authorization"))
        return web.json_response({"id": "elsewhere"})

    other_app = web.Application()
    other_app.router.add_get("/{tail:.*}", other)
    other_url = (await serve(other_app)).replace("127.0.0.1", "localhost")
    home_seen: list[str | None] = []

    async def home(request: web.Request) -> web.Response:
        home_seen.append(request.headers.get("Authorization"))
        raise web.HTTPFound(other_url + "/landing")

    home_app = web.Application()
    home_app.router.add_get(CONV, home)
    client = make_client(await serve(home_app), api_key=SECRET)
    conversation = await client.conversations.get("c1")
    assert conversation.id == "elsewhere"
    assert home_seen == [f"Bearer {SECRET}"]
    assert other_seen == [None]


async def test_no_auth_header_without_a_key(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMRIX_API_KEY", raising=False)
    seen: list[str | None] = []

    async def get(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"id": "c1"})

    app = web.Application()
    app.router.add_get(CONV, get)
    client = make_client(await serve(app))
    await client.conversations.get("c1")
    assert seen == [None]


async def test_key_never_in_logs_or_errors(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(
        await serve(status_app(401, b'{"message": "nope"}')), api_key=SECRET, max_retries=0
    )
    with pytest.raises(AuthenticationError) as info:
        await client.conversations.get("c1")
    failed = make_client("http://127.0.0.1:9", api_key=SECRET, max_retries=0)
    with pytest.raises(APIConnectionError) as info2:
        await failed.conversations.get("c1")
    everything = caplog.text + str(info.value) + repr(info.value) + str(info2.value)
    assert "nope" in everything
    assert SECRET not in everything


async def test_user_session_is_used_and_not_closed(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    async def get(request: web.Request) -> web.Response:
        return web.json_response({"id": request.headers["X-Trace"]})

    app = web.Application()
    app.router.add_get(CONV, get)
    url = await serve(app)
    async with aiohttp.ClientSession(headers={"X-Trace": "mine"}) as session:
        client = LlmrixClient(url, session=session)
        assert (await client.conversations.get("c1")).id == "mine"
        await client.close()
        assert not session.closed


async def test_closed_client_refuses_calls(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client("http://127.0.0.1:9")
    await client.close()
    with pytest.raises(LlmrixError, match="closed"):
        await client.conversations.get("c1")


async def test_invalid_answer_shape_is_a_clear_error(
    serve: ServeApp, make_client: Callable[..., LlmrixClient]
) -> None:
    client = make_client(await serve(status_app(200, b'{"id": 5}')))
    with pytest.raises(APIResponseValidationError, match=r"Expected `str`, got `int` - at `\$.id`"):
        await client.conversations.get("c1")


async def test_with_options_changes_retries_per_call_and_shares_the_session(
    serve: ServeApp, make_client: Callable[..., LlmrixClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("llmrix._retry.RetryPolicy.backoff", lambda self, attempt: 0.01)
    app = flaky_app(3, 502)
    client = make_client(await serve(app), max_retries=0)
    with pytest.raises(InternalServerError):
        await client.conversations.get("c1")
    patient = client.with_options(max_retries=5, headers={"X-Extra": "1"})
    assert (await patient.conversations.get("c1")).title == "ok"
    assert len(app[RAW_PATHS]) == 4
    assert patient.session is client.session
    with pytest.raises(TypeError, match="bogus"):
        client.with_options(bogus=1)
    with pytest.raises(ValueError, match="max_retries"):
        client.with_options(max_retries=-1)


async def test_max_connections_sets_the_pool_size(make_client: Callable[..., LlmrixClient]) -> None:
    client = make_client("http://127.0.0.1:9", max_connections=7)
    session = client._transport.pool.session()
    assert session.connector is not None
    assert session.connector.limit == 7 + CONTROL_HEADROOM


def test_repr_and_base_url_hide_credentials_and_keep_the_encoded_prefix() -> None:
    client = LlmrixClient("http://user:pw@example.test/gw%2Fx/")
    assert client.base_url == "http://example.test/gw%2Fx"
    assert "pw" not in repr(client)
    assert "pw" not in repr(client.options)
    assert client._transport.url(("conversations", "c")).raw_path == (
        "/gw%2Fx/api/open/v1/conversations/c"
    )


def test_with_options_refuses_base_url() -> None:
    client = LlmrixClient("http://example.test")
    with pytest.raises(TypeError, match="base_url"):
        client.with_options(base_url="http://other.test")
