"""AI jobs: outfit recommendations and style analysis from the user's own wardrobe.

The numerics live in workers/recommend/ (no I/O); these jobs read the inputs, run them off the
event loop, and store one result per job: running a job again replaces its own rows.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import numpy as np

from db import ai as db_ai
from db import jobs as db_jobs
from workers import fitmaps
from workers.jobs import JobRun, PermanentJobError, tracked
from workers.recommend import cf
from workers.recommend.analysis import analyze_wardrobe
from workers.recommend.outfits import recommend_outfits


@tracked
async def recommend(run: JobRun) -> dict[str, Any]:
    user = run.user_id
    assert user is not None
    args = run.args
    garments = await db_ai.wardrobe(run.pool, user)
    profile = await db_ai.style_profile(run.pool, user)
    liked, worn, shown = await db_ai.taste(run.pool, user, batch_id=run.id)
    await run.progress(0.3)
    try:
        recs = await asyncio.to_thread(
            recommend_outfits,
            garments,
            profile,
            occasion=args.get("occasion"),
            weather=args.get("weather"),
            count=int(args.get("count", 10)),
            recently_worn_ids=worn,
            recently_shown=shown,
            liked_garment_ids=liked,
            rng_seed=uuid.UUID(str(run.id)).int % (2**32),
        )
    except ValueError as e:
        raise PermanentJobError(str(e)) from None
    await run.progress(0.8)
    rows = [r.to_dict() for r in recs]
    await fitmaps.add_sizes(run.pool, user, rows)
    await db_ai.save_batch(
        run.pool,
        user_id=user,
        job_id=run.id,
        kind="outfit",
        occasion=args.get("occasion"),
        weather=args.get("weather"),
        rows=rows,
    )
    out = {"batch_id": str(run.id), "count": len(rows), "garments": len(garments)}
    requested = int(args.get("count", 10))
    if len(rows) < requested:
        out |= {"requested": requested, "reason": fewer_reason(len(rows), len(garments))}
    return out


def fewer_reason(made: int, garments: int) -> str:
    """Why a recommendation job made fewer outfits than asked for."""
    if garments == 0:
        return "The wardrobe is empty: add garments first."
    return (
        f"The wardrobe makes only {made} distinct outfit{'s' if made != 1 else ''} that suit"
        " this occasion and weather and were not shown or worn lately; the style analysis"
        " (gaps) names pieces that would make more."
    )


def summarize(analysis: dict[str, Any]) -> str:
    """One or two sentences from the analysis, for a notification or a card."""
    parts = [f"{analysis['garment_count']} garments make {analysis['outfits']['count']} outfits."]
    top_styles = analysis["styles"].get("top") or []
    if top_styles:
        parts.append(f"Your wardrobe reads {', '.join(top_styles[:2])}.")
    pieces = analysis["gaps"].get("pieces") or []
    if pieces:
        best = pieces[0]
        parts.append(f"Adding {best['description']} would make {best['new_outfits']} more.")
    return " ".join(parts)


@tracked
async def style_analysis(run: JobRun) -> dict[str, Any]:
    user = run.user_id
    assert user is not None
    garments = await db_ai.wardrobe(run.pool, user)
    profile = await db_ai.style_profile(run.pool, user)
    await run.progress(0.3)
    analysis = await asyncio.to_thread(analyze_wardrobe, garments, profile)
    summary = summarize(analysis)
    analysis_id = await db_ai.save_analysis(
        run.pool, user_id=user, job_id=run.id, analysis=analysis, summary=summary
    )
    return {
        "analysis_id": str(analysis_id),
        "garments": analysis["garment_count"],
        "summary": summary,
    }


async def nightly_analyses(ctx: dict[str, Any]) -> int:
    """Cron: a fresh style analysis for every recently active user with a wardrobe."""
    users = await db_ai.active_users(ctx["pool"])
    for user in users:
        await db_jobs.enqueue(
            ctx["pool"],
            ctx["redis"],
            function="style_analysis",
            kind="style_analysis",
            user_id=user,
            args={},
            dedupe_key=f"style_analysis:{user}",
        )
    return len(users)


# Up to this many candidate items, EASE (closed form, deterministic, strong on small and medium
# catalogues); beyond it ALS, whose cost grows with interactions rather than items squared.
EASE_UP_TO = 5_000


def _method(n_items: int) -> cf.Method:
    return cf.EASE() if n_items <= EASE_UP_TO else cf.ALS()


def social_picks(user: str, inputs: dict[str, Any], count: int, seed: int) -> dict[str, list]:
    """Explore-feed posts and people to follow for `user`, by collaborative filtering on likes
    and follows. Only posts the user may see are candidates; people already followed or asked
    are left out."""
    users = cf.IdIndex.from_ids(uid for uid, _ in inputs["users"])
    posts = cf.IdIndex.from_ids(pid for pid, _ in inputs["candidates"])
    likes, _, _ = cf.build_interactions(inputs["likes"], users=users, items=posts)
    me = users.get(user)
    out: dict[str, list] = {"posts": [], "people": []}
    if me is None:
        return out
    if len(posts):
        model = cf.fit(likes, method=_method(len(posts)), seed=seed)
        out["posts"] = [(posts.id(i), s) for i, s in model.recommend(me, count)]
    follows, _, _ = cf.build_interactions(inputs["follows"], users=users, items=users)
    authors = np.array([users.index(a) for _, a in sorted(inputs["candidates"])], dtype=np.int64)
    people = cf.fit_people(
        follows, likes=likes, post_authors=authors, method=_method(len(users)), seed=seed
    )
    inactive = {users.index(uid) for uid, active in inputs["users"] if not active}
    skip = inactive | {users.index(uid) for uid in inputs["asked"] if uid in users}
    out["people"] = [(users.id(i), s) for i, s in people.recommend(me, count, exclude=skip)]
    return out


@tracked
async def social(run: JobRun) -> dict[str, Any]:
    user = run.user_id
    assert user is not None
    count = int(run.args.get("count", 20))
    inputs = await db_ai.social_inputs(run.pool, user)
    await run.progress(0.3)
    picks = await asyncio.to_thread(social_picks, str(user), inputs, count, run.id.int % 2**31)
    people_batch = uuid.uuid5(run.id, "people")
    for kind, batch, rows in (
        ("post", run.id, picks["posts"]),
        ("user", people_batch, picks["people"]),
    ):
        await db_ai.save_batch(
            run.pool,
            user_id=user,
            job_id=run.id,
            batch_id=batch,
            kind=kind,
            occasion=None,
            weather=None,
            rows=[
                {"target_id": uuid.UUID(t), "score": float(s), "explanation": EXPLAIN[kind]}
                for t, s in rows
            ],
        )
    return {"posts": len(picks["posts"]), "people": len(picks["people"])}


EXPLAIN = {
    "post": "Liked by people whose likes resemble yours.",
    "user": "Followed and liked by people with tastes like yours.",
}
