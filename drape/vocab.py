"""The fixed vocabularies of the product, shared by validation, the schema and the workers.
The database CHECK constraints in migrations/ list the same values (tests/test_vocab.py compares
them with the live schema)."""

from __future__ import annotations

SEASONS = ("spring", "summer", "autumn", "winter")
# Occasion -> (lowest, highest) garment formality (1-5) that reads right for it. The keys are the
# occasions an outfit can be tagged with, a style profile can list and recommendations can be
# asked for: one list for the API, the database CHECKs and the recommender.
OCCASION_FORMALITY: dict[str, tuple[int, int]] = {
    "casual": (1, 3),
    "work": (3, 4),
    "party": (2, 4),
    "date": (2, 4),
    "sport": (1, 2),
    "formal": (4, 5),
    "travel": (1, 3),
    "outdoor": (1, 2),
    "lounge": (1, 2),
    "beach": (1, 2),
}
OCCASIONS = tuple(OCCASION_FORMALITY)
FITS = ("slim", "regular", "relaxed", "oversized")
BODY_SHAPES = ("hourglass", "pear", "apple", "rectangle", "inverted_triangle", "athletic")
STYLE_ARCHETYPES = (
    "minimalist",
    "classic",
    "casual",
    "streetwear",
    "sporty",
    "bohemian",
    "romantic",
    "edgy",
    "preppy",
    "business",
)
COLOR_FAMILIES = (
    "black",
    "white",
    "gray",
    "beige",
    "brown",
    "navy",
    "blue",
    "green",
    "olive",
    "yellow",
    "orange",
    "red",
    "pink",
    "purple",
    "burgundy",
    "teal",
    "multi",
)
GENDERS = ("female", "male", "non_binary", "other", "undisclosed")
SIZE_KEYS = ("top", "bottom", "dress", "shoe", "outerwear", "waist", "inseam")

# Moderation (migrations/0007_moderation.sql): what can be reported, why, and what an admin
# resolving a report does about it.
REPORT_TARGETS = ("user", "post", "comment")
REPORT_REASONS = (
    "spam",
    "harassment",
    "hate",
    "nudity",
    "violence",
    "self_harm",
    "intellectual_property",
    "other",
)
REPORT_RESOLUTIONS = ("dismiss", "remove_content", "suspend_user")
# Every row of moderation_actions: the resolutions, and what happens outside a resolution.
MODERATION_ACTIONS = (
    *REPORT_RESOLUTIONS,
    "unsuspend_user",
    "hide",
    "grant_admin",
    "revoke_admin",
)
