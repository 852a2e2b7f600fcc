"""The deadline on blocking database calls, on real sockets: one watchdog for every call."""

from __future__ import annotations

import socket
import threading

from foundation.socket_deadline import socket_deadline


def test_a_read_nobody_answers_is_ended_at_the_deadline() -> None:
    ours, silent_peer = socket.socketpair()
    with ours, silent_peer:
        with socket_deadline(ours, 0.2) as expired:
            assert ours.recv(1) == b""  # without the deadline this read would block for ever
            assert expired()
        assert expired()


def test_a_call_that_finishes_in_time_leaves_its_socket_alone() -> None:
    ours, peer = socket.socketpair()
    with ours, peer:
        with socket_deadline(ours, 0.2) as expired:
            peer.sendall(b"x")
            assert ours.recv(1) == b"x"
        assert not expired()
        threading.Event().wait(0.4)  # past the deadline: the disarmed call is not touched
        peer.sendall(b"y")
        assert ours.recv(1) == b"y"


def test_many_concurrent_calls_each_get_their_own_deadline() -> None:
    pairs = [socket.socketpair() for _ in range(20)]
    results: dict[int, bool] = {}

    def call(index: int, ours: socket.socket, peer: socket.socket) -> None:
        with socket_deadline(ours, 0.3) as expired:
            if index % 2:
                peer.sendall(b"x")
            ours.recv(1)
        results[index] = expired()

    threads = [threading.Thread(target=call, args=(i, *pair)) for i, pair in enumerate(pairs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    for ours, peer in pairs:
        ours.close()
        peer.close()
    assert results == {i: i % 2 == 0 for i in range(20)}
