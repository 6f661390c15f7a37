"""The reference for ``bench/api_bench.py``: the smallest FastAPI endpoint, served by the same
uvicorn settings as the API (``uvicorn bench._minimal_app:app``)."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}
