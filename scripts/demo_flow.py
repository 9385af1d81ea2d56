"""A sample flow for scripts/demo: it must land in the hosted server."""
from prefect import flow, get_run_logger
from prefect.settings import PREFECT_API_URL


@flow(name="selfhosted-demo")
def hello() -> str:
    get_run_logger().info("hello from a flow stored by %s", PREFECT_API_URL.value())
    return "ok"


if __name__ == "__main__":
    if not PREFECT_API_URL.value():
        raise SystemExit("PREFECT_API_URL is unset: this run would go to an ephemeral API")
    print("PREFECT_API_URL =", PREFECT_API_URL.value())
    hello()
