# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The prefect_pki role run by Ansible on this host, in temporary
directories: the collection's CA made once and trusted, the site's CA and
certificates installed as given, and the refusals. The issuing of
certificates (a key on the serving host, signed by the CA) runs in the
Molecule scenarios, on PostgreSQL's hosts."""
from __future__ import annotations

import datetime
import json
import os
import stat
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    # localhost named in the inventory is no implicit localhost: point it at
    # Ansible's own Python, as the implicit one is (the CA's modules need
    # cryptography).
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  tasks:
    - ansible.builtin.include_role:
        name: selfhosted.prefect.prefect_pki
        tasks_from: {entry_point}
      vars: {role_vars}
    - ansible.builtin.copy:
        content: "{{{{ {{'ca_changed': prefect_pki_ca_changed | default(none),
                       'certificate': prefect_pki_certificate | default(none)}} | to_json }}}}"
        dest: {result}
        mode: "0600"
      check_mode: false
      changed_when: false
"""


def play(tmp_path, entry_point, check=False, **role_vars):
    """Run the entry point; return (rc, output, the role's returned facts)."""
    playbook = tmp_path / f"{entry_point}.yml"
    result_file = tmp_path / "result.json"
    result_file.unlink(missing_ok=True)
    playbook.write_text(PLAY.format(entry_point=entry_point, role_vars=json.dumps(role_vars), result=result_file))
    result = subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", *(["--check"] if check else []), str(playbook)],
                            capture_output=True, text=True, check=False,
                            env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false"))
    output = result.stdout + result.stderr
    facts = json.loads(result_file.read_text()) if result_file.exists() else None
    return result.returncode, output, facts


def changed(output):
    return int(output.rsplit("changed=", 1)[1].split()[0])


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def site_files(tmp_path):
    """A site CA and a certificate it signed for db1, as PEM files."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Site CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "db1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=30)).sign(ca_key, hashes.SHA256()))
    paths = {name: tmp_path / "site" / f"{name}.pem" for name in ("ca", "cert", "key")}
    paths["ca"].parent.mkdir()
    paths["ca"].write_bytes(ca.public_bytes(Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return paths


def test_the_collections_ca_is_made_once_and_trusted(tmp_path):
    ca_dir, trusted = tmp_path / "pki", tmp_path / "etc" / "ca.pem"
    rc, output, facts = play(tmp_path, "main", prefect_pki_ca_dir=str(ca_dir), prefect_pki_ca_file=str(trusted))
    assert rc == 0, output[-3000:]
    assert facts["ca_changed"] is True
    assert (mode(ca_dir), mode(ca_dir / "ca.key"), mode(ca_dir / "ca.pem"), mode(trusted)) == (0o700, 0o600, 0o644, 0o644)
    ca = x509.load_pem_x509_certificate(trusted.read_bytes())
    assert trusted.read_bytes() == (ca_dir / "ca.pem").read_bytes()
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.subject.rfc4514_string() == "CN=selfhosted.prefect CA"
    key_before = (ca_dir / "ca.key").read_bytes()

    rc, output, facts = play(tmp_path, "main", prefect_pki_ca_dir=str(ca_dir), prefect_pki_ca_file=str(trusted))
    assert rc == 0 and changed(output) == 0, output[-3000:]
    assert facts["ca_changed"] is False
    assert (ca_dir / "ca.key").read_bytes() == key_before
    assert "BEGIN EC PRIVATE KEY" not in output and "BEGIN PRIVATE KEY" not in output


def test_a_check_run_on_a_new_host_changes_nothing_there(tmp_path):
    trusted = tmp_path / "etc" / "ca.pem"
    rc, output, _facts = play(tmp_path, "main", check=True, prefect_pki_ca_dir=str(tmp_path / "pki"),
                              prefect_pki_ca_file=str(trusted))
    assert rc == 0, output[-3000:]
    assert not trusted.parent.exists()
    # The CA itself is made on its host (the controller here): a check run must know it.
    assert (tmp_path / "pki" / "ca.pem").is_file()


def test_the_sites_ca_and_certificate_are_installed_as_given(tmp_path):
    site = site_files(tmp_path)
    trusted, certs = tmp_path / "etc" / "ca.pem", tmp_path / "certs"
    common = {"prefect_pki_ca_cert_src": str(site["ca"]), "prefect_pki_ca_dir": str(tmp_path / "pki")}
    rc, output, _facts = play(tmp_path, "main", prefect_pki_ca_file=str(trusted), **common)
    assert rc == 0, output[-3000:]
    assert trusted.read_bytes().strip() == site["ca"].read_bytes().strip()
    assert not (tmp_path / "pki").exists(), "the collection made a CA of its own beside the site's"

    for _run in range(2):
        rc, output, facts = play(tmp_path, "certificate", prefect_pki_name="postgresql", prefect_pki_names=["db1"],
                                 prefect_pki_dir=str(certs), prefect_pki_cert_src=str(site["cert"]),
                                 prefect_pki_key_src=str(site["key"]), **common)
        assert rc == 0, output[-3000:]
    assert changed(output) == 0 and facts["certificate"]["changed"] is False
    assert facts["certificate"]["cert"] == str(certs / "postgresql.pem")
    assert (certs / "postgresql.pem").read_bytes() == site["cert"].read_bytes()
    assert (certs / "postgresql.key").read_bytes() == site["key"].read_bytes()
    assert (mode(certs / "postgresql.pem"), mode(certs / "postgresql.key")) == (0o644, 0o600)
    assert "PRIVATE KEY" not in output


@pytest.mark.parametrize("given", [{"prefect_pki_cert_src": "cert"}, {"prefect_pki_key_src": "key"},
                                   {"prefect_pki_ca_cert_src": "ca"}])
def test_half_a_certificate_or_a_site_ca_without_one_is_refused_before_anything_changes(tmp_path, given):
    site = site_files(tmp_path)
    rc, output, _facts = play(tmp_path, "certificate", prefect_pki_name="postgresql", prefect_pki_names=["db1"],
                              prefect_pki_dir=str(tmp_path / "certs"), prefect_pki_ca_dir=str(tmp_path / "pki"),
                              **{name: str(site[value]) for name, value in given.items()})
    assert rc != 0
    assert "prefect_pki: postgresql on localhost needs a certificate and its key" in " ".join(output.split())
    assert not (tmp_path / "certs").exists() and not (tmp_path / "pki").exists()
