"""Errors as application/problem+json (RFC 9457), and the mapping of database constraint
violations to the field they concern."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

PROBLEM_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"  # `type` is this plus the code, relative to the API's own address


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One kind of failure a client can tell apart by its `code` alone (never by `detail`)."""

    code: str
    status: int
    title: str
    explanation: str  # what happened and what the client should do


def _slug(status: HTTPStatus) -> str:
    return "_".join(status.phrase.lower().replace("-", " ").split())


_SPECIFIC = [
    ProblemType("bad_request", 400, "Bad request", "The request could not be read (no body,"
                " not UTF-8, not JSON, or a malformed form); fix the request, do not retry it."),
    ProblemType("validation_failed", 422, "Validation failed", "A field was refused; `errors`"
                " lists each field with its message. Show them next to the fields."),
    ProblemType("not_signed_in", 401, "Sign in first", "No bearer token was sent."),
    ProblemType("access_token_invalid", 401, "Access token refused", "The access token is"
                " malformed or expired: exchange the refresh token (POST /v1/auth/refresh) and"
                " retry once."),
    ProblemType("signed_out", 401, "Session ended", "This session was signed out (a logout,"
                " or a refresh token of a session that ended): sign in again."),
    ProblemType("password_changed", 401, "Password changed", "The account's password was"
                " changed elsewhere; sign in again with the new one."),
    ProblemType("session_revoked", 401, "Session revoked", "This session was ended from"
                " another device (DELETE /v1/me/sessions/{id}); sign in again."),
    ProblemType("account_deleted", 401, "Account deleted", "The account was deleted."),
    ProblemType("account_suspended", 401, "Account suspended", "An administrator suspended"
                " the account; its sessions ended."),
    ProblemType("token_reused", 401, "Refresh token reused", "A refresh token was presented"
                " a second time: a copy may be in someone else's hands, so every token of that"
                " session was revoked. Sign in again; consider changing the password."),
    ProblemType("refresh_token_invalid", 401, "Refresh token refused", "The refresh token is"
                " unknown or expired: sign in again."),
    ProblemType("account_inactive", 401, "Account unavailable", "The token's account no"
                " longer exists or is disabled."),
    ProblemType("wrong_login", 401, "Wrong login", "The login or the password is wrong (which"
                " one is not said)."),
    ProblemType("firebase_token_refused", 401, "Firebase token refused", "The Firebase ID"
                " token did not verify; get a fresh one from the Firebase SDK."),
    ProblemType("account_disabled", 403, "Account disabled", "The account is disabled."),
    ProblemType("account_needs_proof", 409, "Account needs proof", "An unverified account"
                " already uses this email: send {id_token, password} to link them."),
    ProblemType("wrong_password", 403, "Wrong password", "The current password (or the ID"
                " token) that confirms this action is wrong or missing."),
    ProblemType("private_account", 403, "Private account", "The account is private and you"
                " do not follow it: offer to follow (PUT /v1/users/{username}/follow)."),
    ProblemType("forbidden", 403, "Forbidden", "You may not do that to this resource."),
    ProblemType("origin_refused", 403, "Origin refused", "Pages from this origin may not call"
                " the API."),
    ProblemType("link_invalid", 400, "Link invalid", "The mailed link is unknown, already used,"
                " expired or replaced by a newer one; ask for a new one."),
    ProblemType("link_expired", 403, "Link expired", "The signed object link or upload form"
                " expired or does not match; ask the API for a new one."),
    ProblemType("not_found", 404, "Not found", "No such resource, or you may not see it."),
    ProblemType("conflict", 409, "Conflict", "The request conflicts with the current state."),
    ProblemType("email_taken", 409, "Email taken", "This email belongs to another account."),
    ProblemType("already_done", 409, "Already done", "The state asked for holds already (an"
                " email verified, a report resolved, an account not suspended)."),
    ProblemType("upload_stale", 409, "Upload stale", "The resource or the upload changed"
                " meanwhile, or the upload was used already; start a new upload."),
    ProblemType("images_changed", 409, "Images changed", "The order sent does not name each"
                " of the post's images once as they are now; read the post and send it again."),
    ProblemType("too_large", 413, "Too large", "The body or the file is over the size"
                " allowed."),
    ProblemType("not_json", 415, "Not JSON", "Send the body as application/json."),
    ProblemType("rate_limited", 429, "Too many requests", "Over this action's rate limit;"
                " wait for Retry-After seconds."),
    ProblemType("too_many_sign_in_attempts", 429, "Too many sign-in attempts", "Too many"
                " failed sign-ins for this account or address; wait for Retry-After seconds."),
    ProblemType("internal", 500, "Internal error", "Something went wrong on our side; the"
                " request id (X-Request-ID) helps us find it."),
    ProblemType("unavailable", 503, "Unavailable", "A service this request needs did not"
                " answer; retry after Retry-After seconds."),
]  # fmt: skip

# Every problem type the API answers with: the specific ones, and one per HTTP error status for
# whatever has no better name (a 405 from the router, say).
PROBLEM_TYPES: dict[str, ProblemType] = {
    **{
        _slug(s): ProblemType(_slug(s), s.value, s.phrase, s.description or s.phrase)
        for s in HTTPStatus
        if s.value >= 400
    },
    **{t.code: t for t in _SPECIFIC},
}
DEFAULT_CODES: dict[int, str] = {
    400: "bad_request", 401: "not_signed_in", 403: "forbidden", 404: "not_found",
    409: "conflict", 413: "too_large", 415: "not_json", 422: "validation_failed",
    429: "rate_limited", 500: "internal", 503: "unavailable",
}  # fmt: skip


def default_code(status: int) -> str:
    if status in DEFAULT_CODES:
        return DEFAULT_CODES[status]
    try:
        return _slug(HTTPStatus(status))
    except ValueError:
        return "internal"


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
        code: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or _reason(status)
        self.errors = errors
        self.headers = headers or {}
        self.code = code if code in PROBLEM_TYPES else default_code(status)
        self.type = PROBLEM_BASE + self.code

    def response(self) -> web.Response:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
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
    return Problem(404, f"No such {what}.", code="not_found")


def forbidden(detail: str = "You may not do that.", code: str = "forbidden") -> Problem:
    return Problem(403, detail, code=code)


def invalid(field: str, message: str, status: int = 422) -> Problem:
    return Problem(
        status,
        f"{field}: {message}",
        title="Validation failed" if status == 422 else None,
        code="validation_failed" if status == 422 else None,
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
