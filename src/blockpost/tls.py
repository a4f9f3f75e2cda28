"""HTTPS: checking the server's certificate and key, and how agents trust the server."""

from __future__ import annotations

import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

LOOPBACK = ipaddress.ip_address("127.0.0.1")


def check_readable(path: Path) -> Path:
    """The path, if it names a file this process can read; ValueError saying why not."""
    if not path.is_file():
        raise ValueError("no such file")
    if not os.access(path, os.R_OK):
        raise ValueError("the file is not readable (permissions)")
    return path


def _certificates(cert: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(cert.read_bytes())
    except ValueError:
        raise ValueError(f"{cert} holds no PEM certificate") from None


def check_pair(cert: Path, key: Path) -> None:
    """ValueError saying what is wrong unless `key` is the unencrypted PEM private key of the
    first certificate in `cert`: what uvicorn would otherwise fail on with 'PEM lib'."""
    leaf = _certificates(cert)[0]
    try:
        private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    except TypeError:
        raise ValueError(f"{key} is encrypted; give the key without a passphrase") from None
    except ValueError:
        raise ValueError(f"{key} holds no PEM private key") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ) != leaf.public_key().public_bytes(serialization.Encoding.DER, spki):
        raise ValueError(f"{key} is not the private key of the certificate in {cert}")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise ValueError(f"cannot serve with {cert} and {key}: {exc}") from None


def local_server_name(cert: Path) -> str | None:
    """The name to check the server's certificate for when reaching it at 127.0.0.1: None
    when the certificate is for 127.0.0.1 itself, else a host name it names."""
    leaf = _certificates(cert)[0]
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        names = x509.SubjectAlternativeName([])
    if LOOPBACK in names.get_values_for_type(x509.IPAddress):
        return None
    hosts = names.get_values_for_type(x509.DNSName) or [
        str(attribute.value)
        for attribute in leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    ]
    if not hosts:
        return None
    # Any name a wildcard covers will do: "*.example.com" is checked as "blockpost.example.com".
    return hosts[0].replace("*", "blockpost", 1)


def client_context(ca_file: Path) -> ssl.SSLContext:
    """How an agent checks a server whose certificate the system does not trust: against the
    certificates in `ca_file` only (a self-signed certificate, a private CA, or the server's
    own chain)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    # The server's own certificate (or an issuer short of a root) is enough to trust.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context
