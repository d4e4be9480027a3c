"""A web chat for llmrix runs: one aiohttp.web app serving index.html and relaying AG-UI.

Run a platform (or the dev server, ``llmrix serve``), then::

    python examples/web_chat/app.py --llmrix http://127.0.0.1:8899 --port 8080

and open http://127.0.0.1:8080. The page posts AG-UI ``RunAgentInput`` bodies
to ``/api/agui``; an approval comes back as an interrupt and its answer as the
next request's ``resume``. ``/api/stop`` stops the running turn.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from llmrix import LlmrixClient, LlmrixError, ui

PAGE = Path(__file__).with_name("index.html")
CLIENT = web.AppKey("client", LlmrixClient)


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(PAGE, headers={"Cache-Control": "no-cache"})


async def new_conversation(request: web.Request) -> web.Response:
    conversation = await request.app[CLIENT].conversations.create("Web chat")
    return web.json_response({"id": conversation.id})


def last_user_text(run_input: dict[str, Any]) -> str:
    for message in reversed(run_input.get("messages") or []):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return "continue"


async def run(request: web.Request) -> web.StreamResponse:
    """One AG-UI run: a new turn, or the resumption of a paused one (``resume``)."""
    try:
        run_input = await request.json()
        thread_id = str(run_input["threadId"])
        decisions = ui.agui_decisions(run_input) if run_input.get("resume") else None
    except (ValueError, KeyError, TypeError) as exc:
        return web.json_response({"error": f"bad run input: {exc}"}, status=400)
    chat = request.app[CLIENT].chat(thread_id)
    try:
        async with chat.stream(last_user_text(run_input), hitl_decisions=decisions) as stream:
            return await ui.respond(request, stream, protocol="agui", run_input=run_input)
    except LlmrixError as exc:
        return web.json_response({"error": str(exc)}, status=502)


async def stop(request: web.Request) -> web.Response:
    body = await request.json()
    await request.app[CLIENT].chat(str(body["threadId"])).stop()
    return web.Response(status=204)


def make_app(llmrix_url: str) -> web.Application:
    """The web chat, relaying to the platform at ``llmrix_url`` (key: ``LLMRIX_API_KEY``)."""

    async def client_context(app: web.Application) -> AsyncIterator[None]:
        async with LlmrixClient(llmrix_url) as client:
            app[CLIENT] = client
            yield

    app = web.Application()
    app.cleanup_ctx.append(client_context)
    app.router.add_get("/", index)
    app.router.add_post("/api/conversations", new_conversation)
    app.router.add_post("/api/agui", run)
    app.router.add_post("/api/stop", stop)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="A web chat for llmrix runs (AG-UI)")
    parser.add_argument("--llmrix", default="http://127.0.0.1:8899", help="platform base URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    app = make_app(args.llmrix)
    web.run_app(app, host=args.host, port=args.port, handler_cancellation=True)


if __name__ == "__main__":
    main()
