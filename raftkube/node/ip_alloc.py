"""Pod IPs: one loopback address per pod from the node's pod CIDR, never handed out twice while held.

Allocation walks forward from the last address given out (as host-local IPAM does), so an
address just released is not reused at once; the network and broadcast addresses are never used.
A restarted agent re-reserves the addresses its adopted sandboxes carry (`reserve`).
"""

from __future__ import annotations

import ipaddress


class IpExhausted(Exception):
    pass


class IpAllocator:
    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        hosts = list(self.network.hosts()) or [self.network.network_address]
        self._hosts = [str(h) for h in hosts]
        self._by_uid: dict[str, str] = {}
        self._held: dict[str, str] = {}  # ip -> uid
        self._cursor = 0

    def contains(self, ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in self.network
        except ValueError:
            return False

    def get(self, uid: str) -> str | None:
        return self._by_uid.get(uid)

    def held(self) -> dict[str, str]:
        """ip -> uid of every address held."""
        return dict(self._held)

    def reserve(self, uid: str, ip: str) -> bool:
        """Hold `ip` for `uid` (adoption); False if it is outside the CIDR or another pod holds it."""
        if not self.contains(ip) or ip not in set(self._hosts):
            return False
        holder = self._held.get(ip)
        if holder is not None and holder != uid:
            return False
        old = self._by_uid.get(uid)
        if old is not None and old != ip:
            self._held.pop(old, None)
        self._held[ip] = uid
        self._by_uid[uid] = ip
        return True

    def allocate(self, uid: str) -> str:
        """The pod's address (the one it holds already, else the next free one)."""
        if uid in self._by_uid:
            return self._by_uid[uid]
        count = len(self._hosts)
        for step in range(count):
            index = (self._cursor + step) % count
            ip = self._hosts[index]
            if ip not in self._held:
                self._cursor = (index + 1) % count
                self._held[ip] = uid
                self._by_uid[uid] = ip
                return ip
        raise IpExhausted(f"no free address left in {self.network} ({count} held)")

    def release(self, uid: str) -> None:
        ip = self._by_uid.pop(uid, None)
        if ip is not None:
            self._held.pop(ip, None)
