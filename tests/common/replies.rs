//! Reading what svc prints: the lines of `svc status`, the reply of
//! `svc reload`, and the timestamp form of a log line.

use std::process::Output;

use super::run::text;

/// The TEXT of a log line `YYYY-MM-DDTHH:MM:SS.mmmZ TEXT`, or None when the
/// line does not have that form.
pub fn log_text(line: &str) -> Option<&str> {
    const FORM: &[u8] = b"dddd-dd-ddTdd:dd:dd.dddZ ";
    let b = line.as_bytes();
    if b.len() < FORM.len() {
        return None;
    }
    for (i, &f) in FORM.iter().enumerate() {
        let c = b[i];
        let ok = if f == b'd' { c.is_ascii_digit() } else { c == f };
        if !ok {
            return None;
        }
    }
    line.get(FORM.len()..)
}

/// The fields of NAME's line in `svc status` output (the header skipped).
pub fn status_fields(out: &str, name: &str) -> Option<Vec<String>> {
    out.lines()
        .filter(|l| !l.starts_with("NAME"))
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .find(|f| f.first().is_some_and(|n| n == name))
}

/// The NOTE of a status line: every field after LAST.
pub fn note_of(fields: &[String]) -> String {
    fields.get(6..).map(|f| f.join(" ")).unwrap_or_default()
}

/// The lines of a `svc reload` reply, each split into words
/// (`ACTION NAME [OUTCOME]`), sorted by NAME.
pub fn reload_lines(out: &Output) -> Vec<Vec<String>> {
    let mut v: Vec<Vec<String>> =
        text(&out.stdout).lines().filter(|l| !l.trim().is_empty()).map(|l| l.split_whitespace().map(String::from).collect()).collect();
    v.sort_by(|a, b| a.get(1).cmp(&b.get(1)));
    v
}

/// The reply line of `name` in `lines` (from `reload_lines`).
pub fn reload_line<'a>(lines: &'a [Vec<String>], name: &str) -> &'a [String] {
    lines.iter().find(|l| l.get(1).is_some_and(|n| n == name)).unwrap_or_else(|| panic!("no reload line for {name}: {lines:?}"))
}
