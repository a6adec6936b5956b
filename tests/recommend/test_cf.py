import importlib.util
import uuid

import numpy as np
import pytest
import scipy.sparse as sp

from workers.recommend import cf

HAS_IMPLICIT = importlib.util.find_spec("implicit") is not None
needs_implicit = pytest.mark.skipif(not HAS_IMPLICIT, reason="ALS needs the implicit package")

N_PER_SIDE_USERS = 30
N_PER_SIDE_ITEMS = 20
METHODS = [
    pytest.param(cf.EASE(l2=5.0), id="ease"),
    pytest.param(cf.ItemKNN(neighbours=10), id="knn-cosine"),
    pytest.param(cf.ItemKNN(neighbours=10, weighting="bm25"), id="knn-bm25"),
    pytest.param(cf.ALS(factors=4, regularization=5.0, alpha=5.0), id="als", marks=needs_implicit),
]


def community_likes(seed: int = 0) -> sp.csr_matrix:
    """Users 0-29 (A) like items 0-19 (A), users 30-59 (B) like items 20-39 (B), 8 likes each;
    every tenth user also likes one item across, so the two blocks are not disconnected."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for u in range(2 * N_PER_SIDE_USERS):
        side = u // N_PER_SIDE_USERS
        own = rng.choice(N_PER_SIDE_ITEMS, size=8, replace=False) + side * N_PER_SIDE_ITEMS
        rows += [u] * 8
        cols += own.tolist()
        if u % 10 == 0:
            rows.append(u)
            cols.append(int(rng.integers(N_PER_SIDE_ITEMS)) + (1 - side) * N_PER_SIDE_ITEMS)
    return cf.interaction_matrix(rows, cols, shape=(2 * N_PER_SIDE_USERS, 2 * N_PER_SIDE_ITEMS))


def is_a_item(i: int) -> bool:
    return i < N_PER_SIDE_ITEMS


@pytest.mark.parametrize("method", METHODS)
def test_planted_communities_recommend_own_side(method: cf.Method) -> None:
    x = community_likes()
    # A user kept out of the fit, with three A likes: scored from history alone.
    model = cf.fit(x, method=method, seed=1)
    recs = model.recommend_from_history([0, 1, 2], 5)
    assert len(recs) == 5
    assert all(is_a_item(i) for i, _ in recs), recs
    # Users seen in the fit get their own side too.
    for user, want_a in ((3, True), (41, False)):
        recs = model.recommend(user, 5)
        assert [is_a_item(i) for i, _ in recs] == [want_a] * 5, (user, recs)
        scores = [s for _, s in recs]
        assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("method", [*METHODS, pytest.param(cf.Popularity(), id="popularity")])
def test_never_returns_excluded_or_already_liked(method: cf.Method) -> None:
    x = community_likes()
    model = cf.fit(x, method=method, seed=1)
    user = 5
    liked = set(x[user].indices.tolist())
    excluded = {0, 1, 2, 3, 21, 39}
    mask = np.zeros(x.shape[1], dtype=bool)
    mask[list(excluded)] = True
    for exclude in (excluded, np.array(sorted(excluded)), mask):
        recs = model.recommend(user, x.shape[1], exclude)
        got = [i for i, _ in recs]
        assert len(got) == len(set(got)) == x.shape[1] - len(liked | excluded)
        assert not set(got) & (liked | excluded)
    history = model.recommend_from_history([4, 5], 50, excluded)
    assert not {i for i, _ in history} & (excluded | {4, 5})


def test_bad_exclusion_mask_is_rejected() -> None:
    model = cf.fit(community_likes(), method=cf.EASE())
    with pytest.raises(ValueError, match="shape"):
        model.recommend(0, 5, np.zeros(3, dtype=bool))


def test_cold_start_user_gets_popularity_fallback() -> None:
    x = sp.lil_matrix(community_likes())
    x[7, :] = 0  # user 7 has no likes
    x = sp.csr_matrix(x)
    x.eliminate_zeros()
    popular = np.bincount(x.indices, minlength=x.shape[1])
    # Stable descending order: higher count first, lower index on ties.
    expected = np.lexsort((np.arange(x.shape[1]), -popular))[:6].tolist()
    model = cf.fit(x, method=cf.EASE())
    for recs in (
        model.recommend(7, 6),
        model.recommend(10_000, 6),  # signed up after the fit
        model.recommend_from_history([], 6),
    ):
        assert [i for i, _ in recs] == expected
        assert [s for _, s in recs] == popular[expected].astype(float).tolist()
    assert expected[0] not in [i for i, _ in model.recommend(7, 6, {expected[0]})]


def test_id_index_round_trip_and_build_interactions() -> None:
    users = [str(uuid.UUID(int=i)) for i in (5, 1, 9)]
    posts = [str(uuid.UUID(int=100 + i)) for i in range(4)]
    index = cf.IdIndex.from_ids([*users, users[0]])
    assert len(index) == 3
    assert index.ids_of(index.indices(users)) == users
    assert all(index.id(index.index(u)) == u for u in users)
    assert users[1] in index and "nope" not in index and index.get("nope") is None

    pairs: list[tuple[str, str] | tuple[str, str, float]] = [
        (users[0], posts[0]),
        (users[0], posts[0]),
        (users[2], posts[3], 2.5),
    ]
    m, u_idx, p_idx = cf.build_interactions(pairs)
    assert m.shape == (2, 2)
    assert m[u_idx.index(users[0]), p_idx.index(posts[0])] == 2.0  # repeated pairs add up
    assert m[u_idx.index(users[2]), p_idx.index(posts[3])] == 2.5
    # A fixed item universe drops pairs outside it (e.g. posts too old to be candidates).
    only = cf.IdIndex.from_ids(posts[:2])
    m2, _, p2 = cf.build_interactions(pairs, users=u_idx, items=only)
    assert p2 is only and m2.shape == (2, 2) and m2.nnz == 1
    # Reordering the input does not change the indices.
    assert cf.IdIndex.from_ids(reversed(users)).ids == index.ids


def test_interaction_matrix_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="out of range"):
        cf.interaction_matrix([0, 3], [1, 1], shape=(3, 3))


@needs_implicit
def test_als_is_deterministic_given_seed() -> None:
    x = community_likes()
    method = cf.ALS(factors=8, iterations=5)
    a = cf.fit(x, method=method, seed=3)
    b = cf.fit(x, method=method, seed=3)
    c = cf.fit(x, method=method, seed=4)
    assert a.user_factors is not None and b.user_factors is not None
    assert c.user_factors is not None
    np.testing.assert_array_equal(a.user_factors, b.user_factors)
    np.testing.assert_array_equal(a.item_factors, b.item_factors)
    assert a.recommend(0, 10) == b.recommend(0, 10)
    assert not np.array_equal(a.user_factors, c.user_factors)


@needs_implicit
def test_als_fold_in_matches_fitted_user() -> None:
    x = community_likes()
    model = cf.fit(x, method=cf.ALS(factors=4, regularization=5.0, alpha=5.0), seed=0)
    user = 12
    fitted = [i for i, _ in model.recommend(user, 5)]
    folded = [i for i, _ in model.recommend_from_history(x[user].indices, 5)]
    assert len(set(fitted) & set(folded)) >= 4, (fitted, folded)


@pytest.mark.parametrize("method", [cf.EASE(), cf.ItemKNN()], ids=["ease", "knn"])
def test_closed_form_methods_are_deterministic(method: cf.Method) -> None:
    x = community_likes()
    assert cf.fit(x, method=method).recommend(3, 10) == cf.fit(x, method=method).recommend(3, 10)


def test_ease_keeps_only_the_most_liked_items() -> None:
    x = community_likes()
    popular = np.bincount(x.indices, minlength=x.shape[1])
    model = cf.fit(x, method=cf.EASE(max_items=10))
    assert model.kept is not None
    assert sorted(popular[model.kept].tolist()) == sorted(popular.tolist())[-10:]
    got = {i for i, _ in model.recommend(0, x.shape[1])}
    assert got <= set(model.kept.tolist())


def test_top_k_ties_are_ordered_by_tiebreak_then_index() -> None:
    scores = np.array([1.0, 3.0, 3.0, -np.inf, 3.0, 0.5])
    tiebreak = np.array([0.0, 1.0, 5.0, 9.0, 1.0, 0.0])
    assert cf.top_k_indices(scores, 4, tiebreak=tiebreak).tolist() == [2, 1, 4, 0]
    assert cf.top_k_indices(scores, 10).tolist() == [1, 2, 4, 0, 5]
    assert cf.top_k_indices(scores, 0).tolist() == []


def test_people_to_follow() -> None:
    # Follow graph with the same two communities: users follow 8 others on their side.
    rng = np.random.default_rng(0)
    n = 2 * N_PER_SIDE_USERS
    rows, cols = [], []
    for u in range(n - 1):  # the last user follows nobody
        side = u // N_PER_SIDE_USERS
        peers = [v for v in range(side * 30, side * 30 + 30) if v != u]
        rows += [u] * 8
        cols += rng.choice(peers, size=8, replace=False).tolist()
    follows = cf.interaction_matrix(rows, cols, shape=(n, n))

    model = cf.fit_people(follows, method=cf.EASE(l2=5.0))
    followed = set(follows[4].indices.tolist())
    recs = [i for i, _ in model.recommend(4, 10, {0})]
    assert 4 not in recs and 0 not in recs and not set(recs) & followed
    assert all(i < N_PER_SIDE_USERS for i in recs[:5]), recs

    # The last user (side B) follows nobody but liked posts written by B users: the blend gives
    # B suggestions instead of the popularity fallback, and liked authors stay recommendable.
    n_posts = n
    post_authors = np.arange(n_posts)  # post p is written by user p
    likes = cf.interaction_matrix([n - 1] * 4, [31, 33, 35, 37], shape=(n, n_posts))
    blended = cf.fit_people(follows, likes=likes, post_authors=post_authors, method=cf.EASE(l2=5.0))
    recs = [i for i, _ in blended.recommend(n - 1, 5)]
    assert n - 1 not in recs
    assert all(i >= N_PER_SIDE_USERS for i in recs), recs


def test_ease_rejects_sizes_past_the_safe_cap() -> None:
    with pytest.raises(ValueError, match="max_items"):
        cf.EASE(max_items=cf.EASE_MAX_ITEMS + 1)
    with pytest.raises(ValueError, match="l2"):
        cf.EASE(l2=0.0)
