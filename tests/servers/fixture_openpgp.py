"""OpenPGP keys and signatures made by gpg itself (issue 16): the session fixture `openpgp` holds two
signing keys in a GnuPG home of its own, "signer" and "other", each exported to a public key file
(`openpgp.pub["signer"]`, armored; `openpgp.pub["other"]`, binary), with their fingerprints
(`openpgp.fpr[...]`). `openpgp.detach(data, key)` is a detached binary signature (`gpg
--detach-sign`), `openpgp.clearsign(text, key)` a clearsigned text (`gpg --clearsign`)."""
import os
import subprocess

import pytest


class OpenPGP:
    def __init__(self, folder):
        self.folder = folder
        self.home = folder / "gnupg"
        self.home.mkdir(mode=0o700)
        self.env = dict(os.environ, GNUPGHOME=str(self.home))
        self.pub, self.fpr = {}, {}
        try:
            self.make_keys(folder)
        except BaseException:
            self.stop()  # the agent key generation started
            raise

    def make_keys(self, folder):
        for name, algo, armor in (("signer", "rsa2048", True), ("other", "ed25519", False)):
            uid = f"{name} <{name}@vmpull.test>"
            self.gpg("--passphrase", "", "--quick-gen-key", uid, algo, "sign", "never")
            colons = self.gpg("--with-colons", "--list-keys", f"{name}@vmpull.test").decode()
            self.fpr[name] = next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:"))
            path = folder / (f"{name}.asc" if armor else f"{name}.gpg")
            path.write_bytes(self.gpg("--export", *(["--armor"] if armor else []), f"{name}@vmpull.test"))
            self.pub[name] = path

    def gpg(self, *args, input=None):
        return subprocess.run(["gpg", "--batch", "--quiet", *args], env=self.env, input=input,
                              capture_output=True, check=True).stdout

    def detach(self, data, key="signer"):
        return self.gpg("--local-user", f"{key}@vmpull.test", "--detach-sign", "--output", "-", input=data)

    def clearsign(self, text, key="signer"):
        return self.gpg("--local-user", f"{key}@vmpull.test", "--clearsign", "--output", "-",
                        input=text.encode()).decode()

    def stop(self):
        subprocess.run(["gpgconf", "--kill", "all"], env=self.env, check=False)


@pytest.fixture(scope="session")
def openpgp(tmp_path_factory):
    keys = OpenPGP(tmp_path_factory.mktemp("openpgp"))
    try:
        yield keys
    finally:
        keys.stop()
