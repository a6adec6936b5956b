// A short typed use of the client generated from /openapi.json (tests/test_tsclient.py
// generates `api.d.ts` beside this file and compiles both with tsc --strict).
import type { components, paths } from "./api";

type Post = components["schemas"]["Post"];
type Problem = components["schemas"]["Problem"];
type Login = paths["/v1/auth/login"]["post"]["requestBody"]["content"]["application/json"];
type Session = paths["/v1/auth/login"]["post"]["responses"]["200"]["content"]["application/json"];
type Feed = paths["/v1/feed"]["get"]["responses"]["200"]["content"]["application/json"];
type Analysis = components["schemas"]["StyleAnalysis"];

export async function signIn(base: string, body: Login): Promise<Session | Problem> {
  const r = await fetch(`${base}/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return (await r.json()) as Session | Problem;
}

export function isProblem(x: object): x is Problem {
  return "code" in x && "status" in x;
}

export function mustSignInAgain(p: Problem): boolean {
  // Match on the machine code, never on the English detail.
  return p.code === "signed_out" || p.code === "token_reused" || p.code === "refresh_token_invalid";
}

export function captions(feed: Feed): string[] {
  return feed.items.map((p: Post) => `${p.author.username}: ${p.caption} (${p.like_count})`);
}

export function mainColours(a: Analysis): string[] {
  return a.palette.colors.filter((c) => !c.neutral).map((c) => `${c.family} ${c.hex}`);
}
