"""The fixed vocabularies of the product, shared by validation, the schema and the workers.
The database CHECK constraints in migrations/ list the same values."""

from __future__ import annotations

SEASONS = ("spring", "summer", "autumn", "winter")
OCCASIONS = ("casual", "work", "party", "date", "sport", "formal", "travel", "outdoor", "lounge")
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
