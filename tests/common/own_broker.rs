//! A Kafka cluster of one test's own (so the shared broker stays up for the other tests), from
//! `scripts/kafka-local`: a first combined node, optionally broker-only nodes joining it, each of
//! which can be killed, restarted on its data, or frozen (SIGSTOP) on its own.

use std::path::PathBuf;
use std::process::Command;

use super::{free_port, unique};

pub struct OwnBroker {
    env: Vec<(String, String)>,
    state: PathBuf,
    pub bootstrap: String,
}

impl OwnBroker {
    /// A fresh single-node cluster (broker and controller).
    pub fn start() -> OwnBroker {
        let controller = free_port();
        let broker = Self::new(vec![(
            "KAFKA_CONTROLLER_PORT".to_owned(),
            controller.to_string(),
        )]);
        broker.script(&["start"]);
        broker
    }

    /// A broker-only node `node_id` joining `first`'s cluster.
    pub fn join(first: &OwnBroker, node_id: u32) -> OwnBroker {
        let broker = Self::new(vec![("KAFKA_NODE_ID".to_owned(), node_id.to_string())]);
        broker.script(&["join", &first.state.display().to_string()]);
        broker
    }

    fn new(mut env: Vec<(String, String)>) -> OwnBroker {
        let port = free_port();
        let state = std::env::temp_dir().join(unique("wiredesk-kafka-own"));
        env.push(("KAFKA_PORT".to_owned(), port.to_string()));
        env.push(("KAFKA_STATE_DIR".to_owned(), state.display().to_string()));
        OwnBroker {
            env,
            state,
            bootstrap: format!("127.0.0.1:{port}"),
        }
    }

    /// `scripts/kafka-local ARGS` with this node's settings.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/kafka-local"));
        command
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command
    }

    /// `scripts/kafka-local ARGS` for this node; panics with its output if it fails.
    pub fn script(&self, args: &[&str]) {
        let output = self
            .command(args)
            .output()
            .expect("running scripts/kafka-local");
        assert!(
            output.status.success(),
            "scripts/kafka-local {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Send `signal` (e.g. "STOP", "CONT") to this node's JVM.
    pub fn signal(&self, signal: &str) {
        let pid = std::fs::read_to_string(self.state.join("kafka.pid")).expect("broker pid file");
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.trim())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} {pid} failed");
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        // A frozen node would not stop: let it run first.
        if let Ok(pid) = std::fs::read_to_string(self.state.join("kafka.pid")) {
            let _ = Command::new("kill").arg("-CONT").arg(pid.trim()).status();
        }
        let _ = self.command(&["stop"]).output();
    }
}
