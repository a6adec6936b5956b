"""What the weather allows: seasons, warmth per slot, and whether a coat is required.

These are hard rules (an outfit that breaks them is not wearable), kept apart from the soft
scoring in score.py so tests can check every recommendation against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from workers.recommend.taxonomy import OPEN_SHOES

# Feels-like temperature bands (°C) -> seasons whose clothes suit them. The bands overlap at the
# edges on purpose: at 8 °C both a winter coat and an autumn one are right.
SEASON_BANDS: Final = (
    (5.0, frozenset({"winter"})),
    (12.0, frozenset({"winter", "autumn", "spring"})),
    (18.0, frozenset({"autumn", "spring"})),
    (24.0, frozenset({"spring", "summer", "autumn"})),
    (float("inf"), frozenset({"summer"})),
)
OUTER_REQUIRED_BELOW_C: Final = 12.0
OUTER_EXCLUDED_ABOVE_C: Final = 22.0
# Open shoes need warmth and a dry day.
OPEN_SHOES_MIN_C: Final = 15.0
# Rain from this much on counts as wet (a boolean True from the client means light rain).
WET_MM: Final = 0.5

OuterRule = Literal["required", "optional", "excluded"]


@dataclass(frozen=True, slots=True)
class Weather:
    temperature_c: float
    precipitation_mm: float = 0.0
    wind_kmh: float = 0.0

    @property
    def feels_like_c(self) -> float:
        """Wind chill (Environment Canada / NWS formula) where it applies, else the temperature."""
        t, v = self.temperature_c, self.wind_kmh
        if t > 10.0 or v <= 4.8:
            return t
        return 13.12 + 0.6215 * t - 11.37 * v**0.16 + 0.3965 * t * v**0.16

    @property
    def wet(self) -> bool:
        return self.precipitation_mm >= WET_MM


def as_weather(obj: Weather | Mapping[str, Any] | None) -> Weather | None:
    """Weather from the request body: temperature_c, precipitation (bool or mm), wind."""
    if obj is None or isinstance(obj, Weather):
        return obj
    if "temperature_c" not in obj:
        raise ValueError("weather needs temperature_c")
    rain = obj.get("precipitation_mm", obj.get("precipitation", 0.0))
    if isinstance(rain, bool):
        rain = 1.0 if rain else 0.0
    wind = obj.get("wind_kmh", obj.get("wind"))
    if wind is None and obj.get("wind_ms") is not None:
        wind = float(obj["wind_ms"]) * 3.6
    return Weather(float(obj["temperature_c"]), float(rain or 0.0), float(wind or 0.0))


def seasons_for(weather: Weather) -> frozenset[str]:
    t = weather.feels_like_c
    for upper, seasons in SEASON_BANDS:
        if t < upper:
            return seasons
    raise AssertionError("unreachable: the last band is unbounded")


def outer_rule(weather: Weather | None) -> OuterRule:
    if weather is None:
        return "optional"
    t = weather.feels_like_c
    if t < OUTER_REQUIRED_BELOW_C:
        return "required"
    if t > OUTER_EXCLUDED_ABOVE_C:
        return "excluded"
    return "optional"


def warmth_window(slot: str, weather: Weather) -> tuple[int, int]:
    """Lowest and highest garment warmth (1-5) that suits this slot at this weather."""
    t = weather.feels_like_c
    if slot == "outer":
        lo = 4 if t < 0 else 3 if t < 6 else 2 if t < 12 else 1
        hi = 5 if t < 8 else 4 if t < 15 else 3
        return lo, hi
    if slot == "bag":
        return 1, 5
    if slot == "accessory":
        # Scarves and gloves out in the warm; sunglasses and belts always fit.
        return 1, 2 if t >= 18 else 5
    lo = 2 if t < 5 else 1
    hi = 3 if t >= 24 else 4 if t >= 18 else 5
    return lo, hi


def wearable_in(
    slot: str, subcategory: str, warmth: int, seasons: frozenset[str], weather: Weather | None
) -> bool:
    """Whether one garment may be worn in this weather at all."""
    if weather is None:
        return True
    if not seasons & seasons_for(weather):
        return False
    lo, hi = warmth_window(slot, weather)
    if not lo <= warmth <= hi:
        return False
    if subcategory in OPEN_SHOES and (weather.feels_like_c < OPEN_SHOES_MIN_C or weather.wet):
        return False
    return True
