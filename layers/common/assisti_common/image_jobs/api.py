"""The HTTP routes every image kind shares: create with a presigned upload, get (long-poll), list,
rename, delete. Each kind's output is the common item fields plus its typed result (kinds.py).

The items behind the routes (PynamoDB, S3) are imported by the first request that reaches them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, create_model

from assisti_common import idempotency, lazy
from assisti_common.errors import InvalidCursor, NotFound
from assisti_common.http import CurrentPrincipal, PageCursor, PageLimit, ResourceId, errors
from assisti_common.idempotency import IdempotencyKey
from assisti_common.image_jobs.kinds import KINDS, Kind
from assisti_common.image_jobs.settings import MAX_WAIT_SECONDS, get_image_settings
from assisti_common.image_jobs.storage import IMAGE_TYPES
from assisti_common.text import Text

if TYPE_CHECKING:
    from assisti_common.db.models import ImageItemModel
    from assisti_common.image_jobs import items
else:
    items = lazy.module("assisti_common.image_jobs.items")

Title = Annotated[str, Text(max_length=200, min_length=1)]
ContentType = Literal["image/jpeg", "image/png", "image/webp", "image/bmp", "image/tiff"]
assert set(ContentType.__args__) == set(IMAGE_TYPES)  # type: ignore[attr-defined]


class CreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title
    content_type: ContentType = "image/jpeg"


class RenameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title


class ErrorOut(BaseModel):
    code: str
    message: str


class ImageItemOut(BaseModel):
    id: str
    title: str
    status: Literal["awaiting_upload", "processing", "done", "failed"]
    label: str | None
    confidence: float | None
    error: ErrorOut | None
    image_url: str | None
    created_at: datetime
    updated_at: datetime


class UploadOut(BaseModel):
    url: str
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int


def _model_name(kind: Kind, suffix: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_")) + suffix


def image_job_router(kind: Kind) -> APIRouter:
    """The five routes of one image kind, its output the common fields plus the kind's result."""
    get_image_settings()  # validated at cold start: a bad variable fails here, naming it
    spec = KINDS[kind]
    tag = spec.title
    router = APIRouter(prefix=spec.path, tags=[tag])
    bases: tuple[type[BaseModel], ...] = (ImageItemOut, spec.result)
    item_model = cast(type[BaseModel], create_model(_model_name(kind, "ItemOut"), __base__=bases))
    created_model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        _model_name(kind, "CreatedOut"), item=(item_model, ...), upload=(UploadOut, ...)
    )
    page_model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        _model_name(kind, "PageOut"),
        items=(list[item_model], ...),  # type: ignore[valid-type]
        next_cursor=(str | None, ...),
    )

    def to_out(item: ImageItemModel) -> BaseModel:
        fields: dict[str, Any] = {
            "id": item.item_id,
            "title": item.title,
            "status": item.status,
            "label": item.label,
            "confidence": float(item.confidence) if item.confidence is not None else None,
            "error": {"code": item.error_code, "message": item.error_message or ""} if item.error_code else None,
            "image_url": items.image_url(item),
            "created_at": item.created_at,
            "updated_at": item.updated_at,
        }
        result = spec.result.model_validate(item.result or {})
        out: BaseModel = item_model.model_validate({**fields, **result.model_dump()})
        return out

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        response_model=created_model,
        summary=f"Create a {tag} item and get its presigned upload",
    )
    def create(principal: CurrentPrincipal, body: CreateIn, replay: IdempotencyKey) -> Any:
        """With an Idempotency-Key, a repeat gets the first item and its upload, not a second item."""

        def create_item() -> dict[str, Any]:
            created = items.create(principal, kind, body.title, body.content_type)
            upload = created.upload
            out = created_model(
                item=to_out(created.item),
                upload=UploadOut(
                    url=upload.url, fields=upload.fields, expires_at=upload.expires_at, max_bytes=upload.max_bytes
                ),
            )
            return out.model_dump(mode="json")

        return idempotency.once(principal, replay, f"POST {spec.path}", body.model_dump(mode="json"), create_item)

    @router.get(
        "/{item_id}",
        response_model=item_model,
        summary=f"One {tag} item; ?wait=N long-polls",
        responses=errors(NotFound),
    )
    def get(
        principal: CurrentPrincipal,
        item_id: ResourceId,
        wait: Annotated[int, Query(ge=0, le=MAX_WAIT_SECONDS)] = 0,
    ) -> Any:
        return to_out(items.get(principal, kind, item_id, wait))

    @router.get(
        "", response_model=page_model, summary=f"Your {tag} items, newest first", responses=errors(InvalidCursor)
    )
    def list_items(
        principal: CurrentPrincipal,
        limit: PageLimit = 20,
        cursor: PageCursor = None,
    ) -> Any:
        found, next_cursor = items.list_items(principal, kind, limit, cursor)
        return page_model(items=[to_out(item) for item in found], next_cursor=next_cursor)

    @router.patch("/{item_id}", response_model=item_model, summary=f"Rename a {tag} item", responses=errors(NotFound))
    def rename(principal: CurrentPrincipal, item_id: ResourceId, body: RenameIn) -> Any:
        return to_out(items.rename(principal, kind, item_id, body.title))

    @router.delete(
        "/{item_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary=f"Delete a {tag} item and its image",
        responses=errors(NotFound),
    )
    def delete(principal: CurrentPrincipal, item_id: ResourceId) -> None:
        items.delete(principal, kind, item_id)

    return router
