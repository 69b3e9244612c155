//! Starting `parallax run` detached, and recognising and stopping exactly the processes this
//! tool started (Linux: it reads `/proc/PID`).
//!
//! A recorded pid is only signalled while `/proc/PID/cmdline` is still
//! `… run --config <that node's config>`: a pid the system has since given to another
//! program is left alone.

use crate::TestnetError;
use std::{
    fs::OpenOptions,
    io::Write,
    os::unix::process::CommandExt,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// The command line of `pid` (its NUL-separated arguments) while it is a live process; `None`
/// when there is no such process or it has exited (a zombie awaiting reaping).
pub fn live_cmdline(pid: u32) -> Option<Vec<u8>> {
    if pid == 0 {
        return None;
    }
    let proc_dir = Path::new("/proc").join(pid.to_string());
    let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    if matches!(state, Some("Z" | "X" | "x") | None) {
        return None;
    }
    std::fs::read(proc_dir.join("cmdline")).ok()
}

/// Whether `pid` is a live (not zombie) `parallax run --config CONFIG` process.
pub fn is_node_process(pid: u32, config: &Path) -> bool {
    let Some(cmdline) = live_cmdline(pid) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let config = config.as_os_str().as_encoded_bytes();
    args.contains(&b"run".as_slice())
        && args
            .windows(2)
            .any(|w| w[0] == b"--config" && w[1] == config)
}

/// Starts `BIN run --config CONFIG` in its own process group (a Ctrl-C or a closed terminal
/// does not reach it), stdout and stderr appended to `log`, and returns its pid.
pub fn spawn_node(bin: &Path, config: &Path, log: &Path, name: &str) -> Result<u32, TestnetError> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| TestnetError::io(log, e))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    writeln!(
        file,
        "=== parallax-testnet: starting {name} at unix time {now}: {} run --config {}",
        bin.display(),
        config.display()
    )
    .map_err(|e| TestnetError::io(log, e))?;
    let stderr = file.try_clone().map_err(|e| TestnetError::io(log, e))?;
    let mut command = Command::new(bin);
    command
        .arg("run")
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(stderr)
        .process_group(0)
        // The log is a file: no terminal colour codes in it.
        .env("NO_COLOR", "1");
    if std::env::var_os("RUST_LOG").is_none() {
        command.env("RUST_LOG", "info");
    }
    let mut child = command.spawn().map_err(|source| TestnetError::Spawn {
        bin: bin.to_path_buf(),
        source,
    })?;
    let pid = child.id();
    // `spawn` returns as soon as the child has begun to exec, which is before the kernel has
    // set up the new program's arguments: for a moment `/proc/PID/cmdline` reads empty, and
    // a node checked then would look as if it had exited at once. Return when it can be
    // recognised, or when it has really exited (its caller then finds it gone).
    let deadline = Instant::now() + SPAWN_SETTLE;
    while !is_node_process(pid, config)
        && Instant::now() < deadline
        && matches!(child.try_wait(), Ok(None))
    {
        std::thread::sleep(Duration::from_millis(2));
    }
    // Not waited for: the node outlives this command. (While this process lives, an exited
    // node is a zombie, which `is_node_process` counts as gone.)
    Ok(pid)
}

/// The longest [`spawn_node`] waits for a started node's command line to appear.
const SPAWN_SETTLE: Duration = Duration::from_secs(5);

/// How a stop went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// It exited after SIGTERM.
    Terminated,
    /// It was still running after the grace period and was killed.
    Killed,
    /// It was not running (or the pid belongs to another program now).
    NotRunning,
}

fn signal(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions; the pid was checked to be ours.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// Stops the nodes `(pid, config)`: SIGTERM to each that is still its node process, then
/// SIGKILL to those still running after `grace`. Waits until each is gone.
pub fn stop_all(nodes: &[(u32, &Path)], grace: Duration) -> Vec<Stopped> {
    let mut outcome: Vec<Stopped> = nodes
        .iter()
        .map(|(pid, config)| {
            if is_node_process(*pid, config) {
                signal(*pid, libc::SIGTERM);
                Stopped::Terminated
            } else {
                Stopped::NotRunning
            }
        })
        .collect();
    let start = Instant::now();
    loop {
        let alive: Vec<usize> = (0..nodes.len())
            .filter(|i| outcome[*i] != Stopped::NotRunning)
            .filter(|i| is_node_process(nodes[*i].0, nodes[*i].1))
            .collect();
        if alive.is_empty() {
            return outcome;
        }
        if start.elapsed() >= grace {
            for i in alive {
                signal(nodes[i].0, libc::SIGKILL);
                outcome[i] = Stopped::Killed;
            }
            // SIGKILL cannot be refused; the kernel needs a moment to tear it down.
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline
                && nodes
                    .iter()
                    .any(|(pid, config)| is_node_process(*pid, config))
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            return outcome;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last `lines` lines of a log file.
pub fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_recorded_command_line_counts_as_the_node() {
        // This test process is no `parallax run`.
        assert!(!is_node_process(
            std::process::id(),
            Path::new("/x/config.toml")
        ));
        assert!(!is_node_process(0, Path::new("/x/config.toml")));

        // A process whose command line is `… run --config PATH` is.
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        let mut child = Command::new("sh")
            .args(["-c", "sleep 30; true", "run", "--config"])
            .arg(&config)
            .spawn()
            .unwrap();
        // `sh -c CMD ARG0 ARGS…` keeps its own argv: run --config CONFIG.
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !is_node_process(pid, &config) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(is_node_process(pid, &config));
        assert!(!is_node_process(pid, &dir.path().join("other.toml")));
        let outcome = stop_all(&[(pid, &config)], Duration::from_secs(5));
        assert_eq!(outcome, [Stopped::Terminated]);
        let _ = child.wait();
        assert!(!is_node_process(pid, &config));
    }

    #[test]
    fn a_node_is_recognised_as_soon_as_spawn_returns() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("fake-parallax");
        std::fs::write(&bin, "#!/bin/sh\nsleep 30\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = dir.path().join("config.toml");
        let log = dir.path().join("node.log");
        // The window in which a just-started process has no command line yet is short:
        // try often enough to fall into it.
        for _ in 0..25 {
            let pid = spawn_node(&bin, &config, &log, "n").unwrap();
            let seen = is_node_process(pid, &config);
            let outcome = stop_all(&[(pid, &config)], Duration::from_secs(5));
            assert!(
                seen,
                "pid {pid} not recognised right after spawn_node returned"
            );
            assert_eq!(outcome, [Stopped::Terminated]);
        }
    }
}
