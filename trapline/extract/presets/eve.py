"""Preset ``eve``: Suricata EVE JSON, one event per line.

    {"event_type":"dns","src_ip":"192.168.35.10","dest_ip":"10.55.99.1",
     "dns":{"version":2,"type":"query","rrname":"drivres-update.info","rrtype":"A"}}

yields ``IP 192.168.35.10``, ``IP 10.55.99.1``, ``DOMAIN drivres-update.info``.

Fields read (rule names in brackets, for captures and ``%RE_<name>%``):

- ``src_ip``, ``dest_ip`` [src_ip, dest_ip]: IP
- ``dns.rrname`` (EVE DNS v1/v2), ``dns.queries[].rrname`` (v3), ``dns.query[].rrname``
  (alert metadata) [dns_rrname]: DOMAIN; in answers, ``dns.answers[]`` (or
  ``dns.grouped``) A/AAAA data as IP and CNAME data as DOMAIN [dns_answer]
- ``http.hostname`` + ``http.url`` [http_url]: one URL (an absolute ``http.url`` as is);
  the host alone as DOMAIN or IP [http_hostname] when there is no URL
- ``tls.sni`` [tls_sni], ``quic.sni`` [quic_sni]: DOMAIN
- ``fileinfo.md5/sha1/sha256`` and the same in ``files[]`` (alerts)
  [fileinfo_md5, fileinfo_sha1, fileinfo_sha256]: MD5, SHA1, SHA256
- ``email.url[]`` [email_url]: URL
- context only: event_type, proto, src_port, dest_port, alert_signature,
  alert_signature_id, alert_category, http_user_agent, http_refer, fileinfo_filename

A line that is not an EVE object is read as free text (the ``generic`` preset).
"""

from __future__ import annotations

from typing import Any

import msgspec

from trapline.extract.collector import Collector
from trapline.extract.freetext import scan_text
from trapline.extract.model import DOMAIN, IP, MD5, SHA1, SHA256, URL
from trapline.extract.presets.jsonline import decode_object, text_of
from trapline.extract.rules import RuleSet


class _Name(msgspec.Struct):
    rrname: Any = None


class _Answer(msgspec.Struct):
    rrtype: Any = None
    rdata: Any = None


class _Dns(msgspec.Struct):
    type: Any = None
    rrname: Any = None
    queries: list[_Name] | None = None
    query: list[_Name] | None = None
    answers: list[_Answer] | None = None
    grouped: dict[str, Any] | None = None


class _Http(msgspec.Struct):
    hostname: Any = None
    url: Any = None
    http_user_agent: Any = None
    http_refer: Any = None


class _Sni(msgspec.Struct):
    sni: Any = None


class _File(msgspec.Struct):
    filename: Any = None
    md5: Any = None
    sha1: Any = None
    sha256: Any = None


class _Email(msgspec.Struct):
    url: list[Any] | None = None


class _Alert(msgspec.Struct):
    signature: Any = None
    signature_id: Any = None
    category: Any = None


class _Eve(msgspec.Struct):
    event_type: Any = None
    src_ip: Any = None
    src_port: Any = None
    dest_ip: Any = None
    dest_port: Any = None
    proto: Any = None
    dns: _Dns | None = None
    http: _Http | None = None
    tls: _Sni | None = None
    quic: _Sni | None = None
    fileinfo: _File | None = None
    files: list[_File] | None = None
    email: _Email | None = None
    alert: _Alert | None = None


_DECODER = msgspec.json.Decoder(_Eve)
_ANSWER_TYPES = {"A": IP, "AAAA": IP, "CNAME": DOMAIN}


class EveRuleSet(RuleSet):
    """Suricata EVE JSON lines."""

    preset = "eve"
    default_match = r'"event_type"\s*:'

    def scan(self, text: str, out: Collector) -> None:
        eve = decode_object(text, _DECODER)
        if eve is None:
            scan_text(text, out)
            return
        out.context("event_type", eve.event_type)
        out.context("proto", eve.proto)
        out.context("src_port", eve.src_port)
        out.context("dest_port", eve.dest_port)
        out.field("src_ip", IP, eve.src_ip)
        out.field("dest_ip", IP, eve.dest_ip)
        if eve.dns is not None:
            _dns(eve.dns, out)
        if eve.http is not None:
            _http(eve.http, out)
        if eve.tls is not None:
            out.field("tls_sni", DOMAIN, eve.tls.sni)
        if eve.quic is not None:
            out.field("quic_sni", DOMAIN, eve.quic.sni)
        if eve.fileinfo is not None:
            _file(eve.fileinfo, out)
        if eve.files:
            for file in eve.files:
                _file(file, out)
        if eve.email is not None and eve.email.url:
            for url in eve.email.url:
                out.field("email_url", URL, url)
        if eve.alert is not None:
            out.context("alert_signature", eve.alert.signature)
            out.context("alert_signature_id", eve.alert.signature_id)
            out.context("alert_category", eve.alert.category)


def _dns(dns: _Dns, out: Collector) -> None:
    out.field("dns_rrname", DOMAIN, dns.rrname)
    for names in (dns.queries, dns.query):
        if names:
            for name in names:
                out.field("dns_rrname", DOMAIN, name.rrname)
    if dns.answers:
        for answer in dns.answers:
            kind = _ANSWER_TYPES.get(answer.rrtype) if isinstance(answer.rrtype, str) else None
            if kind is not None:
                out.field("dns_answer", kind, answer.rdata)
    elif dns.grouped:
        for rrtype, kind in _ANSWER_TYPES.items():
            data = dns.grouped.get(rrtype)
            if isinstance(data, list):
                for value in data:
                    out.field("dns_answer", kind, value)


def _http(http: _Http, out: Collector) -> None:
    host, url = text_of(http.hostname), text_of(http.url)
    if url is not None and (host is not None or not url.startswith("/")):
        full = host + url if host is not None and url.startswith("/") else url
        out.field("http_url", URL, full)
    elif host is not None:
        out.field("http_hostname", DOMAIN, host)
    out.context("http_user_agent", http.http_user_agent)
    out.context("http_refer", http.http_refer)


def _file(file: _File, out: Collector) -> None:
    out.context("fileinfo_filename", file.filename)
    out.field("fileinfo_md5", MD5, file.md5)
    out.field("fileinfo_sha1", SHA1, file.sha1)
    out.field("fileinfo_sha256", SHA256, file.sha256)
