"""Errors as application/problem+json (RFC 9457), and the mapping of database constraint
violations to the field they concern."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

PROBLEM_TYPE = "application/problem+json"


class Problem(Exception):
    """Raise from anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str = "",
        *,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        type_: str = "about:blank",
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or _reason(status)
        self.errors = errors
        self.headers = headers or {}
        self.type = type_

    def response(self) -> web.Response:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return web.Response(
            status=self.status,
            body=orjson.dumps(body),
            content_type=PROBLEM_TYPE,
            headers=self.headers,
        )


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def not_found(what: str = "resource") -> Problem:
    return Problem(404, f"No such {what}.")


def forbidden(detail: str = "You may not do that.") -> Problem:
    return Problem(403, detail)


def invalid(field: str, message: str, status: int = 422) -> Problem:
    return Problem(
        status,
        f"{field}: {message}",
        title="Validation failed" if status == 422 else None,
        errors=[{"field": field, "message": message}],
    )


def from_validation_error(exc: ValidationError, *, where: str = "body") -> Problem:
    errors = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or where
        errors.append({"field": loc, "message": err["msg"]})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return Problem(422, detail, title="Validation failed", errors=errors)


# constraint name -> (status, field, message). Unique violations become 409, checks 422.
CONSTRAINTS: dict[str, tuple[int, str, str]] = {
    "users_email_key": (409, "email", "is already registered"),
    "users_username_key": (409, "username", "is already taken"),
    "users_firebase_uid_key": (409, "firebase_uid", "is already linked to another account"),
    "users_username_format": (422, "username", "must be 3-30 letters, digits, '_' or '.'"),
    "users_email_format": (422, "email", "is not an email address"),
    "users_display_name_length": (422, "display_name", "must be at most 60 characters"),
    "users_bio_length": (422, "bio", "must be at most 500 characters"),
    "style_profiles_budget_range": (422, "budget_max", "must not be below budget_min"),
    "user_profiles_birth_date_range": (422, "birth_date", "must be in the past"),
    "garments_price_nonnegative": (422, "price", "must not be negative"),
    "outfit_items_garment_fkey": (422, "items", "may only hold your own garments"),
    "outfit_items_garment_once": (422, "items", "lists a garment twice"),
    "outfit_items_pkey": (422, "items", "has two items at one position"),
    "outfit_items_slot_valid": (422, "items", "names an unknown slot"),
    "outfit_items_position_range": (422, "items", "positions must be 0-31"),
    "outfits_occasion_valid": (422, "occasion", "is not an occasion"),
    "garments_name_length": (422, "name", "must be 1-120 characters"),
    "garments_category_valid": (422, "category", "is not a category"),
    "garments_pattern_valid": (422, "pattern", "is not a pattern"),
    "garments_formality_range": (422, "formality", "must be between 1 and 5"),
    "garments_warmth_range": (422, "warmth", "must be between 1 and 5"),
    "garments_seasons_valid": (422, "seasons", "lists an unknown season"),
    "posts_outfit_id_fkey": (422, "outfit_id", "is not an outfit"),
    "follows_no_self_follow": (422, "username", "you cannot follow yourself"),
    "avatars_one_primary_key": (409, "is_primary", "you already have a primary avatar"),
}


def from_constraint(name: str | None) -> Problem | None:
    if name and name in CONSTRAINTS:
        status, field, message = CONSTRAINTS[name]
        return invalid(field, message, status)
    return None
