"""Failed sign-ins and failed token checks, counted per account and per address in the cache.

Sign-in: past the limit within the window, the next attempt is refused (429) before the
password is checked, with the minutes to wait; a success does not reset the address's count, so
a guesser cycling through accounts from one address is still stopped. Tokens: only failures are
counted and answered 429 past the limit, so a good token never pays for the count.
"""

from dataclasses import dataclass

from django.core.cache import cache

WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True)
class Limit:
    kind: str  # "login" or "token"
    per_account: int
    per_address: int


LOGIN = Limit("login", per_account=10, per_address=30)
TOKEN = Limit("token", per_account=0, per_address=60)  # tokens have no account to count


def _keys(limit: Limit, address: str, account: str) -> list[tuple[str, int]]:
    keys = [(f"throttle:{limit.kind}:address:{address}", limit.per_address)]
    if account and limit.per_account:
        keys.append((f"throttle:{limit.kind}:account:{account.lower()}", limit.per_account))
    return keys


def blocked(limit: Limit, *, address: str, account: str = "") -> bool:
    return any((cache.get(key) or 0) >= most for key, most in _keys(limit, address, account))


def count_failure(limit: Limit, *, address: str, account: str = "") -> None:
    for key, _ in _keys(limit, address, account):
        if cache.add(key, 1, WINDOW_SECONDS):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, WINDOW_SECONDS)


def message(limit: Limit) -> str:
    what = "sign-in attempts" if limit.kind == "login" else "requests with a wrong token"
    return f"Too many failed {what}. Wait {WINDOW_SECONDS // 60} minutes and try again."


def client_address(request) -> str:
    """The peer's address; behind a proxy, run gunicorn with --forwarded-allow-ips."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"
