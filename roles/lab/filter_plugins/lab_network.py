"""Filters that check the lab's address plan against this machine."""

from __future__ import annotations

import ipaddress
from typing import Any


def _network(text: str) -> ipaddress.IPv4Network | None:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return net if isinstance(net, ipaddress.IPv4Network) else None


def _repeated(values: list[str]) -> list[str]:
    return sorted({v for v in values if values.count(v) > 1})


def lab_node_problems(nodes: list[dict[str, str]], subnet: str) -> list[str]:
    """Say what is wrong with the lab's subnet and nodes, if anything."""
    addresses = [str(node["address"]) for node in nodes]
    names = [str(node["name"]) for node in nodes]
    net = _network(subnet)
    if net is None or "/" not in subnet:
        return [f"lab_subnet {subnet!r} is not an IPv4 network such as 172.30.56.0/24"]
    problems = []
    for address in addresses:
        try:
            ip = ipaddress.IPv4Address(address)
        except ValueError:
            problems.append(f"{address!r} is not an IPv4 address")
            continue
        if ip not in net or ip in (net.network_address, net.broadcast_address):
            problems.append(f"{address} is not a usable address of {subnet}")
    problems += [f"address {a} is given to more than one node" for a in _repeated(addresses)]
    problems += [f"container name {n} is given to more than one node" for n in _repeated(names)]
    return problems


def lab_range_clashes(
    subnet: str, networks: list[dict[str, Any]], routes: list[str], own_network: str
) -> list[str]:
    """Name what already uses an address range that overlaps the lab's."""
    lab = _network(subnet)
    if lab is None:
        return []
    own_bridges = {"br-" + net["Id"][:12] for net in networks if net.get("Name") == own_network}
    users: list[tuple[str, str]] = []
    for net in networks:
        if net.get("Name") == own_network:
            continue
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            users.append((f"Docker network {net.get('Name')}", cfg.get("Subnet", "")))
    for line in routes:
        words = line.split()
        if not words or words[0] == "default":
            continue
        dev = words[words.index("dev") + 1] if "dev" in words[:-1] else "?"
        if dev not in own_bridges:
            users.append((f"a route via {dev}", words[0]))
    clashes = []
    for what, text in users:
        other = _network(text)
        if other is not None and lab.overlaps(other):
            clashes.append(f"{what} ({other})")
    return clashes


class FilterModule:
    """The lab's address checks."""

    def filters(self) -> dict[str, Any]:
        return {
            "lab_node_problems": lab_node_problems,
            "lab_range_clashes": lab_range_clashes,
        }
