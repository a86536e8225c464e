//! README.md runs as it is written. The shell blocks of "Walkthrough with
//! curl" run in order, with bash, `curl` and `jq`, against a fresh server
//! (`TOKEND` names it; the password comes on stdin, as a person types it):
//! every command succeeds, every answer is 2xx but for the statuses a line
//! announces (`# 401`), and each JSON example answer has the keys of the
//! real answer it shows, at every depth (the audit trail's example too).
//! Every shell variable a block of the README uses is set by an earlier
//! block, and the audit-shipping unit it shows passes `systemd-analyze
//! verify` and keeps the hardening of `systemd/tokend.service`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::*;

/// A fenced block of README.md.
struct Block {
    /// The `## ` heading it is under.
    section: String,
    /// The fence's info string: `sh`, `json`, `ini`, ….
    lang: String,
    text: String,
    /// Its first line in README.md, for messages.
    line: usize,
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut section = String::new();
    let mut open: Option<(usize, String, Block)> = None;
    for (n, line) in readme.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some((indent, _, block)) = open.as_mut() {
            if trimmed.starts_with("```") {
                let (_, _, block) = open.take().expect("an open block");
                found.push(block);
            } else {
                let text = line.get(*indent..).unwrap_or(trimmed);
                block.text.push_str(text);
                block.text.push('\n');
            }
        } else if let Some(lang) = trimmed.strip_prefix("```") {
            let indent = line.len() - trimmed.len();
            let block = Block {
                section: section.clone(),
                lang: lang.trim().to_string(),
                text: String::new(),
                line: n + 2,
            };
            open = Some((indent, lang.to_string(), block));
        } else if let Some(heading) = line.strip_prefix("## ") {
            section = heading.trim().to_string();
        }
    }
    assert!(open.is_none(), "README.md ends inside a fenced block");
    found
}

/// One HTTP exchange curl made, from its `--trace` file.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Vec<u8>,
}

/// The bytes of a `--trace` section's hex dump lines.
fn dumped_bytes(line: &str) -> Vec<u8> {
    line.get(6..(6 + 48).min(line.len()))
        .unwrap_or("")
        .split_whitespace()
        .map(|hex| u8::from_str_radix(hex, 16).expect("a hex byte in curl's trace"))
        .collect()
}

fn parse_trace(text: &str) -> Answer {
    let mut header = Vec::new();
    let mut body = Vec::new();
    let mut section = "";
    for line in text.lines() {
        if line.starts_with("<= Recv header") {
            section = "header";
        } else if line.starts_with("<= Recv data") {
            section = "data";
        } else if line.starts_with("=>") || line.starts_with("==") || line.starts_with("<=") {
            section = "";
        } else if line.len() > 6 && line.as_bytes()[4] == b':' {
            match section {
                "header" => header.extend(dumped_bytes(line)),
                "data" => body.extend(dumped_bytes(line)),
                _ => {}
            }
        }
    }
    let head = String::from_utf8_lossy(&header);
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in a trace: {head}"));
    Answer { status, body }
}

/// Where an example's keys differ from a real answer's, at every depth
/// (an array's first example element against every real one).
fn drift(path: &str, example: &Value, real: &Value, found: &mut Vec<String>) {
    match (example, real) {
        (Value::Object(shown), Value::Object(answered)) => {
            for key in shown.keys().filter(|k| !answered.contains_key(*k)) {
                found.push(format!("{path}.{key} is shown but not answered"));
            }
            for key in answered.keys().filter(|k| !shown.contains_key(*k)) {
                found.push(format!("{path}.{key} is answered but not shown"));
            }
            for (key, value) in shown {
                if let Some(real) = answered.get(key) {
                    drift(&format!("{path}.{key}"), value, real, found);
                }
            }
        }
        (Value::Array(shown), Value::Array(answered)) => {
            if let Some(first) = shown.first() {
                for real in answered {
                    drift(&format!("{path}[]"), first, real, found);
                }
            }
        }
        _ => {}
    }
}

fn assert_same_keys(what: &str, example: &Block, real: &Value) {
    let shown: Value = serde_json::from_str(&example.text).unwrap_or_else(|e| {
        panic!(
            "README.md line {}: the example answer is not JSON ({e}):\n{}",
            example.line, example.text
        )
    });
    let mut found = Vec::new();
    drift("", &shown, real, &mut found);
    assert!(
        found.is_empty(),
        "README.md line {} ({what}): the example answer's keys drifted from the real answer:\n\
         {found:#?}\nshown: {}\nreal: {real}",
        example.line,
        example.text
    );
}

/// The statuses a block's lines announce in a trailing comment (`# 204`).
fn announced_statuses(block: &str) -> Vec<String> {
    block
        .lines()
        .filter_map(|line| {
            let (_, comment) = line.rsplit_once('#')?;
            let code = comment.trim();
            (code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit())).then(|| code.to_string())
        })
        .collect()
}

#[test]
fn the_walkthrough_runs_as_written_and_answers_as_shown() {
    let srv = TestServer::start();
    let readme = readme();
    let walkthrough: Vec<Block> = blocks(&readme)
        .into_iter()
        .filter(|b| b.section == "Walkthrough with curl")
        .collect();
    let shells: Vec<&Block> = walkthrough.iter().filter(|b| b.lang == "sh").collect();
    assert!(shells.len() >= 10, "the walkthrough lost its blocks");

    let traces = TempDir::new();
    let mut script = String::from(
        "set -euo pipefail\n\
         curl() { command curl --trace \"$README_TRACES/$README_BLOCK-$(date +%s%N)\" \"$@\"; }\n",
    );
    for (i, block) in shells.iter().enumerate() {
        script.push_str(&format!(
            "README_BLOCK={i:02}\nprintf '\\n@@block {i:02}\\n'\n{}",
            block.text
        ));
    }
    let script_path = traces.path.join("walkthrough.sh");
    std::fs::write(&script_path, &script).expect("write the script");

    let bin_dir = Path::new(bin()).parent().expect("the binary's directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut bash = Command::new("bash");
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("TOKEND")) {
        bash.env_remove(name);
    }
    let mut child = bash
        .arg(&script_path)
        .env("TOKEND", format!("http://{}", srv.addr()))
        .env("README_TRACES", &traces.path)
        .env("PATH", path)
        .current_dir(srv.dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{ADMIN_PASSWORD}").expect("the password, as typed");
    }
    let out = child.wait_with_output().expect("the walkthrough ends");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the walkthrough failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );

    // What each block printed, and the answers to its requests.
    let printed: Vec<&str> = stdout.split("\n@@block ").skip(1).collect();
    assert_eq!(printed.len(), shells.len(), "{stdout}");
    let mut files: Vec<_> = std::fs::read_dir(&traces.path)
        .expect("the traces")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.contains('-'))
        .collect();
    files.sort();
    let answers: Vec<Vec<Answer>> = (0..shells.len())
        .map(|i| {
            files
                .iter()
                .filter(|name| name.starts_with(&format!("{i:02}-")))
                .map(|name| {
                    parse_trace(&std::fs::read_to_string(traces.path.join(name)).expect("a trace"))
                })
                .collect()
        })
        .collect();
    assert!(
        answers.iter().map(Vec::len).sum::<usize>() >= 10,
        "curl's requests were not traced: {files:?}"
    );

    for (i, block) in shells.iter().enumerate() {
        let announced = announced_statuses(&block.text);
        let codes: Vec<String> = printed[i]
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| l.len() == 3 && l.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_string)
            .collect();
        assert_eq!(
            codes, announced,
            "README.md line {}: the statuses printed are not those the comments announce:\n{}",
            block.line, block.text
        );
        for answer in &answers[i] {
            assert!(
                answer.status < 400 || announced.contains(&answer.status.to_string()),
                "README.md line {}: answered {} ({}):\n{}",
                block.line,
                answer.status,
                String::from_utf8_lossy(&answer.body),
                block.text
            );
        }
    }

    // Each example answer against the last answer of the shell block before it.
    let mut shell = None;
    let mut compared = 0;
    for block in &walkthrough {
        match block.lang.as_str() {
            "sh" => {
                let i = shells
                    .iter()
                    .position(|s| std::ptr::eq(*s, block))
                    .expect("a shell block");
                if !answers[i].is_empty() {
                    shell = Some(i);
                }
            }
            "json" => {
                let i = shell.unwrap_or_else(|| {
                    panic!(
                        "README.md line {}: an example before any request",
                        block.line
                    )
                });
                let last = answers[i].last().expect("an answer");
                let real: Value = serde_json::from_slice(&last.body).unwrap_or_else(|e| {
                    panic!(
                        "README.md line {}: the answer it shows is not JSON ({e}): {}",
                        block.line,
                        String::from_utf8_lossy(&last.body)
                    )
                });
                assert_same_keys("walkthrough", block, &real);
                compared += 1;
            }
            _ => {}
        }
    }
    assert!(
        compared >= 6,
        "only {compared} example answers were compared"
    );

    // The audit trail's example, against the exchanges just made.
    let audit_example = blocks(&readme)
        .into_iter()
        .find(|b| b.section == "Audit trail" && b.lang == "json")
        .expect("the audit trail's example answer");
    let admin = srv.api().admin_login();
    let real = srv
        .api()
        .try_audit(&admin.access_token, "type=token.exchange&limit=1")
        .json();
    assert_same_keys("audit trail", &audit_example, &real);
}

/// `line` with each single-quoted string emptied (`''`) and its comment
/// cut off: what the shell expands.
fn expanded_part(line: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match (quoted, c) {
            (false, '\'') => {
                quoted = true;
                out.push_str("''");
            }
            (true, '\'') => quoted = false,
            (true, _) => {}
            (false, '#') if out.is_empty() || out.ends_with(char::is_whitespace) => break,
            (false, c) => out.push(c),
        }
    }
    out
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn name_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The variables a line sets (`NAME=`, `read … NAME`, `for NAME in`) and
/// takes away (`unset NAME`).
fn set_and_unset(line: &str) -> (Vec<String>, Vec<String>) {
    let mut set = Vec::new();
    let mut unset = Vec::new();
    for command in line.split([';', '|', '&', '(', '{']) {
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.first().copied() {
            Some("read") => {
                let mut skip = false;
                for word in &words[1..] {
                    if skip {
                        skip = false;
                    } else if word.starts_with('-') {
                        skip = word.ends_with('p');
                    } else if word.starts_with(is_name_start) {
                        set.push(name_at(word).to_string());
                    }
                }
            }
            Some("for") if words.len() > 1 => set.push(name_at(words[1]).to_string()),
            Some("unset") => unset.extend(words[1..].iter().map(|w| w.to_string())),
            _ => {}
        }
        // Assignments lead a command (`NAME=value command`, `export NAME=`).
        for word in words.iter().skip_while(|w| **w == "export") {
            let name = name_at(word);
            if name.is_empty() || !word.starts_with(is_name_start) {
                break;
            }
            if !word[name.len()..].starts_with('=') {
                break;
            }
            set.push(name.to_string());
        }
    }
    (set, unset)
}

/// The variables a line expands: `$NAME` and `${NAME}`, but not
/// `${NAME:-default}`.
fn used(line: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (i, _) in line.match_indices('$') {
        let rest = &line[i + 1..];
        let (rest, braced) = match rest.strip_prefix('{') {
            Some(inner) => (inner, true),
            None => (rest, false),
        };
        let name = name_at(rest);
        if name.is_empty() || !name.starts_with(is_name_start) {
            continue;
        }
        let after = &rest[name.len()..];
        if braced && (after.starts_with(":-") || after.starts_with(":=")) {
            continue;
        }
        names.push(name.to_string());
    }
    names
}

#[test]
fn every_shell_variable_of_the_readme_is_set_before_it_is_used() {
    const FROM_THE_SHELL: [&str; 4] = ["HOME", "PATH", "USER", "PWD"];
    let mut defined: BTreeSet<String> = FROM_THE_SHELL.iter().map(|s| s.to_string()).collect();
    let mut unset_before = Vec::new();
    let mut checked = 0;
    for block in blocks(&readme()).iter().filter(|b| b.lang == "sh") {
        // A backslash continues a command on the next line.
        let text = block.text.replace("\\\n", " ");
        for line in text.lines() {
            let line = expanded_part(line);
            let (set, unset) = set_and_unset(&line);
            for name in used(&line) {
                checked += 1;
                if !defined.contains(&name) && !set.contains(&name) {
                    unset_before.push(format!(
                        "README.md block at line {}: ${name} in {}",
                        block.line,
                        line.trim()
                    ));
                }
            }
            defined.extend(set);
            for name in unset {
                defined.remove(&name);
            }
        }
    }
    assert!(checked >= 40, "only {checked} uses of variables were found");
    assert!(
        unset_before.is_empty(),
        "variables used before any block sets them: {unset_before:#?}"
    );
}

/// `Key=Value` lines of a unit's text, in order.
fn directives(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn the_audit_shipping_unit_verifies_and_keeps_the_services_hardening() {
    let unit = blocks(&readme())
        .into_iter()
        .find(|b| b.lang == "ini" && b.text.contains("tokend-audit.service"))
        .expect("the audit-shipping unit in README.md")
        .text;
    assert!(
        unit.contains("\n[Install]\nWantedBy=multi-user.target\n"),
        "it can be enabled: {unit}"
    );

    let service = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/tokend.service"
    ))
    .expect("systemd/tokend.service");
    let hardening = service
        .split_once("# Hardening.")
        .and_then(|(_, rest)| rest.split_once("[Install]"))
        .map(|(hardening, _)| directives(hardening))
        .expect("tokend.service's hardening");
    assert!(hardening.len() >= 20, "{hardening:?}");
    let shown = directives(&unit);
    for (key, value) in &hardening {
        let kept = if key == "RestrictAddressFamilies" {
            shown
                .iter()
                .any(|(k, v)| k == key && v.split_whitespace().all(|family| value.contains(family)))
        } else {
            shown.contains(&(key.clone(), value.clone()))
        };
        assert!(kept, "the audit unit lacks {key}={value} of tokend.service");
    }

    // systemd reads it; the binary it names is this one.
    let dir = TempDir::new();
    let path = dir.path.join("tokend-audit.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/tokend", bin())).expect("write the unit");
    let verified = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze runs: .ci/run installs systemd");
    assert!(
        verified.status.success() && verified.stderr.is_empty(),
        "systemd-analyze verify: {verified:?}"
    );
    let scored = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&path)
        .output()
        .expect("systemd-analyze runs");
    let text = String::from_utf8_lossy(&scored.stdout);
    let level: f64 = text
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for tokend-audit.service: "))
        .and_then(|(_, verdict)| verdict.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no verdict: {text}"));
    assert!(level <= 1.5, "the audit unit is exposed at {level}: {text}");
}
