"""The load balancers' floating address (keepalived on lb1 and lb2): held by
exactly one of them, lb1 first; VRRP let in from the other load balancer
only; when the holder's HAProxy stops, the other takes the address and
serves; once HAProxy runs again, the address stays where it went (no second
move). The loss of the holder's whole host, under load, is in test_load."""

import time

from ha_cluster import FLOATING_ADDRESS, LOAD_BALANCERS, address, floating_address_holders, https_json, wait_for


def test_one_load_balancer_holds_the_floating_address(hosts):
    for name in LOAD_BALANCERS:
        assert hosts[name].service("keepalived").is_running, name
        assert hosts[name].service("keepalived").is_enabled, name
        assert hosts[name].file("/etc/keepalived/keepalived.conf").mode == 0o640, name
    assert len(floating_address_holders(hosts)) == 1, floating_address_holders(hosts)


def test_vrrp_is_let_in_from_the_other_load_balancer_only(hosts):
    for name in LOAD_BALANCERS:
        other = next(peer for peer in LOAD_BALANCERS if peer != name)
        rules = hosts[name].check_output("cat /etc/nftables.d/selfhosted-prefect/loadbalancer.nft")
        vrrp = [line for line in rules.splitlines() if "vrrp" in line and "accept" in line]
        assert vrrp == [f'ip saddr {address(hosts[other])}/32 meta l4proto vrrp accept '
                        'comment "VRRP from the other load balancers"'], rules


def test_the_address_moves_when_haproxy_stops_and_stays_when_it_returns(hosts, ca_file):
    holders = floating_address_holders(hosts)
    assert len(holders) == 1, holders
    old = holders[0]
    other = next(name for name in LOAD_BALANCERS if name != old)
    stopped_at = time.monotonic()
    hosts[old].check_output("systemctl stop haproxy")
    try:
        moved = wait_for(lambda: floating_address_holders(hosts) == [other], 15, 0.1)
        took = time.monotonic() - stopped_at
        print(f"\nHAProxy stopped on {old}: {other} held {FLOATING_ADDRESS} after {took:.1f} s")
        assert moved, floating_address_holders(hosts)
        assert https_json(ca_file, "/api/health") is True
    finally:
        hosts[old].check_output("systemctl start haproxy")
    # keepalived's check passes again within two seconds; nothing moves back.
    assert not wait_for(lambda: floating_address_holders(hosts) != [other], 5, 0.5), floating_address_holders(hosts)
    assert https_json(ca_file, "/api/health") is True
