//! An exec line → words: blanks separate words, `"double quotes"` group
//! (`""` is one empty word), and a backslash escapes `"`, `\` or a blank.
//! A backslash before anything else stays as written, so `\d` in a regex
//! needs no doubling. No shell, no variables, no globs. No syscalls.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    BadQuote,
}

impl Error {
    #[cfg(test)]
    pub const fn text(self) -> &'static str {
        match self {
            Error::BadQuote => "unterminated quote or dangling backslash",
        }
    }
}

/// Where a word stands in the line (escapes and quotes included).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Raw {
    pub start: usize,
    pub end: usize,
}

const fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The words of one line, produced one at a time into the caller's storage
/// (the config arena), so that no word is ever copied through a buffer.
pub struct Words<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Words<'a> {
    pub const fn new(text: &'a [u8]) -> Self {
        Words { text, pos: 0 }
    }

    /// Unescapes the next word into `byte`, one byte at a time, and returns
    /// where it was written; `None` after the last word. On `Err` the line is
    /// done: the bytes already handed out belong to a word that is not one.
    pub fn next_into(&mut self, byte: &mut impl FnMut(u8)) -> Option<Result<Raw, (Error, Raw)>> {
        let rest = self.text.get(self.pos..).unwrap_or(&[]);
        let skip = rest.iter().take_while(|&&b| is_blank(b)).count();
        let start = self.pos + skip;
        let mut i = start;
        let mut quoted = false;
        if i >= self.text.len() {
            self.pos = i;
            return None;
        }
        while let Some(&b) = self.text.get(i) {
            // One call of `byte` (inlined once), whichever byte it is.
            let out = match b {
                b'"' => {
                    quoted = !quoted;
                    None
                }
                b'\\' => match self.text.get(i + 1) {
                    Some(&n) if n == b'"' || n == b'\\' || is_blank(n) => {
                        i += 1;
                        Some(n)
                    }
                    Some(_) => Some(b),
                    None => {
                        self.pos = self.text.len();
                        return Some(Err((Error::BadQuote, Raw { start, end: self.text.len() })));
                    }
                },
                _ if is_blank(b) && !quoted => break,
                _ => Some(b),
            };
            if let Some(c) = out {
                byte(c);
            }
            i += 1;
        }
        self.pos = i;
        if quoted {
            self.pos = self.text.len();
            return Some(Err((Error::BadQuote, Raw { start, end: self.text.len() })));
        }
        Some(Ok(Raw { start, end: i }))
    }
}

/// Calls `word` with each unescaped word of `text`, through a buffer of N
/// bytes (a longer word is an error, `Err(None)`), for callers without an
/// arena. Stops at the first error.
#[cfg(test)]
pub fn split<const N: usize>(text: &[u8], word: &mut impl FnMut(&[u8])) -> Result<(), Option<Error>> {
    let mut words = Words::new(text);
    loop {
        let mut buf = [0u8; N];
        let mut len = 0usize;
        let mut long = false;
        let got = words.next_into(&mut |b| match buf.get_mut(len) {
            Some(slot) => {
                *slot = b;
                len += 1;
            }
            None => long = true,
        });
        match got {
            None => return Ok(()),
            Some(Err((e, _))) => return Err(Some(e)),
            Some(Ok(_)) if long => return Err(None),
            Some(Ok(_)) => word(buf.get(..len).unwrap_or(&[])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Result<Vec<String>, Option<Error>> {
        let mut v = Vec::new();
        split::<64>(text.as_bytes(), &mut |w| v.push(String::from_utf8(w.to_vec()).unwrap()))?;
        Ok(v)
    }

    #[test]
    fn split_table() {
        let table: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   \t ", &[]),
            ("/bin/true", &["/bin/true"]),
            ("  a  b\tc  ", &["a", "b", "c"]),
            (r#"/x "--motd=hello world""#, &["/x", "--motd=hello world"]),
            (r#"a "" b"#, &["a", "", "b"]),
            (r#""""#, &[""]),
            (r#"a"b c"d"#, &["ab cd"]),
            (r#"say \"hi\""#, &["say", "\"hi\""]),
            (r#"a\ b c"#, &["a b", "c"]),
            (r#"a\\ b"#, &["a\\", "b"]),
            (r#"grep \d+"#, &["grep", "\\d+"]),
            (r#""in \"quotes\" \\ \ ""#, &["in \"quotes\" \\  "]),
            ("a#b #c", &["a#b", "#c"]),
        ];
        for (text, want) in table {
            assert_eq!(words(text), Ok(want.iter().map(|s| s.to_string()).collect()), "{text}");
        }
    }

    #[test]
    fn bad_quotes() {
        for text in [r#"a "b"#, r#"""#, r#"a\"#, r#""a\""#, r#"x "y z\"#] {
            assert_eq!(words(text), Err(Some(Error::BadQuote)), "{text}");
        }
    }

    #[test]
    fn raw_places() {
        let text = br#" /x  "a b" c"#;
        let mut w = Words::new(text);
        let mut places = Vec::new();
        while let Some(r) = w.next_into(&mut |_| {}) {
            let r = r.unwrap();
            places.push((r.start, r.end));
        }
        assert_eq!(places, [(1, 3), (5, 10), (11, 12)]);
        let mut w = Words::new(br#"ok "open"#);
        assert!(matches!(w.next_into(&mut |_| {}), Some(Ok(_))));
        assert_eq!(w.next_into(&mut |_| {}), Some(Err((Error::BadQuote, Raw { start: 3, end: 8 }))));
        assert_eq!(w.next_into(&mut |_| {}), None);
    }

    #[test]
    fn word_longer_than_buffer() {
        assert_eq!(split::<4>(b"abcde", &mut |_| {}), Err(None));
        assert_eq!(split::<4>(b"abcd", &mut |_| {}), Ok(()));
    }
}
