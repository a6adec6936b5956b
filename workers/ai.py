"""AI jobs: outfit recommendations and style analysis from the user's own wardrobe.

The numerics live in workers/recommend/ (no I/O); these jobs read the inputs, run them off the
event loop, and store one result per job: running a job again replaces its own rows.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from db import ai as db_ai
from db import jobs as db_jobs
from workers.jobs import JobRun, PermanentJobError, tracked
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
            recommend_outfits, garments, profile, occasion=args.get("occasion"),
            weather=args.get("weather"), count=int(args.get("count", 10)),
            recently_worn_ids=worn, recently_shown=shown, liked_garment_ids=liked,
            rng_seed=uuid.UUID(str(run.id)).int % (2**32),
        )
    except ValueError as e:
        raise PermanentJobError(str(e)) from None
    await run.progress(0.8)
    rows = [r.to_dict() for r in recs]
    await db_ai.save_batch(
        run.pool, user_id=user, job_id=run.id, kind="outfit", occasion=args.get("occasion"),
        weather=args.get("weather"), rows=rows,
    )
    return {"batch_id": str(run.id), "count": len(rows), "garments": len(garments)}


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
    return {"analysis_id": str(analysis_id), "garments": analysis["garment_count"],
            "summary": summary}


async def nightly_analyses(ctx: dict[str, Any]) -> int:
    """Cron: a fresh style analysis for every recently active user with a wardrobe."""
    users = await db_ai.active_users(ctx["pool"])
    for user in users:
        await db_jobs.enqueue(
            ctx["pool"], ctx["redis"], function="style_analysis", kind="style_analysis",
            user_id=user, args={}, dedupe_key=f"style_analysis:{user}",
        )
    return len(users)
