"""Comment reactions (/rest/comment-likes): react, react again (no duplicate), unreact, reactions in the
comment JSON (`properties.reactions`), on pull request and commit comments; refusals."""

from __future__ import annotations

import httpx
import pytest
from pr_support import bitbucket, error, push_repo

from support import USER_PASSWORD, LiveServer, create_user, grant_repo, validating_client

KEY = "LIK"
SLUG = "lik"
LIKES = f"/rest/comment-likes/latest/projects/{KEY}/repos/{SLUG}"
API = f"/rest/api/latest/projects/{KEY}/repos/{SLUG}"


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    create_user(server, "liker", "likeout")
    data = push_repo(server, admin, tmp_path_factory.mktemp("w") / "work", KEY, SLUG, ["topic"])
    grant_repo(server, KEY, SLUG, "liker", "REPO_READ")
    bitbucket(server).open_pull_request(KEY, SLUG, KEY, SLUG, "topic", "main", "T", "")
    data["pr_comment"] = admin.post(f"{API}/pull-requests/1/comments", json={"text": "hi"}).json()["id"]
    commit = data["commits"]["topic"]
    data["commit_comment"] = admin.post(f"{API}/commits/{commit}/comments", json={"text": "c"}).json()["id"]
    return data


def test_pull_request_comment_reactions(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    url = f"{LIKES}/pull-requests/1/comments/{world['pr_comment']}/reactions"
    liker = validating_client(server, auth=("liker", USER_PASSWORD))
    r = liker.put(f"{url}/thumbsup")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["emoticon"]["shortcut"] == "thumbsup" and body["user"]["name"] == "liker"
    assert body["comment"]["id"] == world["pr_comment"]
    assert liker.put(f"{url}/thumbsup").status_code == 200  # again: still one reaction
    assert admin.put(f"{url}/thumbsup").status_code == 200
    assert admin.put(f"{url}/heart").status_code == 200
    got = admin.get(f"{API}/pull-requests/1/comments/{world['pr_comment']}").json()
    reactions = {x["emoticon"]["shortcut"]: [u["name"] for u in x["users"]] for x in got["properties"]["reactions"]}
    assert reactions == {"thumbsup": ["liker", "admin"], "heart": ["admin"]}
    assert liker.delete(f"{url}/thumbsup").status_code == 204
    assert liker.delete(f"{url}/thumbsup").status_code == 204  # nothing to remove: still 204
    got = admin.get(f"{API}/pull-requests/1/comments/{world['pr_comment']}").json()
    reactions = {x["emoticon"]["shortcut"]: [u["name"] for u in x["users"]] for x in got["properties"]["reactions"]}
    assert reactions == {"thumbsup": ["admin"], "heart": ["admin"]}


def test_commit_comment_reactions(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    commit = world["commits"]["topic"]
    url = f"{LIKES}/commits/{commit}/comments/{world['commit_comment']}/reactions"
    assert admin.put(f"{url}/tada").status_code == 200
    got = admin.get(f"{API}/commits/{commit}/comments/{world['commit_comment']}").json()
    assert got["properties"]["reactions"][0]["emoticon"]["shortcut"] == "tada"
    assert admin.delete(f"{url}/tada").status_code == 204
    got = admin.get(f"{API}/commits/{commit}/comments/{world['commit_comment']}").json()
    assert "reactions" not in got["properties"]


def test_reaction_refusals(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    url = f"{LIKES}/pull-requests/1/comments/{world['pr_comment']}/reactions"
    error(validating_client(server, auth=None).put(f"{url}/thumbsup"), 401, "AuthenticationRequiredException")
    error(validating_client(server, auth=("likeout", USER_PASSWORD)).put(f"{url}/thumbsup"), 401,
          "AuthorisationException")
    error(admin.put(f"{url}/%3Cscript%3E"), 400, "ArgumentValidationException")
    error(admin.put(f"{url}/{'x' * 80}"), 400, "ArgumentValidationException")
    error(admin.put(f"{LIKES}/pull-requests/1/comments/99999/reactions/thumbsup"), 404, "NoSuchCommentException")
    error(admin.put(f"{LIKES}/pull-requests/7/comments/{world['pr_comment']}/reactions/thumbsup"), 404,
          "NoSuchPullRequestException")
    # the PR comment is not a comment of the commit
    commit = world["commits"]["topic"]
    error(admin.put(f"{LIKES}/commits/{commit}/comments/{world['pr_comment']}/reactions/thumbsup"), 404,
          "NoSuchCommentException")
    error(admin.put(f"{LIKES}/commits/{'1' * 40}/comments/{world['commit_comment']}/reactions/x"), 404,
          "NoSuchCommitException")
