//! Test PKI made fresh per run with the `openssl` CLI: nothing secret is in the repository.
//! Files, in `Pki::path(..)`: `ca.crt`/`ca.key`; `server.crt`/`server.key` (SANs `localhost`,
//! `127.0.0.1`) and `server.pem` (key + chain, Kafka's PEM keystore); `client.crt` with the
//! encrypted `client.key` (password `key_password`); `other-ca.crt`, a CA that signed nothing.

use std::path::PathBuf;
use std::process::Command;

/// A CA, a server certificate (for a Kafka broker or Redis) for `localhost`/`127.0.0.1`, a client certificate with an
/// encrypted key, and an unrelated second CA — all generated with the `openssl` CLI.
pub struct Pki {
    dir: tempfile::TempDir,
    /// Password of the encrypted client key (`client.key`).
    pub key_password: String,
}

impl Pki {
    pub fn generate() -> Pki {
        let dir = tempfile::tempdir().expect("temp dir");
        let key_password = super::unique("kp");
        let pki = Pki { dir, key_password };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        // The CA that signs broker and client.
        pki.openssl(
            &[
                &["req", "-x509"],
                &ec[..],
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.crt",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=wiredesk-test-ca",
                ],
            ]
            .concat(),
            &[
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        // Server: SANs for both names a client may use, so host-name verification can stay on.
        std::fs::write(pki.path("server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n").unwrap();
        pki.openssl(
            &[
                &["req", "-new"],
                &ec[..],
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=localhost",
                ],
            ]
            .concat(),
            &[],
        );
        pki.sign("server");
        // Kafka's PEM keystore (`server.pem`): PKCS#8 key + certificate chain in one file.
        let pem = ["server.key", "server.crt", "ca.crt"]
            .iter()
            .map(|f| std::fs::read_to_string(pki.path(f)).unwrap())
            .collect::<String>();
        std::fs::write(pki.path("server.pem"), pem).unwrap();
        // Client certificate for mutual TLS, its key encrypted (kafka.ssl_key_password).
        std::fs::write(
            pki.path("client.ext"),
            "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        pki.openssl(
            &[
                &["req", "-new"],
                &ec[..],
                &[
                    "-keyout",
                    "client.plain.key",
                    "-out",
                    "client.csr",
                    "-subj",
                    "/CN=wiredesk",
                ],
            ]
            .concat(),
            &[],
        );
        pki.sign("client");
        let passout = format!("pass:{}", pki.key_password);
        pki.openssl(
            &[
                "pkey",
                "-in",
                "client.plain.key",
                "-aes256",
                "-passout",
                &passout,
                "-out",
                "client.key",
            ],
            &[],
        );
        // A CA that signed nothing here: trusting only it must fail the handshake.
        pki.openssl(
            &[
                &["req", "-x509"],
                &ec[..],
                &[
                    "-keyout",
                    "other-ca.key",
                    "-out",
                    "other-ca.crt",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=unrelated-ca",
                ],
            ]
            .concat(),
            &[],
        );
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn sign(&self, name: &str) {
        let (csr, crt, ext) = (
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        self.openssl(
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &crt,
                "-extfile",
                &ext,
            ],
            &[],
        );
    }

    fn openssl(&self, args: &[&str], more: &[&str]) {
        let output = Command::new("openssl")
            .args(args)
            .args(more)
            .current_dir(self.dir.path())
            .output()
            .expect("running openssl (apt-get install openssl)");
        assert!(
            output.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
