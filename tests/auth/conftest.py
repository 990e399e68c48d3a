from tests.audit.conftest import engine, sqlite_store, store_url

__all__ = ["engine", "sqlite_store", "store_url"]
