"""`blockpost serve` with a certificate: HTTPS only, Secure cookies, embedded agents that still
reach it, and clear startup errors for a certificate or key it cannot use."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import certifi
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from blockpost import cli
from blockpost.db.engine import Database
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e
FINISH_TIMEOUT = 30.0


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def self_signed(folder: Path, dns: list[str], ips: list[str]) -> Certificate:
    """A self-signed certificate for these names, as an operator makes one with openssl."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (dns or ips)[0])])
    now = datetime.datetime.now(datetime.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName(host) for host in dns]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    made = Certificate(folder / "server.crt", folder / "server.key")
    made.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    made.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    made.key.chmod(0o600)
    return made


@dataclass
class TlsServer(ServerProcess):
    host_name: str = "127.0.0.1"  # how the test's clients reach it

    @property
    def url(self) -> str:
        return f"https://{self.host_name}:{self.port}"


def tls_server(
    database_url: str,
    tmp_path: Path,
    made: Certificate,
    monkeypatch: pytest.MonkeyPatch,
    host_name: str = "127.0.0.1",
    **env: str,
) -> TlsServer:
    # The test's own clients (the helper's health check and admin client) trust the certificate
    # as a user does, through SSL_CERT_FILE; the embedded agents get none of the server's
    # environment, so this cannot help them.
    monkeypatch.setenv("SSL_CERT_FILE", str(made.cert))
    return TlsServer(
        database_url,
        tmp_path / "data",
        extra_env={"BLOCKPOST_TLS_CERT": str(made.cert), "BLOCKPOST_TLS_KEY": str(made.key), **env},
        host_name=host_name,
    )


def test_serves_the_api_over_https_only_with_secure_cookies(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = self_signed(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    server = tls_server(database_url, tmp_path, made, monkeypatch).start()
    try:
        assert f"URL:       https://127.0.0.1:{server.port}" in server.output()
        trusting = ssl.create_default_context(cafile=str(made.cert))
        with httpx.Client(base_url=server.url, verify=trusting) as browser:
            login = browser.post(
                "/api/auth/login", json={"auth": "admin", "password": server.admin_password}
            )
            assert login.status_code == 204, login.text
            attributes = [part.strip().lower() for part in login.headers["set-cookie"].split(";")]
            assert "secure" in attributes
            assert "httponly" in attributes
            token = browser.post("/api/user/tokens").json()["id"]
            projects = browser.get(
                "/api/v1alpha/projects", headers={"Authorization": f"Token {token}"}
            )
            assert projects.status_code == 200
        # SSL_CERT_FILE is set here: a client with the usual authorities only must refuse it.
        public_authorities = ssl.create_default_context(cafile=certifi.where())
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{server.url}/healthz", verify=public_authorities)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
    finally:
        server.stop()


@pytest.mark.parametrize(
    "ips",
    [["127.0.0.1"], []],
    ids=["certificate-for-127.0.0.1", "certificate-for-a-host-name-only"],
)
def test_the_embedded_agent_runs_a_job_when_the_server_serves_https(
    ips: list[str],
    db: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The agent connects to 127.0.0.1 all the same: it must check the certificate for the name
    # the certificate holds (here one that the test's own clients can resolve).
    made = self_signed(tmp_path / "tls", ["localhost"], ips)
    server = tls_server(
        database_url,
        tmp_path,
        made,
        monkeypatch,
        host_name="127.0.0.1" if ips else "localhost",
        BLOCKPOST_AGENTS="1",
    ).start()
    try:
        with server.admin_client() as api:
            project = api.post(
                "/api/v1alpha/projects",
                json={"metadata": {"name": "tls"}, "spec": {"repository": {"url": "/srv/r"}}},
            ).json()
            created = api.post(
                "/api/v1alpha/jobs",
                json={
                    "metadata": {"name": "over https"},
                    "spec": {
                        "project_id": project["metadata"]["id"],
                        "agent": {"machine": {"type": "e1-standard-2", "os_image": "ubuntu2004"}},
                        "commands": ["echo ran over https"],
                    },
                },
            ).json()
            job_id = created["metadata"]["id"]
            deadline = time.monotonic() + FINISH_TIMEOUT
            job = api.get(f"/api/v1alpha/jobs/{job_id}").json()
            while job["status"]["state"] != "FINISHED" and time.monotonic() < deadline:
                time.sleep(0.2)
                job = api.get(f"/api/v1alpha/jobs/{job_id}").json()
            assert job["status"]["result"] == "PASSED", server.output()
            assert "ran over https" in api.get(f"/jobs/{job_id}/plain_logs.json").text
    finally:
        server.stop()


def serve_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    """What `blockpost serve FLAGS` says on stderr as it exits 2 before serving anything."""
    code = cli.main(["--data-dir", str(tmp_path / "data"), "serve", "--agents", "0", *flags])
    assert code == 2
    return capsys.readouterr().err


def test_a_certificate_without_its_key_is_refused_naming_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = self_signed(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    assert serve_refuses(tmp_path, capsys, "--tls-cert", str(made.cert)) == (
        "blockpost: setting tls_key (BLOCKPOST_TLS_KEY): Value error, "
        "is required when BLOCKPOST_TLS_CERT (--tls-cert) is set\n"
    )
    assert serve_refuses(tmp_path, capsys, "--tls-key", str(made.key)) == (
        "blockpost: setting tls_key (BLOCKPOST_TLS_KEY): Value error, "
        "needs BLOCKPOST_TLS_CERT (--tls-cert) too\n"
    )


def test_missing_or_unusable_files_are_refused_naming_the_setting_and_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    made = self_signed(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    other = self_signed(tmp_path / "other", ["localhost"], ["127.0.0.1"])
    missing = tmp_path / "nowhere.pem"

    monkeypatch.setenv("BLOCKPOST_TLS_CERT", str(missing))
    monkeypatch.setenv("BLOCKPOST_TLS_KEY", str(made.key))
    assert serve_refuses(tmp_path, capsys) == (
        "blockpost: setting tls_cert (BLOCKPOST_TLS_CERT): Value error, no such file "
        f"(got {str(missing)!r})\n"
    )
    monkeypatch.setenv("BLOCKPOST_TLS_CERT", str(made.key))
    assert "holds no PEM certificate" in serve_refuses(tmp_path, capsys)
    monkeypatch.setenv("BLOCKPOST_TLS_CERT", str(made.cert))
    monkeypatch.setenv("BLOCKPOST_TLS_KEY", str(other.key))
    assert serve_refuses(tmp_path, capsys).startswith(
        "blockpost: setting tls_key (BLOCKPOST_TLS_KEY): Value error, "
        f"{other.key} is not the private key of the certificate in {made.cert}"
    )
    monkeypatch.setenv("BLOCKPOST_TLS_KEY", str(made.cert))
    assert f"{made.cert} holds no PEM private key" in serve_refuses(tmp_path, capsys)
