"""The admin role (users.role): who holds it, and the operator's command to grant or revoke it.

    python -m db.admin grant NAME     # make admin USER=NAME
    python -m db.admin revoke NAME    # make admin USER=NAME REVOKE=1
    python -m db.admin list

Uses DATABASE_URL. A change takes effect on the account's next request (the role is read from
the database on every admin request) and is written to moderation_actions without an admin.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid

import asyncpg

from drape.settings import Settings

IS_ADMIN = "SELECT role = 'admin' FROM users WHERE id = $1 AND is_active"


async def is_admin(conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval(IS_ADMIN, user_id))


SET_ROLE = """
WITH target AS (
    SELECT id, role AS old_role FROM users WHERE lower(username) = lower($1) FOR UPDATE
), changed AS (
    UPDATE users u SET role = $2 FROM target t WHERE u.id = t.id AND t.old_role <> $2
    RETURNING u.id
), audit AS (
    INSERT INTO moderation_actions (action, target_type, target_id, user_id, note)
    SELECT $3, 'user', id, id, 'from the command line' FROM changed
)
SELECT t.id, EXISTS (SELECT 1 FROM changed) AS changed FROM target t
"""


async def set_role(conn: asyncpg.Connection, username: str, admin: bool) -> bool | None:
    """Grant (or revoke) the admin role; whether it changed, None if there is no such user."""
    role, action = ("admin", "grant_admin") if admin else ("user", "revoke_admin")
    row = await conn.fetchrow(SET_ROLE, username, role, action)
    return None if row is None else bool(row["changed"])


LIST_ADMINS = "SELECT username FROM users WHERE role = 'admin' ORDER BY lower(username)"


async def run(database_url: str, command: str, username: str | None) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        if command == "list":
            for row in await conn.fetch(LIST_ADMINS):
                print(row["username"])
            return 0
        assert username is not None
        changed = await set_role(conn, username, admin=command == "grant")
    finally:
        await conn.close()
    if changed is None:
        print(f"no user named {username!r}", file=sys.stderr)
        return 1
    state = "an admin" if command == "grant" else "not an admin"
    print(f"{username} is {state}{'' if changed else ' already'}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m db.admin", description="The admin role.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, what in (("grant", "give NAME the admin role"), ("revoke", "take it back")):
        sub.add_parser(name, help=what).add_argument("username", metavar="NAME")
    sub.add_parser("list", help="the accounts with the admin role")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    return asyncio.run(run(settings.database_url, args.command, getattr(args, "username", None)))


if __name__ == "__main__":
    sys.exit(main())
