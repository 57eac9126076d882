"""The verified-password cache: keyed by user, password and stored hash; bounded; short-lived."""

from __future__ import annotations

from culm.core.credential_cache import VerifiedPasswords


def test_hit_only_for_same_user_password_and_hash() -> None:
    cache = VerifiedPasswords()
    assert not cache.hit(1, "$argon2id$h1", "pw")
    cache.remember(1, "$argon2id$h1", "pw")
    assert cache.hit(1, "$argon2id$h1", "pw")
    assert not cache.hit(1, "$argon2id$h1", "other")
    assert not cache.hit(2, "$argon2id$h1", "pw")
    assert not cache.hit(1, "$argon2id$h2", "pw")  # a changed password hash invalidates at once
    assert not cache.hit(1, None, "pw") and not cache.hit(1, "", "pw")


def test_entries_expire() -> None:
    cache = VerifiedPasswords(ttl_seconds=-1)
    cache.remember(1, "h", "pw")
    assert not cache.hit(1, "h", "pw")
    assert len(cache) == 0


def test_bounded_least_recently_used_go_first() -> None:
    cache = VerifiedPasswords(max_entries=2)
    cache.remember(1, "h", "a")
    cache.remember(2, "h", "b")
    assert cache.hit(1, "h", "a")  # now 2 is the least recently used
    cache.remember(3, "h", "c")
    assert len(cache) == 2
    assert cache.hit(1, "h", "a") and cache.hit(3, "h", "c") and not cache.hit(2, "h", "b")


def test_plain_password_is_not_kept() -> None:
    cache = VerifiedPasswords()
    cache.remember(1, "h", "hunter2-secret")
    assert all(b"hunter2-secret" not in key[1] for key in cache._entries)
