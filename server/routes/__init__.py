"""Every route of the HTTP API, registered in one place."""

from __future__ import annotations

from aiohttp import web

from server.routes import (
    account,
    admin,
    ai,
    auth,
    avatars,
    blocks,
    devices,
    fit,
    follows,
    garments,
    jobs,
    notifications,
    objects,
    outfits,
    photos,
    playground,
    posts,
    reports,
    search,
    service,
    unread,
    users,
    wears,
)


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/healthz", service.healthz, name="healthz")
    r.add_get("/readyz", service.readyz, name="readyz")
    r.add_get("/metrics", service.metrics, name="metrics")
    r.add_get("/openapi.json", service.openapi, name="openapi")
    # Where the /docs page asks for the document (its url is relative to /docs).
    r.add_get("/docs/openapi.json", service.openapi, name="docs_openapi")
    r.add_get("/asyncapi.json", service.asyncapi, name="asyncapi")
    r.add_get("/problems", service.problem_types, name="problem_types")
    r.add_get("/problems/{code}", service.problem_type, name="problem_type")

    r.add_post("/objects", objects.upload, name="objects_upload")
    r.add_get("/objects/{key:.+}", objects.download, name="objects_download")

    r.add_post("/v1/auth/register", auth.register, name="auth_register")
    r.add_post("/v1/auth/login", auth.login, name="auth_login")
    r.add_post("/v1/auth/refresh", auth.refresh, name="auth_refresh")
    r.add_post("/v1/auth/logout", auth.logout, name="auth_logout")
    r.add_post("/v1/auth/firebase", auth.firebase, name="auth_firebase")

    r.add_get("/v1/me", users.get_me, name="me")
    r.add_patch("/v1/me", users.patch_me, name="me_update")
    r.add_get("/v1/me/profile", users.get_profile, name="me_profile")
    r.add_put("/v1/me/profile", users.put_profile, name="me_profile_put")
    r.add_get("/v1/me/style-profile", users.get_style_profile, name="me_style_profile")
    r.add_put("/v1/me/style-profile", users.put_style_profile, name="me_style_profile_put")
    r.add_get("/v1/users/{username}", users.get_user, name="user")
    r.add_post("/v1/me/photo", photos.start_photo, name="me_photo")
    r.add_post("/v1/me/photo/complete", photos.complete_photo, name="me_photo_complete")
    r.add_delete("/v1/me/photo", photos.delete_photo, name="me_photo_delete")
    r.add_get("/photos/{id}", photos.photo, name="photo")
    r.add_delete("/v1/me", account.delete_me, name="me_delete")
    r.add_post("/v1/me/export", account.export_me, name="me_export")
    r.add_post("/v1/me/password", account.change_password, name="me_password")
    r.add_get("/v1/me/sessions", account.list_sessions, name="me_sessions")
    r.add_delete("/v1/me/sessions/{id}", account.end_session, name="me_session_end")
    r.add_post(
        "/v1/me/email-verification", account.request_verification, name="me_email_verification"
    )
    r.add_post("/v1/auth/verify-email", account.verify_email, name="auth_verify_email")
    r.add_post("/v1/auth/password-reset", account.password_reset, name="auth_password_reset")
    r.add_post(
        "/v1/auth/password-reset/confirm",
        account.password_reset_confirm,
        name="auth_password_reset_confirm",
    )

    # social
    r.add_get("/v1/posts", posts.list_posts, name="posts")
    r.add_post("/v1/posts", posts.create_post, name="post_create")
    r.add_get("/v1/posts/{id}", posts.get_post, name="post")
    r.add_delete("/v1/posts/{id}", posts.delete_post, name="post_delete")
    r.add_patch("/v1/posts/{id}", posts.patch_post, name="post_update")
    r.add_get("/v1/posts/{id}/likes", posts.likers, name="post_likers")
    r.add_put("/v1/posts/{id}/save", posts.save_post, name="post_save")
    r.add_delete("/v1/posts/{id}/save", posts.unsave_post, name="post_unsave")
    r.add_get("/v1/me/saved", posts.saved_posts, name="me_saved")
    r.add_post("/v1/posts/{id}/image", posts.start_image, name="post_image")
    r.add_post("/v1/posts/{id}/image/complete", posts.complete_image, name="post_image_complete")
    r.add_post("/v1/posts/{id}/images", posts.add_image, name="post_images_add")
    r.add_delete("/v1/posts/{id}/images/{position}", posts.remove_image, name="post_image_remove")
    r.add_put("/v1/posts/{id}/images/order", posts.reorder_images, name="post_images_order")
    r.add_put("/v1/posts/{id}/like", posts.like, name="post_like")
    r.add_delete("/v1/posts/{id}/like", posts.unlike, name="post_unlike")
    r.add_get("/v1/posts/{id}/comments", posts.list_comments, name="post_comments")
    r.add_post("/v1/posts/{id}/comments", posts.add_comment, name="post_comment_create")
    r.add_delete("/v1/comments/{id}", posts.delete_comment, name="comment_delete")
    r.add_get("/v1/comments/{id}/replies", posts.list_replies, name="comment_replies")
    r.add_put("/v1/comments/{id}/like", posts.like_comment, name="comment_like")
    r.add_delete("/v1/comments/{id}/like", posts.unlike_comment, name="comment_unlike")
    r.add_get("/v1/feed", posts.feed, name="feed")
    r.add_put("/v1/users/{username}/follow", follows.follow, name="follow")
    r.add_delete("/v1/users/{username}/follow", follows.unfollow, name="unfollow")
    r.add_get("/v1/users/{username}/followers", follows.followers, name="followers")
    r.add_get("/v1/users/{username}/following", follows.following, name="following")
    r.add_put("/v1/users/{username}/block", blocks.block, name="block")
    r.add_delete("/v1/users/{username}/block", blocks.unblock, name="unblock")
    r.add_put("/v1/users/{username}/mute", blocks.mute, name="mute")
    r.add_delete("/v1/users/{username}/mute", blocks.unmute, name="unmute")
    r.add_get("/v1/me/blocks", blocks.list_blocks, name="blocks")
    r.add_get("/v1/me/mutes", blocks.list_mutes, name="mutes")
    r.add_get("/v1/me/follow-requests", follows.list_requests, name="follow_requests")
    r.add_post("/v1/me/follow-requests/{id}/accept", follows.accept_request, name="follow_accept")
    r.add_post("/v1/me/follow-requests/{id}/reject", follows.reject_request, name="follow_reject")
    r.add_get("/v1/notifications", notifications.list_notifications, name="notifications")
    r.add_get(
        "/v1/notifications/unread-count", unread.unread_count, name="notifications_unread_count"
    )
    r.add_post("/v1/notifications/read", unread.mark_read, name="notifications_read")
    r.add_get("/v1/me/devices", devices.list_devices, name="me_devices")
    r.add_post("/v1/me/devices", devices.add_device, name="me_device_create")
    r.add_delete("/v1/me/devices/{id}", devices.delete_device, name="me_device_delete")
    r.add_get("/v1/me/notification-settings", devices.get_settings, name="me_notification_settings")
    r.add_put(
        "/v1/me/notification-settings",
        devices.put_settings,
        name="me_notification_settings_put",
    )
    r.add_get(
        "/v1/notifications/grouped",
        notifications.grouped_notifications,
        name="notifications_grouped",
    )

    # search
    r.add_get("/v1/search/people", search.people, name="search_people")
    r.add_get("/v1/search/posts", search.posts, name="search_posts")
    r.add_get("/v1/search/hashtags", search.hashtags, name="search_hashtags")
    r.add_get("/v1/hashtags/{tag}", search.hashtag, name="hashtag")
    r.add_get("/v1/hashtags/{tag}/posts", search.hashtag_posts, name="hashtag_posts")

    # safety: reports and the admin side of them
    r.add_post("/v1/reports", reports.create_report, name="report_create")
    r.add_get("/v1/admin/reports", admin.list_reports, name="admin_reports")
    r.add_post("/v1/admin/reports/{id}/resolve", admin.resolve_report, name="admin_report_resolve")
    r.add_post("/v1/admin/users/{username}/unsuspend", admin.unsuspend_user, name="admin_unsuspend")
    r.add_get("/v1/admin/actions", admin.list_actions, name="admin_actions")

    # wardrobe
    r.add_get("/v1/garments", garments.list_garments, name="garments")
    r.add_post("/v1/garments", garments.create_garment, name="garment_create")
    r.add_get("/v1/garments/{id}", garments.get_garment, name="garment")
    r.add_patch("/v1/garments/{id}", garments.patch_garment, name="garment_update")
    r.add_delete("/v1/garments/{id}", garments.delete_garment, name="garment_delete")
    r.add_post("/v1/garments/{id}/image", garments.start_image, name="garment_image")
    r.add_post(
        "/v1/garments/{id}/image/complete", garments.complete_image, name="garment_image_complete"
    )
    r.add_delete("/v1/garments/{id}/image", garments.delete_image, name="garment_image_delete")
    r.add_get("/v1/outfits", outfits.list_outfits, name="outfits")
    r.add_post("/v1/outfits", outfits.create_outfit, name="outfit_create")
    r.add_get("/v1/outfits/{id}", outfits.get_outfit, name="outfit")
    r.add_patch("/v1/outfits/{id}", outfits.patch_outfit, name="outfit_update")
    r.add_delete("/v1/outfits/{id}", outfits.delete_outfit, name="outfit_delete")
    r.add_post("/v1/outfits/{id}/worn", outfits.wear_outfit, name="outfit_worn")
    r.add_post("/v1/outfits/{id}/cover", outfits.start_cover, name="outfit_cover")
    r.add_post(
        "/v1/outfits/{id}/cover/complete", outfits.complete_cover, name="outfit_cover_complete"
    )
    r.add_delete("/v1/outfits/{id}/cover", outfits.delete_cover, name="outfit_cover_delete")
    r.add_post("/v1/wears", wears.log_wear, name="wear_create")
    r.add_get("/v1/wears", wears.list_wears, name="wears")
    r.add_get("/v1/wears/calendar", wears.calendar, name="wear_calendar")
    r.add_delete("/v1/wears/{id}", wears.undo_wear, name="wear_delete")
    r.add_get("/v1/wardrobe/wear-stats", wears.garment_stats, name="wear_stats")

    # ai
    r.add_post("/v1/recommendations", ai.create_recommendations, name="recommendations_create")
    r.add_get("/v1/recommendations", ai.list_recommendations, name="recommendations")
    r.add_post(
        "/v1/recommendations/{id}/feedback",
        ai.recommendation_feedback,
        name="recommendation_feedback",
    )
    r.add_post("/v1/style-analysis", ai.create_style_analysis, name="style_analysis_create")
    r.add_get("/v1/style-analysis/latest", ai.latest_style_analysis, name="style_analysis")
    r.add_post("/v1/explore", ai.refresh_explore, name="explore_refresh")
    r.add_get("/v1/explore", ai.explore, name="explore")
    r.add_get("/v1/people/suggested", ai.suggested_people, name="people_suggested")

    # avatar
    r.add_post("/v1/avatars", avatars.create_avatar, name="avatar_create")
    r.add_get("/v1/avatars", avatars.list_avatars, name="avatars")
    r.add_delete("/v1/avatars/{id}", avatars.delete_avatar, name="avatar_delete")
    r.add_put("/v1/avatars/{id}/primary", avatars.make_primary, name="avatar_primary")
    r.add_get("/v1/avatars/{id}", avatars.get_avatar, name="avatar")
    r.add_patch("/v1/avatars/{id}", avatars.patch_avatar, name="avatar_update")
    r.add_post("/v1/avatars/{id}/rebuild", avatars.rebuild_avatar, name="avatar_rebuild")
    r.add_get("/v1/me/avatar", avatars.my_avatar, name="me_avatar")

    r.add_get("/v1/jobs", jobs.list_jobs, name="jobs")
    r.add_get("/v1/jobs/{id}", jobs.get_job, name="job")

    # size and fit
    r.add_post("/v1/fit", fit.recommend_size, name="fit")
    r.add_post("/v1/fit/feedback", fit.fit_feedback, name="fit_feedback")
    r.add_post("/v1/fit/map", fit.create_fit_map, name="fit_map")
    r.add_put("/v1/garments/{id}/size-chart", fit.put_garment_chart, name="garment_chart_put")
    r.add_get("/v1/garments/{id}/size-chart", fit.get_garment_chart, name="garment_chart")
    r.add_delete(
        "/v1/garments/{id}/size-chart", fit.delete_garment_chart, name="garment_chart_delete"
    )
    r.add_post("/v1/size-charts", fit.create_catalogue_chart, name="size_chart_create")
    r.add_get("/v1/size-charts", fit.list_catalogue, name="size_charts")
    r.add_get("/v1/size-charts/{id}", fit.get_chart, name="size_chart")
    r.add_put("/v1/size-charts/{id}", fit.put_catalogue_chart, name="size_chart_put")
    r.add_delete("/v1/size-charts/{id}", fit.delete_catalogue_chart, name="size_chart_delete")

    service.setup_docs(app)

    if playground.enabled(app):
        r.add_get("/playground", playground.index, name="playground")
        r.add_get("/playground/{path:.*}", playground.asset, name="playground_asset")
