"""The database servers (tests/db/dbservers.py) as session fixtures."""

from dbservers import mariadb_server, redis_cluster, redis_server

__all__ = ["mariadb_server", "redis_cluster", "redis_server"]
