"""Flows of the molecule tests: a short scheduled one, a long one, and one
whose cached task shows where results are shared."""

import socket
import time
import uuid

from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE
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


@task(cache_policy=INPUTS + TASK_SOURCE)
def computed_once(key: str) -> dict:
    """Cached by its input: a run with the same key on any host that reads the
    same result storage returns this host's value instead of computing one."""
    return {"host": socket.gethostname(), "token": uuid.uuid4().hex}


@flow(log_prints=True)
def shared_result(key: str) -> None:
    value = computed_once(key)
    print(f"result of {key} computed on {value['host']}: {value['token']}")
