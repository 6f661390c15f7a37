"""Multipart uploads read as they stream in, with per-file limits enforced mid-stream.

Starlette's form parser checks no size of file parts and spools each past 1 MB to a temp
file, so a 40 MB file would be received and written before any handler could refuse it.
:func:`read_form` parses the same multipart stream with a limit per file: the part that
crosses it ends the request with 413 at once, and every file stays in memory (the spool is
larger than the limit, so nothing is ever written to disk).

Example::

    form = await read_form(request, file_limit=5_000_000, max_files=10)
"""

from __future__ import annotations

import logging

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from api._errors import PayloadTooLarge, Unprocessable

logger = logging.getLogger(__name__)

MAX_TEXT_FIELDS = 10
TEXT_FIELD_BYTES = 64 * 1024


class _LimitedParser(MultiPartParser):
    """Starlette's parser with a byte limit per file part, files kept in memory."""

    def __init__(self, request: Request, file_limit: int, max_files: int):
        super().__init__(request.headers, request.stream(), max_files=max_files,
                         max_fields=MAX_TEXT_FIELDS, max_part_size=TEXT_FIELD_BYTES)
        self.spool_max_size = file_limit + 1  # the limit is hit before a rollover to disk
        self.file_limit = file_limit
        self._file_bytes = 0
        self.opened: list[UploadFile] = []  # every file part begun, finished or not

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        if self._current_part.file is not None:
            self.opened.append(self._current_part.file)

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._file_bytes = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current_part
        if part.file is not None:
            self._file_bytes += end - start
            if self._file_bytes > self.file_limit:
                raise PayloadTooLarge(f"evidence {part.file.filename!r} exceeds the limit of "
                                      f"{self.file_limit} bytes (api_upload_max_bytes)")
        super().on_part_data(data, start, end)


async def read_form(request: Request, file_limit: int, max_files: int) -> FormData:
    """The multipart form of ``request``; 413 past a limit, 422 for a malformed body."""
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise Unprocessable("the body must be multipart/form-data (number, business, country "
                            "and evidence files)")
    parser = _LimitedParser(request, file_limit, max_files)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        if exc.message.startswith("Too many files"):
            raise PayloadTooLarge(f"more than {max_files} evidence files "
                                  "(api_upload_max_files)") from exc
        raise Unprocessable(f"multipart body: {exc.message}") from exc
    # A body that ends inside a file part parses without that file: close it here.
    returned = {id(v) for _k, v in form.multi_items()}
    for upload in parser.opened:
        if id(upload) not in returned:
            await upload.close()
    return form
