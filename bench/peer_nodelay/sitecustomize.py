"""TCP_NODELAY on every TCP listening socket of the MLflow server, as a reverse proxy gives it.

With more than one worker, uvicorn binds the socket in its supervisor and its workers serve the
connections they accept from it without setting TCP_NODELAY, so on a reused connection each
answer waits for the client's delayed ACK (about 40 ms). On Linux an accepted socket inherits
the option from the listening one, so setting it before `listen()` covers every worker.
`bench/run.sh` puts this folder on the MLflow server's PYTHONPATH; nothing else imports it.
"""

import socket

_listen = socket.socket.listen


def _listen_without_nagle(self: socket.socket, *args: int) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and self.type == socket.SOCK_STREAM:
        self.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _listen(self, *args)


socket.socket.listen = _listen_without_nagle  # type: ignore[method-assign]
