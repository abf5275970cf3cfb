//! A private three-master Redis Cluster on loopback ports (no replicas, no persistence), made
//! with `redis-cli --cluster create` as an operator would. Each node runs in the foreground as
//! our child, with its `nodes.conf` in a temporary directory; all are killed and reaped on drop,
//! also while a failed assertion unwinds.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, wait_until};

pub struct RedisCluster {
    /// Client ports, one per master.
    pub ports: Vec<u16>,
    children: Vec<Option<Child>>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts `masters` nodes, assigns the 16384 slots evenly and waits until every node reports
    /// `cluster_state:ok`.
    pub fn start(masters: usize) -> RedisCluster {
        let dir = tempfile::tempdir().expect("temporary directory for the cluster");
        let mut cluster = RedisCluster {
            ports: Vec::new(),
            children: Vec::new(),
            _dir: dir,
        };
        for _ in 0..masters {
            let port = free_port();
            // The bus port is given explicitly (default: port + 10000, which can be taken or
            // above 65535 for an ephemeral port).
            let bus = free_port();
            let conf = cluster._dir.path().join(format!("nodes-{port}.conf"));
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-port", &bus.to_string()])
                .arg("--cluster-config-file")
                .arg(&conf)
                // Short enough that a killed master turns the cluster to `fail` within the
                // outage test; long enough not to flap on a loaded 2-core machine.
                .args(["--cluster-node-timeout", "3000"])
                .arg("--dir")
                .arg(cluster._dir.path())
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start redis-server ({e}); install it with `apt-get install redis-server` (scripts/setup does)")
                });
            cluster.ports.push(port);
            cluster.children.push(Some(child));
        }
        for &port in &cluster.ports {
            wait_until(
                Duration::from_secs(20),
                "cluster node to accept connections",
                || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
            );
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli ({e}); it comes with redis-server"));
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for i in 0..masters {
            wait_until(Duration::from_secs(30), "cluster_state:ok", || {
                cluster
                    .cli(i, &["CLUSTER", "INFO"])
                    .contains("cluster_state:ok")
            });
        }
        cluster
    }

    /// Seed URLs for `dedupe.redis.cluster_urls`.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// `redis-cli -p <node i> args…`, stdout as text ("" if the node is down).
    pub fn cli(&self, i: usize, args: &[&str]) -> String {
        Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.ports[i].to_string()])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Kills master `i` (SIGKILL: no goodbye to the other nodes).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
    }
}
