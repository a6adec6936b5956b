"""Every route of the HTTP API, registered in one place."""

from __future__ import annotations

from aiohttp import web

from server.routes import auth, follows, jobs, notifications, objects, posts, service, users


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/healthz", service.healthz, name="healthz")
    r.add_get("/readyz", service.readyz, name="readyz")
    r.add_get("/metrics", service.metrics, name="metrics")
    r.add_get("/openapi.json", service.openapi, name="openapi")

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

    # social
    r.add_get("/v1/posts", posts.list_posts, name="posts")
    r.add_post("/v1/posts", posts.create_post, name="post_create")
    r.add_get("/v1/posts/{id}", posts.get_post, name="post")
    r.add_delete("/v1/posts/{id}", posts.delete_post, name="post_delete")
    r.add_put("/v1/posts/{id}/like", posts.like, name="post_like")
    r.add_delete("/v1/posts/{id}/like", posts.unlike, name="post_unlike")
    r.add_get("/v1/posts/{id}/comments", posts.list_comments, name="post_comments")
    r.add_post("/v1/posts/{id}/comments", posts.add_comment, name="post_comment_create")
    r.add_delete("/v1/comments/{id}", posts.delete_comment, name="comment_delete")
    r.add_get("/v1/feed", posts.feed, name="feed")
    r.add_put("/v1/users/{username}/follow", follows.follow, name="follow")
    r.add_delete("/v1/users/{username}/follow", follows.unfollow, name="unfollow")
    r.add_get("/v1/users/{username}/followers", follows.followers, name="followers")
    r.add_get("/v1/users/{username}/following", follows.following, name="following")
    r.add_get("/v1/me/follow-requests", follows.list_requests, name="follow_requests")
    r.add_post("/v1/me/follow-requests/{id}/accept", follows.accept_request, name="follow_accept")
    r.add_post("/v1/me/follow-requests/{id}/reject", follows.reject_request, name="follow_reject")
    r.add_get("/v1/notifications", notifications.list_notifications, name="notifications")

    r.add_get("/v1/jobs/{id}", jobs.get_job, name="job")

    service.setup_docs(app)
