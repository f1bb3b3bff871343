"""Who calls, and which jobs they see: a job belongs to the API key that made it.

Without keys (``--api-key`` unset: loopback use) every caller sees every job. With keys, each
request carries one; a job stores the SHA-256 of its key (never the key), and a key sees,
reads and deletes only its own jobs. The admin key (``--admin-key``) sees all of them. A job of
another key answers 404, as a job that does not exist.

>>> keys = Keys.of(["k1", "k2"], admin="root")
>>> ann, bob, admin = keys.caller("k1"), keys.caller("k2"), keys.caller("root")
>>> job = Job("0123456789abcdef", "done", 0.0, 0.0, 0.0, {}, [], 1, 1, 0, owner=ann.owner)
>>> ann.sees(job), bob.sees(job), admin.sees(job), keys.caller("nope")
(True, False, True, None)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from docfleet.serve.job import Job


def key_hash(key: str) -> str:
    """What a job stores of its key: the SHA-256 of the key, in hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Caller:
    """The maker of a request: the hash of its key (None without keys) and whether it is the
    admin key (or no key is configured: then everyone is)."""

    owner: str | None
    admin: bool

    def sees(self, job: Job) -> bool:
        return self.admin or (self.owner is not None and job.owner == self.owner)


OPEN = Caller(None, admin=True)  # a server without keys: every caller sees every job


@dataclass(frozen=True)
class Keys:
    """The keys a server accepts: the users' keys and the admin key."""

    users: tuple[str, ...] = ()
    admin: str | None = None

    @classmethod
    def of(cls, users: Iterable[str], admin: str | None = None) -> Keys:
        return cls(tuple(users), admin or None)

    @property
    def required(self) -> bool:
        return bool(self.users or self.admin)

    def caller(self, given: str) -> Caller | None:
        """The caller that ``given`` identifies, or None for no key or a wrong one (each key is
        compared in constant time, and all of them are compared)."""
        if not self.required:
            return OPEN
        found: Caller | None = None
        for key in self.users:
            if hmac.compare_digest(given.encode(), key.encode()) and found is None:
                found = Caller(key_hash(key), admin=False)
        if self.admin and hmac.compare_digest(given.encode(), self.admin.encode()):
            found = Caller(key_hash(self.admin), admin=True)
        return found if given else None
