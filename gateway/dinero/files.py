"""Dinero's file archive: uploading a PDF or image, and listing archived files with the
vouchers each is linked to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Self
from uuid import UUID

from gateway.dinero.jsonmoney import ObjectReader
from gateway.dinero.pages import MAX_PAGE_SIZE, list_of, page_params
from gateway.dinero.transport import Transport, api_path

FileStatus = Literal["All", "Used", "Unused"]


@dataclass(frozen=True, kw_only=True)
class FileLink:
    """A voucher a file is attached to (`FileLinkReadModel`)."""

    voucher_guid: UUID
    voucher_id: int | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(voucher_guid=f.uuid("VoucherGuid"), voucher_id=f.integer_or_none("VoucherId"))


@dataclass(frozen=True, kw_only=True)
class ArchivedFile:
    """`FilteredFileReadModel`: a file in the organisation's archive and its vouchers.
    `uploaded_at` is kept as Dinero wrote it (its time zone is not documented)."""

    file_guid: str | None  # a plain string in Dinero's schema, not a UUID
    name: str | None
    extension: str | None
    size: int | None
    uploaded_at: str | None
    linked: tuple[FileLink, ...]

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            file_guid=f.text_or_none("FileGuid"),
            name=f.text_or_none("Name"),
            extension=f.text_or_none("Extension"),
            size=f.integer_or_none("Size"),
            uploaded_at=f.text_or_none("UploadedAt"),
            linked=tuple(FileLink.from_json(item) for item in f.items("Linked")),
        )


class FileCalls(Transport):
    async def upload_file(self, org: int, filename: str, content: bytes, content_type: str) -> str:
        """Stores a PDF or image (at most 6 MB) in the file archive; answers its `FileGuid`,
        which Dinero types as a plain string (its example is no UUID). It may take Dinero a
        second before the file can be attached to anything."""
        files = {"file": (filename, content, content_type)}
        return await self._call(
            "POST",
            api_path(org, "files"),
            lambda data: ObjectReader(data).text("FileGuid"),
            files=files,
        )

    async def list_files(
        self,
        org: int,
        *,
        file_status: FileStatus = "All",
        extensions: Sequence[str] = (),
        uploaded_after: dt.date | None = None,
        uploaded_before: dt.date | None = None,
        page: int = 0,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[ArchivedFile]:
        """Archived files, each with the vouchers it is linked to."""
        params = page_params(page, page_size) | {"fileStatus": file_status}
        if extensions:
            params["extensions"] = ",".join(extensions)
        if uploaded_after is not None:
            params["uploadedAfter"] = uploaded_after.strftime("%Y/%m/%d")
        if uploaded_before is not None:
            params["uploadedBefore"] = uploaded_before.strftime("%Y/%m/%d")
        path = api_path(org, "files")
        return await self._call("GET", path, list_of(ArchivedFile.from_json), params=params)
