# -*- coding: utf-8 -*-
"""prefect_deployment_prune against a real server: the deployments of the
given pools that keep does not declare go (check mode lists them first),
the declared ones and every other pool's stay, a second run changes
nothing; a misspelt pool fails before anything goes."""
from __future__ import annotations

import uuid

import pytest

from ansible_collections.selfhosted.prefect.plugins.modules import prefect_deployment_prune


@pytest.fixture
def project(rest):
    """Two pools and two flows; deploy(pool, name, entrypoint, flow) creates
    a deployment as `prefect deploy` would (the server knows a deployment by
    its flow and name)."""
    suffix = uuid.uuid4().hex[:8]
    pools = [f"pruned-{suffix}", f"other-{suffix}"]
    for pool in pools:
        rest("POST", "/work_pools/", {"name": pool, "type": "process", "base_job_template": {}})
    flows = [rest("POST", "/flows/", {"name": f"{kind}-{suffix}"})["id"] for kind in ("etl", "legacy")]

    def deploy(pool, name, entrypoint, flow=0):
        return rest("POST", "/deployments/", {"name": name, "flow_id": flows[flow], "entrypoint": entrypoint,
                                              "work_pool_name": pool})["id"]
    return pools, deploy


def names(rest, pool):
    found = rest("POST", "/deployments/filter", {"work_pools": {"name": {"any_": [pool]}}})
    return sorted((deployment["name"], deployment["entrypoint"]) for deployment in found)


def test_only_undeclared_deployments_of_the_pools_go(run, api, rest, project):
    (pool, other), deploy = project
    deploy(pool, "nightly", "flows.py:etl")
    deploy(pool, "nightly-old", "flows.py:etl")
    deploy(pool, "nightly", "old/flows.py:legacy", flow=1)  # same name, another flow: not the declared one
    deploy(other, "elsewhere", "flows.py:etl")
    args = dict(api, work_pools=[pool], keep=[{"name": "nightly", "entrypoint": "flows.py:etl"}])

    checked = run(prefect_deployment_prune, args, check=True, diff=True)
    assert checked["changed"] is True
    assert checked["removed"] == [{"name": "nightly", "entrypoint": "old/flows.py:legacy", "work_pool": pool},
                                  {"name": "nightly-old", "entrypoint": "flows.py:etl", "work_pool": pool}]
    assert checked["kept"] == 1
    assert checked["diff"]["after"] == {"deployments": [f"{pool}/nightly (flows.py:etl)"]}
    assert len(names(rest, pool)) == 3

    pruned = run(prefect_deployment_prune, args)
    assert pruned["changed"] is True and len(pruned["removed"]) == 2
    assert names(rest, pool) == [("nightly", "flows.py:etl")]
    assert names(rest, other) == [("elsewhere", "flows.py:etl")]
    assert run(prefect_deployment_prune, args)["changed"] is False


def test_every_page_of_deployments_is_read(run, api, rest, project, monkeypatch):
    (pool, _other), deploy = project
    monkeypatch.setattr(prefect_deployment_prune, "PAGE", 2)
    for number in range(5):
        deploy(pool, f"stale-{number}", "flows.py:etl")
    result = run(prefect_deployment_prune, dict(api, work_pools=[pool], keep=[]))
    assert len(result["removed"]) == 5
    assert names(rest, pool) == []


def test_a_pool_that_does_not_exist_fails_and_deletes_nothing(run, api, rest, project):
    (pool, _other), deploy = project
    deploy(pool, "stale", "flows.py:etl")
    result = run(prefect_deployment_prune, dict(api, work_pools=[pool, "no-such-pool"], keep=[]))
    assert result["failed"] is True
    assert result["msg"] == "work pool 'no-such-pool' does not exist"
    assert names(rest, pool) == [("stale", "flows.py:etl")]
    # A check run may come before the task that creates the pool.
    checked = run(prefect_deployment_prune, dict(api, work_pools=[pool, "no-such-pool"], keep=[]), check=True)
    assert checked["removed"] == [{"name": "stale", "entrypoint": "flows.py:etl", "work_pool": pool}]
    assert names(rest, pool) == [("stale", "flows.py:etl")]


@pytest.mark.parametrize("options, words", [
    (dict(work_pools=[], keep=[]), "work_pools must name at least one work pool"),
    (dict(work_pools=[" "], keep=[]), "work_pools must name at least one work pool"),
    (dict(work_pools=["p"], keep=[{"name": "x"}]), "entrypoint"),
])
def test_bad_arguments_fail_before_any_request(run, options, words):
    result = run(prefect_deployment_prune, dict(options, api_url="http://127.0.0.1:9/api"))
    assert result["failed"] is True
    assert words in result["msg"], result["msg"]
