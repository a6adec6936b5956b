"""Size recommendation accuracy on a synthetic population, and learning from outcomes.

    python -m bench.fit [--people 4000] [--seed 7]

The population (documented so the figures can be reproduced and argued with):
- Bodies: presentation feminine or masculine (half each); height N(164, 7) / N(178, 7) cm; a
  build factor lognormal(0, 0.09) scaling every girth; each measurement = the avatar model's
  default ratio (drape/avatar_inputs.DEFAULT_RATIOS) x height (x build for girths) x its own
  lognormal(0, 0.035) noise; bodies validate_measurements refuses are drawn again.
- Brands: 24, each with one top chart (bust, waist, shoulder width) and one trouser chart
  (waist, hips, inseam), 7 sizes XS..3XL, body ranges as retailers publish them: the smallest
  size centred at bust U(80, 86) / waist U(66, 72) / hips U(88, 94) cm, girths graded U(4, 6) cm
  per size (EN 13402-3 steps), shoulders 1 cm per size, inseam the same for every size; each
  range as wide as the grading. Half the trouser charts are published as garment measurements
  (fitted ease) instead, which the recommender converts back.
- What really fits: each brand's garments differ from its published chart by a hidden bias,
  N(0, 0.1) sizes for ordinary brands and +0.8 sizes (runs small) for the one biased brand; what
  the person feels adds tape error N(0, 0.7 cm) per dimension (the avatar reproduces the user's
  tape, not the truth) and a personal preference N(0, 0.7 cm) of room. The true size minimises a
  comfort loss over the category's deciding dimensions (bust and waist for tops, waist and hips
  for trousers): squared room in sizes, tightness costing three times as much, the first
  dimension counting fully and the other half. The recommender minimises the same form of loss
  on the published chart (drape/fit.py); what it cannot see is the hidden bias, the tape error
  and the preference, and that is what the figures measure.
- Outcomes: the person buys the recommended size and reports kept / too_small / too_large against
  the true size; with probability 0.1 a one-size-off purchase is kept anyway and with 0.05 the
  report is a random one of the three.

Reported: exact-size rate, one-off and two-or-more-off rates, abstentions; reliability of the
confidence in bins with the expected calibration error; and, for the biased brand, accuracy for
new users before and after (a) a user's own 3 outcomes on that brand (user offset) and (b) 3
outcomes each from 60 earlier users (the chart's bias).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from dataclasses import dataclass

from drape import fit
from drape.avatar_inputs import DEFAULT_RATIOS, GIRTH_NAMES, AvatarInputError
from drape.avatar_inputs import validate_measurements as validate

LABELS = ("XS", "S", "M", "L", "XL", "2XL", "3XL")
BIASED_BRAND = 0
BIASED_BY = 0.8  # sizes
BRAND_SPREAD = 0.1  # sizes, the other brands' hidden bias
TAPE = 0.7  # cm
PREFERENCE = 0.7  # cm


@dataclass
class Brand:
    top: fit.Chart
    bottom: fit.Chart
    bias: float  # sizes: the garments are cut this much smaller than the chart says


def body(rng: random.Random) -> dict[str, float]:
    while True:
        shape = rng.choice(("feminine", "masculine"))
        height = rng.gauss(164 if shape == "feminine" else 178, 7)
        build = math.exp(rng.gauss(0, 0.09))
        m = {"height": height}
        for name, ratio in DEFAULT_RATIOS[shape].items():
            scale = build if name in GIRTH_NAMES else 1.0
            m[name] = ratio * height * scale * math.exp(rng.gauss(0, 0.035))
        try:
            return validate(m, {"body_shape": shape})
        except AvatarInputError:
            continue


def chart(rng: random.Random, category: str, garment: bool) -> fit.Chart:
    if category == "tops":
        dims = {"bust": (rng.uniform(80, 86), rng.uniform(4, 6)),
                "waist": (rng.uniform(66, 72), rng.uniform(4, 6)),
                "shoulder_width": (rng.uniform(37, 39), 1.0)}  # fmt: skip
    else:
        dims = {"waist": (rng.uniform(66, 72), rng.uniform(4, 6)),
                "hips": (rng.uniform(88, 94), rng.uniform(4, 6)),
                "inseam": (rng.uniform(77, 80), 0.0)}  # fmt: skip
    sizes = []
    for i, label in enumerate(LABELS):
        row: dict[str, object] = {"label": label}
        for name, (c0, step) in dims.items():
            c = c0 + i * step
            half = max(step, 2.0) / 2
            if garment:
                row[name] = round(c + fit.EASE["fitted"].get(name, 0.0), 1)
            else:
                row[name] = [round(c - half, 1), round(c + half, 1)]
        sizes.append(row)
    doc = {"kind": "garment" if garment else "body", "category": category, "sizes": sizes}
    if garment:
        doc["ease"] = "fitted"
    return fit.parse_chart(doc)


def true_size(c: fit.Chart, b: dict[str, float], bias: float, rng: random.Random) -> int:
    """The size that really fits: an asymmetric comfort loss against the garments as cut."""
    dims = [d for d in fit.dimensions_for(c.category) if d in c.dimensions]
    prefer = rng.gauss(0, PREFERENCE)
    felt = {d: b[d] + rng.gauss(0, TAPE) + prefer for d in dims}
    best, best_loss = 0, math.inf
    for i, size in enumerate(c.sizes):
        loss = 0.0
        for k, d in enumerate(dims):
            lo, hi = size.ranges[d]
            centres = [(s.ranges[d][0] + s.ranges[d][1]) / 2 for s in c.sizes]
            step = (centres[-1] - centres[0]) / (len(centres) - 1) or 4.0
            real = (lo + hi) / 2 - bias * step
            room = real - felt[d]
            r = room / max(step, 2.0)
            loss += (1.0 if k == 0 else 0.5) * (r * r * (3.0 if room < 0 else 1.0))
        if loss < best_loss:
            best, best_loss = i, loss
    return best


def outcome(bought: int, truth: int, rng: random.Random) -> str:
    if rng.random() < 0.05:
        return rng.choice(("kept", "too_small", "too_large"))
    if bought == truth or (abs(bought - truth) == 1 and rng.random() < 0.1):
        return "kept"
    return "too_small" if bought < truth else "too_large"


def population(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    brands = [
        Brand(
            chart(rng, "tops", False),
            chart(rng, "bottoms", garment=i % 2 == 1),
            BIASED_BY if i == BIASED_BRAND else rng.gauss(0, BRAND_SPREAD),
        )
        for i in range(24)
    ]
    people = [body(rng) for _ in range(args.people)]
    stats = {"n": 0, "exact": 0, "one": 0, "two": 0, "abstain": 0}
    bins: list[list[int]] = [[0, 0] for _ in range(10)]
    conf_sum = [0.0] * 10
    t0 = time.perf_counter()
    for b in people:
        for brand in rng.sample(brands[1:], 3):
            for c in (brand.top, brand.bottom):
                stats["n"] += 1
                rec = fit.recommend(c, b)
                if rec.index is None:
                    stats["abstain"] += 1
                    continue
                off = abs(rec.index - true_size(c, b, brand.bias, rng))
                stats["exact" if off == 0 else "one" if off == 1 else "two"] += 1
                k = min(int(rec.confidence * 10), 9)
                bins[k][0] += 1
                bins[k][1] += off == 0
                conf_sum[k] += rec.confidence
    elapsed = time.perf_counter() - t0
    n, answered = stats["n"], stats["n"] - stats["abstain"]
    print(f"## Recommendations: {len(people)} people x 3 brands x 2 charts = {n} (unbiased brands)")
    print()
    print(f"    exact size          {stats['exact'] / answered:6.1%}")
    print(f"    one size off        {stats['one'] / answered:6.1%}")
    print(f"    two or more off     {stats['two'] / answered:6.1%}")
    print(f"    abstained           {stats['abstain'] / n:6.1%}  (outside the chart)")
    print(f"    time per recommendation {elapsed / n * 1e6:.0f} us (pure Python, this process)")
    exact, far = stats["exact"] / answered, stats["two"] / answered
    print(f"    target exact >= 80%: {'met' if exact >= 0.8 else 'NOT met'};"
          f" two or more off <= 5%: {'met' if far <= 0.05 else 'NOT met'}")  # fmt: skip
    print()
    print("## Calibration of the confidence (answered recommendations)")
    print()
    print("    confidence   count   mean conf   exact")
    ece = 0.0
    for k, (count, exact) in enumerate(bins):
        if count == 0:
            continue
        mean = conf_sum[k] / count
        ece += count / answered * abs(mean - exact / count)
        print(
            f"    {k / 10:.1f}-{(k + 1) / 10:.1f}   {count:7d}   {mean:9.3f}   {exact / count:5.1%}"
        )
    print(f"    expected calibration error: {ece:.3f}")
    print()
    learning(rng, brands[BIASED_BRAND], people)


def learning(rng: random.Random, brand: Brand, people: list[dict[str, float]]) -> None:
    """The biased brand: accuracy for a new item before and after learning."""
    items = [brand.top, brand.bottom]

    def bought(b: dict[str, float], c: fit.Chart) -> fit.Outcome | None:
        rec = fit.recommend(c, b)
        if rec.index is None or rec.position is None:
            return None
        said = outcome(rec.index, true_size(c, b, brand.bias, rng), rng)
        return fit.Outcome(rec.index, rec.position, said)

    def accuracy(offsets: list[float], test: list[dict[str, float]]) -> float:
        hits = total = 0
        for b, off in zip(test, offsets, strict=True):
            for c in items:
                rec = fit.recommend(c, b, offset=off)
                if rec.index is None:
                    continue
                total += 1
                hits += rec.index == true_size(c, b, brand.bias, rng)
        return hits / total

    test = people[: min(1500, len(people))]
    before = accuracy([0.0] * len(test), test)
    # (a) each user's own 3 outcomes on this brand, then a new item of the brand
    user_offsets = []
    for b in test:
        own = [got for _ in range(3) if (got := bought(b, rng.choice(items))) is not None]
        user_offsets.append(fit.learned_offset(own, fit.USER_PRIOR_SD))
    after_user = accuracy(user_offsets, test)
    # (b) 60 earlier users' 3 outcomes each teach the chart's bias; new users benefit at once
    earlier = people[-60:]
    seen = [
        got for b in earlier for _ in range(3) if (got := bought(b, rng.choice(items))) is not None
    ]
    bias = fit.learned_offset(seen, fit.CHART_PRIOR_SD)
    after_chart = accuracy([bias] * len(test), test)
    print(f"## Learning: the brand whose garments run {BIASED_BY} sizes small ({len(test)} users)")
    print()
    print(f"    exact size before any outcome                     {before:6.1%}")
    print(f"    after 3 of the user's own outcomes (user offset)  {after_user:6.1%}"
          f"  ({(after_user - before) * 100:+.1f} points)")  # fmt: skip
    print(f"    after 3 outcomes from each of 60 users (chart bias {bias:+.2f} sizes)"
          f"  {after_chart:6.1%}  ({(after_chart - before) * 100:+.1f} points)")  # fmt: skip


def live_latency(rounds: int = 30) -> None:
    """The live fit map beside a slider move, in this process: `live_state` (what a slider
    move computes) and the fit map over the mesh it gives (what `avatar:fit` computes)."""
    from workers.avatar import build_avatar, live_state
    from workers.avatar.fitmap import ease_b64, fit_map

    built = build_avatar({"height": 170, "bust": 92, "waist": 74, "hips": 100}, {})
    chart = fit.parse_chart({"category": "tops", "sizes": [
        {"label": s, "bust": [80 + 4 * i, 84 + 4 * i], "waist": [62 + 4 * i, 66 + 4 * i]}
        for i, s in enumerate(LABELS)]})  # fmt: skip
    slider, mapped = [], []
    for k in range(rounds):
        body = {**built.requested, "waist": 74 + 0.2 * k}
        t = time.perf_counter()
        weights, measured = live_state(built.params, body, {})
        slider.append(time.perf_counter() - t)
        t = time.perf_counter()
        rec = fit.recommend(chart, measured)
        m = fit_map(built.params, rec, "tops", None, weights)
        ease_b64(m)
        mapped.append(time.perf_counter() - t)
    slider.sort()
    mapped.sort()
    print(f"## Live fit map beside a slider move ({rounds} states, one process)")
    print()
    print(f"    slider move (live_state)        p50 {slider[rounds // 2] * 1e3:6.1f} ms"
          f"   max {slider[-1] * 1e3:6.1f} ms")  # fmt: skip
    print(f"    fit map over that mesh          p50 {mapped[rounds // 2] * 1e3:6.1f} ms"
          f"   max {mapped[-1] * 1e3:6.1f} ms  ({len(m.ease_cm)} vertices)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-live", action="store_true", help="skip the fit map timing")
    args = parser.parse_args()
    print("# Size and fit on a synthetic population")
    print(f"    python -m bench.fit --people {args.people} --seed {args.seed}")
    print()
    population(args)
    if not args.no_live:
        print()
        live_latency()


if __name__ == "__main__":
    main()
