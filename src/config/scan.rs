//! A quick look at a config for clients: the `[svc] control` path, without
//! parsing services (or reading their env_files), streamed through a buffer
//! of one line so that a client's stack stays small whatever the config's
//! size. No syscalls: the caller passes in how to read.

use super::parse::Word;
use crate::text::shift;

/// The value of `control` in the `[svc]` section, if any, in the config
/// that `read` hands over piece by piece (how many bytes it put in `into`;
/// 0 or None at the end). `buf` holds a line: a longer line is skipped (the
/// parser refuses it anyway). The value is returned in `buf`.
pub fn control_path(buf: &mut [u8], mut read: impl FnMut(&mut [u8]) -> Option<usize>) -> Option<&[u8]> {
    let mut in_svc = false;
    // Bytes held in buf, and whether they continue a line too long to hold.
    let mut have = 0usize;
    let mut skipping = false;
    // Bounded by the reader, which ends at the end of the file.
    loop {
        let n = buf.get_mut(have..).and_then(&mut read).unwrap_or(0);
        let end = have + n;
        let mut start = 0usize;
        while let Some(nl) = buf.get(start..end).and_then(|b| b.iter().position(|&c| c == b'\n')) {
            let line = buf.get(start..start + nl).unwrap_or(&[]);
            if !skipping && let Some((a, b)) = value(&mut in_svc, line) {
                return buf.get(start + a..start + b);
            }
            skipping = false;
            start += nl + 1;
        }
        if n == 0 {
            // The last line has no newline.
            let line = buf.get(start..end).unwrap_or(&[]);
            let found = if skipping { None } else { value(&mut in_svc, line) };
            return found.and_then(|(a, b)| buf.get(start + a..start + b));
        }
        have = end;
        if start == 0 && have == buf.len() {
            // A whole buffer without a newline: skip to the next one.
            skipping = true;
            have = 0;
        } else {
            shift(buf, &mut have, start);
        }
    }
}

/// `bytes` without the blanks around, and where that starts in `bytes`:
/// the parser's own trim.
fn trim(bytes: &[u8]) -> Word<'_> {
    Word { bytes, at: 0 }.trim()
}

/// One line: notes a section header in `in_svc`; for `control = VALUE` in
/// `[svc]`, where VALUE is in `line`.
fn value(in_svc: &mut bool, raw: &[u8]) -> Option<(usize, usize)> {
    // Blanks as the parser has them (space, tab, CR; not a form feed, which
    // `trim_ascii` would drop: the fuzzer found a path the two read apart).
    let line = trim(raw);
    if let Some(header) = crate::text::after(line.bytes, b"[") {
        *in_svc = header.strip_suffix(b"]").map(|h| trim(h).bytes) == Some(b"svc");
        return None;
    }
    let eq = line.bytes.iter().position(|&b| b == b'=').filter(|_| *in_svc)?;
    if line.sub(0, eq).trim().bytes != b"control" {
        return None;
    }
    let v = line.sub(eq + 1, line.bytes.len()).trim();
    (!v.bytes.is_empty()).then_some((v.at, v.at + v.bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `control_path` over `text` read `step` bytes at a time, with a line buffer of `cap`.
    fn scan(text: &[u8], step: usize, cap: usize) -> Option<std::vec::Vec<u8>> {
        let mut buf = std::vec![0u8; cap];
        let mut at = 0;
        let found = control_path(&mut buf, |into| {
            let k = into.len().min(step).min(text.len() - at);
            into[..k].copy_from_slice(&text[at..at + k]);
            at += k;
            Some(k)
        });
        found.map(|v| v.to_vec())
    }

    #[test]
    fn finds_control() {
        let t = b"# x\n[web]\ncontrol = /no\n[svc]\ncontrol_group = adm\n control = /run/a.sock \n[db]\n";
        for step in [1, 2, 3, 7, 64, 4096] {
            for cap in [24, 25, 64, 4097] {
                assert_eq!(scan(t, step, cap).as_deref(), Some(&b"/run/a.sock"[..]), "step {step} cap {cap}");
            }
        }
        for (text, want) in [
            (&b"[svc]\n"[..], None),
            (b"", None),
            (b"[svc]\ncontrol = /a", Some(&b"/a"[..])),
            (b"[svc]\r\n\tcontrol\t=\t/a\r\n", Some(b"/a")),
            (b"[ svc ]\ncontrol=/a\n", Some(b"/a")),
            (b"[svc]\ncontrol =   \ncontrol = /b\n", Some(b"/b")),
            (b"[svc]\n# control = /c\n", None),
            (b"[svc]x\ncontrol = /a\n", None),
            (b"[web]\ncontrol = /a\n[svc]\n", None),
        ] {
            assert_eq!(scan(text, 5, 64).as_deref(), want, "{:?}", std::string::String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn past_any_prefix_and_over_long_lines() {
        // [svc] after 30 KiB of comments and services, read in pieces.
        let mut t = std::vec::Vec::new();
        for i in 0..320 {
            t.extend_from_slice(std::format!("# {i:0>96}\n").as_bytes());
        }
        t.extend_from_slice(b"[web]\nexec = /bin/x\n[svc]\ncontrol = /late.sock\n");
        assert!(t.len() > 30 * 1024);
        assert_eq!(scan(&t, 4096, 4097).as_deref(), Some(&b"/late.sock"[..]));
        // A line longer than the buffer is skipped, whatever it holds.
        let long = std::format!("[svc]\ncontrol = /{}\ncontrol = /short\n", "x".repeat(100));
        assert_eq!(scan(long.as_bytes(), 7, 64).as_deref(), Some(&b"/short"[..]));
        // A reader that fails ends the scan.
        let mut buf = [0u8; 16];
        assert_eq!(control_path(&mut buf, |_| None), None);
    }
}
