"""Searching for a secret where it must not be: files, bytes, text, exceptions, objects.

A test that sends an API key to the judge server then checks that the key went
nowhere else: not into a cache or report file, not into printed output, not
into an error message or its chained causes. :func:`find_secret` says where it
occurs; :func:`assert_secret_absent` fails naming those places.

Standard library and this package's display helper only, so it runs wherever the
package does.
"""

from __future__ import annotations

from pathlib import Path

from pytest_llmfunnel.display import truncate


def find_secret(secret: str, *places: object) -> list[str]:
    """Where ``secret`` occurs among ``places``; empty when nowhere.

    A place may be text, bytes, a file or directory (every file under it is
    read), an exception (its text, repr and chained causes) or any object
    (its repr).
    """
    if not secret:
        raise ValueError("an empty secret would be found everywhere")
    found: list[str] = []
    needle = secret.encode("utf-8")
    for place in places:
        if isinstance(place, Path):
            files = (
                [place] if place.is_file() else sorted(p for p in place.rglob("*") if p.is_file())
            )
            found.extend(str(f) for f in files if needle in f.read_bytes())
        elif isinstance(place, bytes):
            if needle in place:
                found.append("bytes")
        elif isinstance(place, BaseException):
            chain: BaseException | None = place
            while chain is not None:
                if secret in str(chain) or secret in repr(chain):
                    found.append(f"{type(chain).__name__}: {truncate(repr(chain), 60)}")
                chain = chain.__cause__ or chain.__context__
        elif isinstance(place, str):
            if secret in place:
                found.append(f"text: {truncate(place, 60)!r}")
        elif secret in repr(place):
            found.append(f"{type(place).__name__}: {truncate(repr(place), 60)}")
    return found


def assert_secret_absent(secret: str, *places: object) -> None:
    """Raise AssertionError naming where ``secret`` leaked, if it did."""
    found = find_secret(secret, *places)
    if found:
        raise AssertionError(f"a secret leaked into: {found}")
