//! A strict JSON reader (RFC 8259, duplicate keys refused), enough to
//! check `svc status --json`, and a cross-check with python3 when present.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::run::{CLIENT_TIMEOUT, output_within};

/// A JSON value; numbers keep their text.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// The value of `key` in an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        *self == Json::Null
    }
    /// A non-negative integer (no fraction, no exponent).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(t) => t.parse().ok(),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Json::Obj(m) => m.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

/// Parses one JSON value that is the whole of `text` (blanks around it allowed),
/// strictly (RFC 8259; duplicate keys refused).
pub fn parse_json(text: &str) -> Result<Json, String> {
    let b = text.as_bytes();
    let mut i = 0;
    let v = json_value(b, &mut i, 0)?;
    json_blank(b, &mut i);
    if i != b.len() {
        return Err(format!("trailing bytes at {i}"));
    }
    Ok(v)
}

fn json_blank(b: &[u8], i: &mut usize) {
    while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
        *i += 1;
    }
}

fn json_value(b: &[u8], i: &mut usize, depth: u32) -> Result<Json, String> {
    if depth > 64 {
        return Err("nested too deep".into());
    }
    json_blank(b, i);
    let lit = |i: &mut usize, word: &str, v: Json| -> Result<Json, String> {
        if b[*i..].starts_with(word.as_bytes()) {
            *i += word.len();
            Ok(v)
        } else {
            Err(format!("bad literal at {i}"))
        }
    };
    match b.get(*i) {
        None => Err("unexpected end".into()),
        Some(b'n') => lit(i, "null", Json::Null),
        Some(b't') => lit(i, "true", Json::Bool(true)),
        Some(b'f') => lit(i, "false", Json::Bool(false)),
        Some(b'"') => json_string(b, i).map(Json::Str),
        Some(b'[') => {
            *i += 1;
            let mut v = Vec::new();
            json_blank(b, i);
            if b.get(*i) == Some(&b']') {
                *i += 1;
                return Ok(Json::Arr(v));
            }
            for _ in 0..b.len() {
                v.push(json_value(b, i, depth + 1)?);
                json_blank(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b']') => {
                        *i += 1;
                        return Ok(Json::Arr(v));
                    }
                    _ => return Err(format!("expected , or ] at {i}")),
                }
            }
            Err("unterminated array".into())
        }
        Some(b'{') => {
            *i += 1;
            let mut m: Vec<(String, Json)> = Vec::new();
            json_blank(b, i);
            if b.get(*i) == Some(&b'}') {
                *i += 1;
                return Ok(Json::Obj(m));
            }
            for _ in 0..b.len() {
                json_blank(b, i);
                if b.get(*i) != Some(&b'"') {
                    return Err(format!("expected a key at {i}"));
                }
                let k = json_string(b, i)?;
                json_blank(b, i);
                if b.get(*i) != Some(&b':') {
                    return Err(format!("expected : at {i}"));
                }
                *i += 1;
                let v = json_value(b, i, depth + 1)?;
                if m.iter().any(|(q, _)| *q == k) {
                    return Err(format!("duplicate key {k:?}"));
                }
                m.push((k, v));
                json_blank(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b'}') => {
                        *i += 1;
                        return Ok(Json::Obj(m));
                    }
                    _ => return Err(format!("expected , or }} at {i}")),
                }
            }
            Err("unterminated object".into())
        }
        Some(c) if *c == b'-' || c.is_ascii_digit() => {
            let start = *i;
            let digits = |i: &mut usize| -> usize {
                let s = *i;
                while *i < b.len() && b[*i].is_ascii_digit() {
                    *i += 1;
                }
                *i - s
            };
            if b[*i] == b'-' {
                *i += 1;
            }
            let lead = b.get(*i).copied();
            let n = digits(i);
            if n == 0 || (lead == Some(b'0') && n > 1) {
                return Err(format!("bad number at {start}"));
            }
            if b.get(*i) == Some(&b'.') {
                *i += 1;
                if digits(i) == 0 {
                    return Err(format!("bad fraction at {start}"));
                }
            }
            if matches!(b.get(*i), Some(b'e' | b'E')) {
                *i += 1;
                if matches!(b.get(*i), Some(b'+' | b'-')) {
                    *i += 1;
                }
                if digits(i) == 0 {
                    return Err(format!("bad exponent at {start}"));
                }
            }
            Ok(Json::Num(String::from_utf8_lossy(&b[start..*i]).into_owned()))
        }
        Some(c) => Err(format!("unexpected {:?} at {i}", *c as char)),
    }
}

fn json_string(b: &[u8], i: &mut usize) -> Result<String, String> {
    *i += 1; // the opening quote
    let mut out: Vec<u8> = Vec::new();
    let hex4 = |i: &mut usize| -> Result<u32, String> {
        let h = b.get(*i..*i + 4).ok_or("short \\u escape")?;
        let h = std::str::from_utf8(h).map_err(|_| "bad \\u escape")?;
        let v = u32::from_str_radix(h, 16).map_err(|_| format!("bad \\u escape {h:?}"))?;
        *i += 4;
        Ok(v)
    };
    for _ in 0..b.len() {
        let Some(&c) = b.get(*i) else { break };
        *i += 1;
        match c {
            b'"' => return String::from_utf8(out).map_err(|_| "a string that is not UTF-8".into()),
            b'\\' => {
                let Some(&e) = b.get(*i) else { break };
                *i += 1;
                let ch = match e {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        let hi = hex4(i)?;
                        let code = if (0xD800..0xDC00).contains(&hi) {
                            if b.get(*i..*i + 2) != Some(b"\\u") {
                                return Err("lone high surrogate".into());
                            }
                            *i += 2;
                            let lo = hex4(i)?;
                            if !(0xDC00..0xE000).contains(&lo) {
                                return Err("bad low surrogate".into());
                            }
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        } else {
                            hi
                        };
                        char::from_u32(code).ok_or("bad \\u code point")?
                    }
                    _ => return Err(format!("bad escape \\{}", e as char)),
                };
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            c if c < 0x20 => return Err(format!("raw control byte {c:#x} in a string")),
            c => out.push(c),
        }
    }
    Err("unterminated string".into())
}

/// `python3 -m json.tool --json-lines FILE` on `lines` (written to `path`):
/// Some(output) when python3 runs, None (with a note) when there is none.
pub fn python_json_lines(path: &Path, lines: &str) -> Option<Output> {
    fs::write(path, lines).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    let mut c = Command::new("python3");
    c.args(["-m", "json.tool", "--json-lines"]).arg(path);
    match c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Err(_) => {
            eprintln!("note: no python3; the JSON is checked by the tests' own reader only");
            None
        }
        Ok(_) => Some(output_within(&mut c, CLIENT_TIMEOUT)),
    }
}
