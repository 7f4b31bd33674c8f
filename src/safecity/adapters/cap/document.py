"""Reading an XML document as its declaration says, and verifying enveloped XML signatures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import SignXMLException
from signxml.verifier import SignatureConfiguration, XMLVerifier

from safecity.adapters.common.xml import lxml_root


@dataclass(frozen=True)
class Verification:
    ok: bool
    detail: str


_SHA1_METHODS = frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.DSA_SHA1})
_SHA1_DIGESTS = frozenset({DigestAlgorithm.SHA1})


def verify_enveloped(
    element: etree._Element,
    trusted: list[x509.Certificate],
    *,
    at: datetime,
    allow_sha1: bool,
) -> Verification:
    """Check an alert's enveloped signature against the trusted certificates, at time ``at``.

    The key in the document's own ``KeyInfo`` is never trusted; only a configured certificate
    can make a signature verify, and it must cover the whole alert (``Reference URI=""``).
    """
    standalone = lxml_root(etree.tostring(element))
    defaults = SignatureConfiguration()
    config = SignatureConfiguration(
        require_x509=False,
        expect_references=1,
        signature_methods=defaults.signature_methods | (_SHA1_METHODS if allow_sha1 else set()),
        digest_algorithms=defaults.digest_algorithms | (_SHA1_DIGESTS if allow_sha1 else set()),
        verification_time=at,
    )
    reasons: list[str] = []
    for cert in trusted:
        try:
            result = XMLVerifier().verify(
                standalone,
                x509_cert=cert,
                validate_schema=False,  # an Id with a space must not sink a real alert
                expect_config=config,
            )
        except (SignXMLException, ValueError, etree.LxmlError) as exc:
            reasons.append(f"{type(exc).__name__}: {exc}"[:300])
            continue
        signed = result[0] if isinstance(result, list) else result
        if signed.signed_xml is None or signed.signed_xml.tag != standalone.tag:
            reasons.append("the signature does not cover the whole alert")
            continue
        return Verification(True, cert.subject.rfc4514_string())
    if not trusted:
        reasons.append("no trusted certificate is configured")
    return Verification(False, "; ".join(dict.fromkeys(reasons)))
