//! A private `redis-server` on a loopback port, for tests that stop Redis or need their own TLS/ACL
//! set-up without touching the shared instance. Killed and reaped on drop, also while a failed
//! assertion unwinds.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Plain TCP on `port`, no persistence.
    pub fn start(port: u16) -> RedisServer {
        let port_arg = port.to_string();
        Self::start_with(port, &["--port", &port_arg], None)
    }

    /// `args` choose the listener (`--port`, or `--port 0 --tls-port …`) and anything else;
    /// loopback binding and no persistence are added. `dir` is the working directory (relative
    /// certificate or ACL paths). Returns once `port` accepts connections.
    pub fn start_with(port: u16, args: &[&str], dir: Option<&Path>) -> RedisServer {
        let mut command = Command::new("redis-server");
        command
            .args(args)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("cannot start redis-server ({e}); install it with `apt-get install redis-server` (scripts/setup does)")
        });
        let server = RedisServer {
            port,
            child: Some(child),
        };
        super::wait_until(
            Duration::from_secs(20),
            "redis-server to accept connections",
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
