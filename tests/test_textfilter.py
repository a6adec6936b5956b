"""The word filter (drape/textfilter.py): each normalisation, the words it must let through, the
operator's own list, and each field of the API it guards refused with 422 naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from drape import textfilter
from drape.settings import Settings
from drape.textfilter import WordFilter
from tests.conftest import Api

OPERATOR_WORD = "zorblax"  # in no shipped list: only BLOCKED_WORDS_FILE refuses it


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The test app with an operator's list that adds a word (and a comment line)."""
    extra = tmp_path / "more_words.txt"
    extra.write_text(f"# the operator's additions\n{OPERATOR_WORD}*\n", encoding="utf-8")
    return settings.with_(blocked_words_file=str(extra))


@pytest.fixture(scope="module")
def words() -> WordFilter:
    return textfilter.load()


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("Hello World", "hello world"),  # case folded
        ("Fück çà", "fuck ca"),  # accents stripped (NFKD)
        ("ｆｕｃｋ 𝐟𝐮𝐜𝐤", "fuck fuck"),  # fullwidth and mathematical letters (NFKD)
        ("fu\u200bck so\u00adft", "fuck soft"),  # zero-width space and soft hyphen dropped
        ("0 3 4 5 7", "o e a s t"),  # digits written for letters
        ("@$", "as"),  # symbols written for letters
        ("sh1t sh!t", "sh1t sh1t"),  # 1 and ! stand for i or l: kept as one ambiguous mark
        ("аерсхо", "aepcxo"),  # Cyrillic look-alikes
        ("αορτ", "aopt"),  # Greek look-alikes
    ],
)
def test_normalisation(text: str, normalised: str) -> None:
    assert textfilter.normalize(text) == normalised


@pytest.mark.parametrize(
    "text",
    [
        "fuck",
        "FUCK",  # case
        "Fück",  # accents
        "ｆｕｃｋ",  # fullwidth
        "fuсk",  # a Cyrillic с
        "ѕһіт",  # all Cyrillic
        "fu\u200bck",  # an invisible character inside
        "sh1t",  # 1 for i
        "5h1t",  # 5 for s
        "$h!t",  # symbols for letters
        "a$$",
        "b1tch",
        "fuuuuuck",  # repeated letters
        "shiiiiit",
        "f.u.c.k",  # separators between letters
        "f u c k",
        "f-u-c-k off",
        "sh_it",
        "what the fuck!",  # punctuation after a word
        "bitch99",  # digits decorating a word
        "xx_fuck_xx",  # a username's parts
        "motherfucker",  # *fuck*: anywhere inside a word
        "bitches",  # an ending of an entry marked word*
        "shitty",
        "kill yourself",  # a phrase
        "KILL your-self",
        "the ass",
    ],
)
def test_refused(words: WordFilter, text: str) -> None:
    assert words.refuses(text), text


@pytest.mark.parametrize(
    "text",
    [
        "Scunthorpe",
        "classic",
        "class of 2024",
        "bass",
        "glass",
        "compass",
        "assassin",
        "assistant",
        "mass assessment",
        "Sussex",
        "passion",
        "shiitake",
        "cocktail",
        "Dickens",
        "therapist",
        "spicy",  # "spic" takes no endings
        "as",  # "ass" needs its double s
        "hit",
        "sh it",  # two words, not one spelt apart
        "retardant",
        "hello!",
        "Summer fit ✨ linen + denim, 10/10",
        "",
    ],
)
def test_not_refused(words: WordFilter, text: str) -> None:
    assert not words.refuses(text), (text, words.match(text))


def test_the_operator_list_adds_words(tmp_path: Path) -> None:
    extra = tmp_path / "words.txt"
    extra.write_text("# ours\ngrotnak\nfoo bar baz  # a phrase\n", encoding="utf-8")
    shipped, both = textfilter.load(), textfilter.load(str(extra))
    assert both.size == shipped.size + 2
    assert not shipped.refuses("GROTNAK") and both.refuses("GROTNAK") and both.refuses("gr0tn4k")
    assert both.refuses("foo, bar baz!") and not both.refuses("foo baz bar")
    assert both.refuses("fuck")  # the shipped list still holds
    with pytest.raises(ValueError, match="cannot read"):
        textfilter.load(str(tmp_path / "missing.txt"))


def test_an_unreadable_words_file_stops_the_app_at_start(
    settings: Settings, tmp_path: Path
) -> None:
    from server.app import create_app

    with pytest.raises(ValueError, match="cannot read the blocked words file"):
        create_app(settings.with_(blocked_words_file=str(tmp_path / "nope.txt")))


def test_settings_read_the_words_file_from_the_environment() -> None:
    s = Settings.from_env({"BLOCKED_WORDS_FILE": "/etc/drape/words.txt"})
    assert s.blocked_words_file == "/etc/drape/words.txt"
    assert Settings().blocked_words_file == ""


async def _refused(r: object, field: str) -> None:
    from aiohttp import ClientResponse

    assert isinstance(r, ClientResponse)
    assert r.status == 422, await r.text()
    assert r.content_type == "application/problem+json"
    body = await r.json()
    assert body["errors"] == [{"field": field, "message": "contains words that are not allowed"}]


async def test_register_refuses_a_username_or_display_name(api: Api) -> None:
    base = {"email": "x@example.com", "password": "correct horse battery"}
    r = await api.post("/v1/auth/register", json={**base, "username": "dumb_a55_99"})
    await _refused(r, "username")
    r = await api.post(
        "/v1/auth/register", json={**base, "username": "fine_name", "display_name": "Sh1t Lord"}
    )
    await _refused(r, "display_name")
    r = await api.post("/v1/auth/register", json={**base, "username": f"{OPERATOR_WORD}s"})
    await _refused(r, "username")  # the operator's word, with an ending
    # Nothing was created; a clean name passes, a false positive too.
    r = await api.post(
        "/v1/auth/register", json={**base, "username": "scunthorpe_fc", "display_name": "Classic"}
    )
    assert r.status == 201, await r.text()


async def test_patch_me_refuses_each_text_field(api: Api) -> None:
    user = await api.register("plain")
    for field, value in [
        ("username", "the.b1tch"),
        ("display_name", "f u c k"),
        ("bio", "Stylist. Kill yourself if you disagree"),
        ("bio", f"I love {OPERATOR_WORD}"),
    ]:
        await _refused(await api.patch("/v1/me", token=user.token, json={field: value}), field)
    me = await (await api.get("/v1/me", token=user.token)).json()
    assert (me["username"], me["display_name"], me["bio"]) == ("plain", "plain", "")
    r = await api.patch("/v1/me", token=user.token, json={"bio": "Classic pieces, bass player"})
    assert r.status == 200, await r.text()


async def test_captions_and_comments_are_refused(api: Api) -> None:
    user = await api.register("poster")
    r = await api.post("/v1/posts", token=user.token, json={"caption": "this is $h!t"})
    await _refused(r, "caption")
    r = await api.post("/v1/posts", token=user.token, json={"caption": "Scunthorpe classic"})
    assert r.status == 201, await r.text()
    post = await r.json()
    path = f"/v1/posts/{post['id']}/comments"
    await _refused(await api.post(path, token=user.token, json={"body": "fuuuck"}), "body")
    r = await api.post(path, token=user.token, json={"body": "love the glass buttons"})
    assert r.status == 201, await r.text()
    listed = await (await api.get(path, token=user.token)).json()
    assert [c["body"] for c in listed["items"]] == ["love the glass buttons"]
    me = await (await api.get("/v1/me", token=user.token)).json()
    assert me["post_count"] == 1
