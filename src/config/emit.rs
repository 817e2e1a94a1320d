//! A config error → one line of text:
//! `svc: /etc/svc.conf:12: [web] unknown key 'exce' (did you mean 'exec'?)`.
//! Words come from the config text only, never from an env_file. No syscalls.

use crate::config::{Located, Span};
use crate::text::{Bytes, Out};

/// Longest word quoted in a message; a longer one is shown cut, with `...`.
const WORD_BYTES: usize = 80;

/// Appends the message for `e` (found in `text`, read from `path`) and a newline.
pub fn emit(path: &[u8], text: &[u8], e: &Located, out: &mut Out) {
    let word = |s: Span| {
        let start = s.start as usize;
        text.get(start..start.saturating_add(s.len as usize)).unwrap_or(&[])
    };
    let _ = ufmt::uwrite!(out, "svc: {}", Bytes(path));
    if e.line > 0 {
        let _ = ufmt::uwrite!(out, ":{}", e.line);
    }
    out.push(b": ");
    let section = word(e.section);
    if !section.is_empty() {
        let _ = ufmt::uwrite!(out, "[{}] ", Bytes(section));
    }
    if e.file_line > 0 {
        let _ = ufmt::uwrite!(out, "env_file line {}: ", e.file_line);
    }
    // The word goes before the text's parenthesis: "bad duration '5x' (use ...)".
    // A byte search: str::find would link the two-way searcher.
    let text = e.error.text().as_bytes();
    let paren = text.windows(2).position(|w| w == b" (").unwrap_or(text.len());
    // split_at_checked: split_at's length check would link its panic.
    let (head, tail) = text.split_at_checked(paren).unwrap_or((text, &[]));
    out.push(head);
    let w = word(e.span);
    if !w.is_empty() {
        let cut = w.get(..WORD_BYTES).unwrap_or(w);
        let _ = ufmt::uwrite!(out, " '{}", Bytes(cut));
        if cut.len() < w.len() {
            out.push(b"...");
        }
        out.push(b"'");
    }
    out.push(tail);
    if let Some(h) = e.hint {
        let _ = ufmt::uwrite!(out, " (did you mean '{}'?)", h);
    }
    out.push(b"\n");
}
