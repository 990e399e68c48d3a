"""Privacy: unit ids are stored only as salted hashes, and a unit's events can be erased.

The gateway stores ``hash_unit(unit_id, salt)`` instead of the unit id: an HMAC-SHA256
keyed with a secret salt, so the stored hash cannot be reversed or recomputed from a
guessed id by anyone without the salt (a plain SHA-256 of a user id can be, by
hashing candidate ids). The salt comes from the environment variable
``ACCUGUARD_PRIVACY_SALT`` (or the configuration); it is never logged or printed. The
gateway and ``accuguard privacy erase`` must use the same salt, or the erasure finds
nothing.

``accuguard privacy erase --unit ID`` deletes the unit's predictions, the feedback of
those predictions and the unit's business events in one transaction, and writes an
``erasures`` row (hash, counts, time, actor) in the same transaction (GDPR art. 17,
CCPA §1798.105). Events of the unit still queued or spooled by a running gateway at
that moment are written afterwards: run the erasure when the gateways' spools are
empty (``spool_bytes`` 0 in ``/metrics``), or run it again.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import os
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from accuguard.errors import AccuguardError, ConfigError, InputError

SALT_ENV = "ACCUGUARD_PRIVACY_SALT"
STORE_ENV = "ACCUGUARD_STORE_URL"
HASH_HEX_CHARS = 32


def hash_unit(unit_id: str, salt: bytes | str) -> str:
    """The stored form of a unit id: ``HMAC-SHA256(key=salt, message=unit_id)``, in hex.

    Formula: ``hex(HMAC-SHA256(salt, utf8(unit_id)))[:32]``, i.e. the first 128 bits
    of the MAC (RFC 2104 HMAC, FIPS 180-4 SHA-256; truncation as allowed by RFC 2104
    §5 and NIST SP 800-107 §5.3.3). 128 bits make an accidental collision between two
    units negligible (about 1e-20 for a billion units) and keep the index small.
    A ``str`` salt is encoded as UTF-8, so ``"s"`` and ``b"s"`` give the same hash.

    Undefined cases: an empty salt raises :class:`~accuguard.errors.InputError` (an
    unkeyed hash would be reversible by guessing ids).

    >>> hash_unit("what do ya want for nothing?", "Jefe")  # RFC 4231 test case 2
    '5bdcc146bf60754e6a042426089575c7'
    """
    key = salt.encode() if isinstance(salt, str) else salt
    if not key:
        raise InputError("the privacy salt is empty; set a long random secret (32 bytes or more)")
    digest = hmac.new(key, unit_id.encode(), hashlib.sha256).hexdigest()
    return digest[:HASH_HEX_CHARS]


def unit_hasher(salt: bytes | str) -> Callable[[str], str]:
    """:func:`hash_unit` with the salt fixed, for hashing many ids with one salt.

    The keyed HMAC state is built once and copied per call: the same hashes as
    :func:`hash_unit`, without re-keying on every request (the gateway's hot path).
    An empty salt raises :class:`~accuguard.errors.InputError` here, as in
    :func:`hash_unit`.

    >>> unit_hasher("Jefe")("what do ya want for nothing?")  # RFC 4231 test case 2
    '5bdcc146bf60754e6a042426089575c7'
    """
    key = salt.encode() if isinstance(salt, str) else salt
    hash_unit("", key)  # raises on an empty salt
    keyed = hmac.new(key, digestmod=hashlib.sha256)

    def hashed(unit_id: str) -> str:
        mac = keyed.copy()
        mac.update(unit_id.encode())
        return mac.hexdigest()[:HASH_HEX_CHARS]

    return hashed


def salt_from_env(name: str = SALT_ENV) -> bytes:
    """The privacy salt from the environment variable ``name``.

    Raises :class:`~accuguard.errors.ConfigError` naming the variable when it is
    unset or empty (the value itself is never shown).
    """
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(
            f"environment variable {name} is not set or empty; set it to the secret salt "
            "the gateway hashes unit ids with (the same value, or the erasure finds nothing)"
        )
    return value.encode()


def erase_unit(url: str | None, unit_id: str, salt: bytes | str, actor: str) -> dict[str, int]:
    """Erase one unit's events from the event log at ``url`` and audit it.

    Deletes the unit's predictions, their feedback and its business events, and
    writes an ``erasures`` row (unit hash, counts, time, ``actor``), all in one
    transaction. Returns the rows deleted per table
    (``predictions``, ``feedback``, ``business_events``).

    Raises :class:`~accuguard.errors.InputError` for a bad URL, a SQLite file that
    does not exist, a database without the event-log schema, or an empty unit id /
    actor / salt; SQLAlchemy's ``OperationalError`` when the database is unreachable.
    """
    from accuguard.store.engine import describe_url, make_engine
    from accuguard.store.migrate import current_revision
    from accuguard.store.repository import EventRepository

    if not unit_id:
        raise InputError("the unit id to erase is empty")
    if not actor:
        raise InputError("the actor of an erasure is empty; name who asked for it")
    unit_hash = hash_unit(unit_id, salt)
    engine = make_engine(url, must_exist=True)
    try:
        if current_revision(engine) is None:
            raise InputError(
                f"event-log URL {describe_url(engine.url)!r} has no accuguard event log "
                "(no schema revision); check the URL"
            )
        return EventRepository(engine).erase_unit(unit_hash, actor=actor)
    finally:
        engine.dispose()


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER variable and no passwd entry (containers)
        return "unknown"


privacy_app = typer.Typer(
    help="Privacy: erase a unit's events from the event log (GDPR/CCPA), audited.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_err = Console(stderr=True, highlight=False, soft_wrap=True)
Opt = typer.Option


@privacy_app.callback()
def _privacy() -> None:
    """Privacy: erase a unit's events from the event log (GDPR/CCPA), audited."""


@privacy_app.command("erase")
def erase_command(
    unit: Annotated[str, Opt("--unit", help="The unit id (user, session) to erase, in clear.")],
    store: Annotated[
        str,
        Opt("--store", envvar=STORE_ENV, help="Event-log URL (sqlite:///file.db or postgresql…)."),
    ] = "sqlite:///accuguard.db",
    salt_env: Annotated[
        str, Opt("--salt-env", help="Environment variable holding the privacy salt.")
    ] = SALT_ENV,
    actor: Annotated[
        str | None, Opt("--actor", help="Who asked for the erasure (default: your user name).")
    ] = None,
) -> None:
    """Delete a unit's predictions, their feedback and its business events; audit it.

    Prints the rows deleted per table. Exit codes: 0 done (also when nothing was
    found), 1 the event log is unreachable, 2 bad input (URL, missing salt).
    """
    from accuguard.store.engine import describe_url

    try:
        salt = salt_from_env(salt_env)
        counts = erase_unit(store, unit, salt, actor or _user())
    except AccuguardError as exc:
        _err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:
        _err.print(
            f"[bold red]error:[/] the event log at {escape(repr(describe_url(store)))} cannot be "
            "reached "
            f"({type(exc).__name__}); nothing was erased"
        )
        raise typer.Exit(1) from None
    typer.echo(f"erased unit hash {hash_unit(unit, salt)}")
    for table, count in counts.items():
        typer.echo(f"{table}: {count}")
