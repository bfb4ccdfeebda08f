//! The console on a real (pseudo-)terminal: the line is edited and recalled
//! from history, console commands explain themselves, and messages delivered
//! while the prompt is shown are printed above it, with the prompt drawn
//! again below them.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the terminal showed, escape sequences removed.
#[derive(Clone, Default)]
struct Screen(Arc<Mutex<String>>);

impl Screen {
    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// Waits (up to 20 s) until `needle` has been shown `times` times.
    fn shows(&self, needle: &str, times: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.text().matches(needle).count() >= times {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

/// `raw` without ANSI escape sequences (CSI and OSC) and carriage returns.
fn plain(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() || c == '~' {
                            break;
                        }
                    }
                }
                Some(']') => {
                    for c in chars.by_ref() {
                        if c == '\u{7}' {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[test]
fn the_console_edits_recalls_and_prints_messages_above_the_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
    let slave = std::fs::File::from(pty.slave);
    let mut child = Command::new(env!("CARGO_BIN_EXE_shipmate"))
        .args(["console", "--as", "rm", "--channel", "#release"])
        .current_dir(dir.path())
        .env(
            "SHIPMATE__DATABASE__URL",
            format!("sqlite://{}/shipmate.db", dir.path().display()),
        )
        .env("RUST_LOG", "warn")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let mut master = std::fs::File::from(pty.master);
    let screen = Screen::default();
    let reader = {
        let screen = screen.clone();
        let mut master = master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
                *screen.0.lock().unwrap() = plain(&String::from_utf8_lossy(&raw));
            }
        })
    };
    let mut keys = |k: &str| master.write_all(k.as_bytes()).unwrap();
    assert!(screen.shows("rm@#release> ", 1), "{}", screen.text());

    // `:as` without a name says what it needs and who you are
    keys(":as\r");
    assert!(
        screen.shows("`:as` needs a name: `:as alice`", 1) && screen.shows("you are console:rm", 1),
        "{}",
        screen.text()
    );

    // a typo fixed with the arrows and backspace before Enter
    keys("/help sms balancx\u{8}e\u{1b}[D\u{1b}[C\r");
    assert!(
        screen.shows("Record the current SMS credit balance", 1),
        "{}",
        screen.text()
    );
    // the line is recalled from history with the up arrow
    keys("\u{1b}[A\r");
    assert!(
        screen.shows("Record the current SMS credit balance", 2),
        "{}",
        screen.text()
    );

    // a message delivered to the console channel while the prompt waits
    // is printed above it, and the prompt is drawn again below it
    keys("/release start Q template:rollout\r");
    assert!(screen.shows("🚀 REL-1 `Q` started", 1), "{}", screen.text());
    assert!(screen.shows("rm@#release> ", 6), "{}", screen.text());
    let shown = screen.text();
    let message = shown.rfind("🚀 REL-1 `Q` started").unwrap();
    assert!(
        shown[message..].contains("rm@#release> "),
        "the prompt is drawn again after the message:\n{shown}"
    );

    keys(":quit\r");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the console did not leave");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    drop(master);
    drop(reader);
}
