"""Flows of the molecule tests: a short scheduled one and a long one."""

import socket
import time

from prefect import flow
from prefect.variables import Variable


@flow(log_prints=True)
def tick() -> str:
    greeting = Variable.get("greeting", default="no variable")
    print(f"tick on {socket.gethostname()}: {greeting}")
    return socket.gethostname()


@flow(log_prints=True)
def sleeper(seconds: int = 600) -> None:
    print(f"sleeping {seconds} s")
    time.sleep(seconds)
