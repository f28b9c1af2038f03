"""The check the PostgreSQL pool runs on a connection before handing it out.

Rule: a pooled connection that sat idle and whose socket has nothing to read is handed
out without a round trip; one with something waiting on its socket (the server's
"terminating connection" notice or the end of the stream after a restart, a kill or an
idle timeout), or one not cleanly idle, gets psycopg's own check, which raises for a
dead connection so that the pool throws it away and hands out a new one. A restarted
database is therefore noticed before a request uses the connection, as with
``ConnectionPool.check_connection``, without paying a round trip on every request."""

from __future__ import annotations

import select

import psycopg
from psycopg import pq
from psycopg_pool import ConnectionPool


def check_pooled_connection(connection: psycopg.Connection) -> None:
    """Raise when ``connection`` must not be handed out (see the module docstring)."""
    if (
        connection.closed
        or connection.pgconn.status != pq.ConnStatus.OK
        or connection.info.transaction_status != pq.TransactionStatus.IDLE
        or _has_data_waiting(connection.pgconn.socket)
    ):
        ConnectionPool.check_connection(connection)


def _has_data_waiting(socket_fd: int) -> bool:
    """True when the idle connection's socket is readable or in error, without waiting."""
    poller = select.poll()
    poller.register(socket_fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))
