"""Which driver errors count as a database outage (503) and which do not."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from kumiai.core.exceptions import ConflictError, DatabaseUnavailableError
from kumiai.infrastructure.database.unit_of_work import translate_database_error


def _wrapped(driver_error: Exception, *, invalidated: bool = False) -> DBAPIError:
    """What SQLAlchemy's asyncpg adapter raises: the driver error is the cause of orig."""
    adapted = Exception(str(driver_error))
    adapted.__cause__ = driver_error
    return DBAPIError("SELECT 1", {}, adapted, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "driver_error",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.CrashShutdownError("terminating connection due to crash"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.ConnectionFailureError("connection failure"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_connection_class_errors_are_an_outage(driver_error: Exception) -> None:
    translated = translate_database_error(_wrapped(driver_error))
    assert isinstance(translated, DatabaseUnavailableError)
    assert translated.code == "database_unavailable"


def test_a_connection_lost_mid_statement_is_an_outage() -> None:
    lost = _wrapped(RuntimeError("connection was closed"), invalidated=True)
    assert isinstance(translate_database_error(lost), DatabaseUnavailableError)


@pytest.mark.parametrize(
    "error",
    [
        OSError(36, "File name too long"),
        FileNotFoundError(2, "No such file or directory"),
        PermissionError(13, "Permission denied"),
        ConnectionRefusedError(111, "Connection refused"),  # e.g. from an HTTP client
    ],
    ids=lambda error: type(error).__name__,
)
def test_an_oserror_from_anything_but_the_driver_is_not_an_outage(error: Exception) -> None:
    # Connection failures of the driver are named by the engine when it connects
    # (engine.py); an OSError met inside a unit of work is the filesystem's.
    assert translate_database_error(error) is None


def test_a_statement_error_is_not_an_outage() -> None:
    division = _wrapped(asyncpg.exceptions.DivisionByZeroError("division by zero"))
    assert translate_database_error(division) is None


def test_a_constraint_violation_is_a_conflict_naming_the_constraint() -> None:
    driver_error = asyncpg.exceptions.UniqueViolationError("duplicate key")
    driver_error.constraint_name = "uq_projects_live_path"  # type: ignore[attr-defined]
    adapted = Exception("duplicate key")
    adapted.__cause__ = driver_error
    translated = translate_database_error(IntegrityError("INSERT", {}, adapted))
    assert isinstance(translated, ConflictError)
    assert translated.details == {"constraint": "uq_projects_live_path"}
