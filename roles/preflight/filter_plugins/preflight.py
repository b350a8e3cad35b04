"""Filters for the preflight checks: shared machines, role settings, swarm port probes."""

from __future__ import annotations

from typing import Any


def preflight_shared(keys: dict[str, str]) -> list[dict[str, Any]]:
    """Hosts that share a key (an address, a hostname), in inventory order.

    ``keys`` maps each host to its key; the answer lists every key held by
    more than one host, as ``{"key": KEY, "hosts": [HOST, ...]}``. Keys
    compare without regard to case, as host names and DNS names do.
    """
    holders: dict[str, list[str]] = {}
    shown: dict[str, str] = {}
    for host, key in keys.items():
        folded = str(key).lower()
        holders.setdefault(folded, []).append(host)
        shown.setdefault(folded, str(key))
    return [
        {"key": shown[folded], "hosts": hosts}
        for folded, hosts in holders.items()
        if len(hosts) > 1
    ]


def preflight_endpoints(hosts: list[str], hostvars: Any) -> dict[str, str]:
    """Where Ansible connects to each host: its address and SSH port."""
    answer = {}
    for host in hosts:
        found = hostvars[host]
        address = found.get("ansible_host") or host
        answer[host] = f"{address}, port {found.get('ansible_port') or 22}"
    return answer


def preflight_said(hosts: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    names = [str(host) for host in hosts]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def preflight_given_options(spec: dict[str, Any]) -> dict[str, Any]:
    """A role's ``argument_specs.main.options`` without their defaults.

    Preflight validates only the values the inventory, the play and the
    command line give: the role's own defaults are templates of facts that do
    not exist yet, and Ansible checks them when the role runs.
    """
    options = (spec.get("argument_specs") or {}).get("main", {}).get("options") or {}
    return {
        name: {key: value for key, value in option.items() if key != "default"}
        for name, option in options.items()
    }


def preflight_port_targets(
    nodes: list[dict[str, Any]], source: str, gossip_port: int, vxlan_port: int
) -> list[dict[str, Any]]:
    """What ``source`` must reach: every other node's gossip and VXLAN ports, the managers' API.

    ``nodes`` holds ``{"host", "addr", "manager", "listen_port", "held"}`` for
    every node of the play, ``held`` the ports its responder found taken
    (``{"tcp": [...], "udp": [...]}``). A target is marked ``unprobed`` when it
    is a UDP port held on its node: nothing of ours answers there.
    """
    targets = []
    for node in nodes:
        if node["host"] == source:
            continue
        ports = [(gossip_port, "tcp"), (gossip_port, "udp"), (vxlan_port, "udp")]
        if node["manager"]:
            ports.insert(0, (int(node["listen_port"]), "tcp"))
        held_udp = [int(port) for port in (node.get("held") or {}).get("udp", [])]
        targets += [
            {
                "host": node["host"],
                "addr": node["addr"],
                "port": port,
                "proto": proto,
                "unprobed": proto == "udp" and port in held_udp,
            }
            for port, proto in ports
        ]
    return targets


class FilterModule:
    """Preflight's filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "preflight_shared": preflight_shared,
            "preflight_endpoints": preflight_endpoints,
            "preflight_said": preflight_said,
            "preflight_given_options": preflight_given_options,
            "preflight_port_targets": preflight_port_targets,
        }
