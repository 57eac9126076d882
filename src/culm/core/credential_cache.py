"""A small in-process cache of successful password verifications.

argon2 is slow on purpose (~0.1-0.2 s per verify), and HTTP Basic sends the password on every
request, so scripts and git clients would pay that cost on every call. A verified
(user, password, stored hash) triple is remembered for a few minutes. The key digests the password
with the stored hash and a per-process secret, so changing the password (a new hash) misses the
cache at once, and the plain password is never kept. Failures are never cached, entries are
bounded (least recently used go first), and each process has its own cache: nothing is shared.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict

_PROCESS_SECRET = secrets.token_bytes(32)


class VerifiedPasswords:
    def __init__(self, max_entries: int = 1024, ttl_seconds: float = 180.0) -> None:
        self.max_entries = max_entries
        self.ttl = ttl_seconds
        self._entries: OrderedDict[tuple[int, bytes], float] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(user_id: int, password_hash: str, password: str) -> tuple[int, bytes]:
        digest = hashlib.sha256(
            _PROCESS_SECRET + password_hash.encode() + b"\x00" + password.encode()
        ).digest()
        return user_id, digest

    def hit(self, user_id: int, password_hash: str | None, password: str) -> bool:
        """True when this password was verified against this exact stored hash recently."""
        if not password_hash:
            return False
        key = self._key(user_id, password_hash, password)
        now = time.monotonic()
        with self._lock:
            expires = self._entries.get(key)
            if expires is None:
                return False
            if expires <= now:
                del self._entries[key]
                return False
            self._entries.move_to_end(key)
            return True

    def remember(self, user_id: int, password_hash: str, password: str) -> None:
        """Record a successful verification (call only after argon2 said yes)."""
        key = self._key(user_id, password_hash, password)
        with self._lock:
            self._entries[key] = time.monotonic() + self.ttl
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


verified_passwords = VerifiedPasswords()
