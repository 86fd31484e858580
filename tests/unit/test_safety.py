import ipaddress

import pytest

from craft_dag.collection.safety import address_allowed, is_public, noai_directive, parse_networks


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("224.0.0.1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_explicit_allow_list() -> None:
    allow = parse_networks(["127.0.0.1/32"])
    assert address_allowed(ipaddress.ip_address("127.0.0.1"), allow)
    assert not address_allowed(ipaddress.ip_address("127.0.0.2"), allow)
    assert not address_allowed(ipaddress.ip_address("10.0.0.1"), allow)


def test_bad_network_is_named() -> None:
    with pytest.raises(ValueError, match="'localhost' is not an IP address"):
        parse_networks(["localhost"])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["noai"], True),
        (["noindex, noimageai"], True),
        (["NoAI"], True),
        (["noindex, nofollow"], False),
        (["otherbot: noai"], False),
        (["craft_dag: noai"], True),
        ([], False),
    ],
)
def test_noai(values: list[str], expected: bool) -> None:
    assert noai_directive(values, "craft_dag") is expected
