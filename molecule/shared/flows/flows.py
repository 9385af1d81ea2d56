"""Flows of the molecule tests: a short scheduled one and a long one."""

import socket
import time

from prefect import flow


@flow(log_prints=True)
def tick() -> str:
    print(f"tick on {socket.gethostname()}")
    return socket.gethostname()


@flow(log_prints=True)
def sleeper(seconds: int = 600) -> None:
    print(f"sleeping {seconds} s")
    time.sleep(seconds)
