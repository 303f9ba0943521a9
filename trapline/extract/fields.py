"""The observable type of a ``key=value`` field, from the key's name.

    >>> field_type("src.ip"), field_type("dst_host"), field_type("object.hash"), field_type("port")
    ('IP', 'DOMAIN', 'HASH', None)

Keys are compared in lower case with ``.`` and ``-`` read as ``_``. A key is typed by
its whole name (``ip``, ``url``, ``md5``, ``query``...) or by its last part
(``src_ip``, ``dst.host``, ``file_sha256``); anything else is context.
"""

from __future__ import annotations

from functools import lru_cache

from trapline.extract.model import DOMAIN, HASH, IP, MD5, SHA1, SHA256, URL

_NAMES: dict[str, str] = {
    **dict.fromkeys(("ip", "src", "dst", "dest", "srcip", "dstip", "destip", "ipv4", "ipv6",
                     "ip_address", "ipaddress", "address", "addr", "saddr", "daddr",
                     "client", "clientip", "serverip", "remoteip", "c_ip", "s_ip"), IP),
    **dict.fromkeys(("url", "uri_full", "request", "requesturl", "request_url", "http_url",
                     "full_url"), URL),
    **dict.fromkeys(("domain", "host", "hostname", "fqdn", "query", "dns_query", "qname",
                     "rrname", "sni", "server_name", "dhost", "shost"), DOMAIN),
    "md5": MD5,
    "sha1": SHA1,
    "sha256": SHA256,
    **dict.fromkeys(("hash", "filehash", "file_hash", "hashes"), HASH),
}
# Last parts: src_ip, dst.ip, recv_ipv4, dst.host, event_src.host, file_md5, object.hash...
_SUFFIXES: dict[str, str] = {
    "ip": IP, "ipv4": IP, "ipv6": IP, "addr": IP, "address": IP,
    "url": URL,
    "host": DOMAIN, "hostname": DOMAIN, "domain": DOMAIN, "fqdn": DOMAIN,
    "md5": MD5, "sha1": SHA1, "sha256": SHA256, "hash": HASH,
}


@lru_cache(maxsize=4096)
def field_type(key: str) -> str | None:
    """The observable type of a field named ``key``, or None for a context field."""
    name = key.lower().replace(".", "_").replace("-", "_")
    kind = _NAMES.get(name)
    if kind is None and "_" in name:
        kind = _SUFFIXES.get(name[name.rfind("_") + 1:])
    return kind
