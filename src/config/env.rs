//! A service's environment: `env` and `env_file` entries in order (a later
//! key replaces an earlier one in place), then PATH when missing and
//! SVC_SERVICE. env_file errors carry the file's line number, never its
//! text. No syscalls: the file is read through `Files`.

use super::keys::{self, is_blank};
use super::{DEFAULT_PATH, Parser, Section, Word, located, push_str, slice};
use crate::config::{Error, FileError, Range, Span};
use crate::limits::MAX_ENV;
use heapless::Vec;

/// Adds `entry` to `env`, replacing an entry with the same key in place.
fn env_set(arena: &[u8], env: &mut Vec<Span, MAX_ENV>, entry: Span) -> Result<(), Error> {
    let key = keys::env_key(slice(arena, entry));
    match env.iter_mut().find(|e| keys::env_key(slice(arena, **e)) == key) {
        Some(e) => *e = entry,
        None => env.push(entry).map_err(|_| Error::TooManyEnv)?,
    }
    Ok(())
}

/// The key of an `env` value as written: up to `=` or a blank.
pub(super) fn env_key_word(value: Word) -> Word {
    let end = value.bytes.iter().position(|&b| b == b'=' || is_blank(b)).unwrap_or(value.bytes.len());
    value.sub(0, end)
}

impl Parser<'_> {
    /// `env = KEY=value`. Errors quote the key only (up to `=` or a blank):
    /// the value may be a secret.
    pub(super) fn env(&mut self, sec: &mut Section, value: Word) -> Result<(), (Error, Span)> {
        let key = env_key_word(value).span();
        if !keys::env_entry_ok(value.bytes) {
            return Err((Error::BadEnv, key));
        }
        let Some(s) = push_str(&mut self.out.arena, &[value.bytes]) else {
            self.arena_error(self.line, key);
            return Ok(());
        };
        env_set(&self.out.arena, &mut sec.env, s).map_err(|e| (e, key))
    }

    /// `env_file` (an absolute path, stored): reads the file and adds its
    /// `KEY=value` lines. Errors say the line number, never the line.
    pub(super) fn env_file(&mut self, sec: &mut Section, value: Word) -> Result<(), Error> {
        let data = match self.files.read(value.bytes) {
            Ok(d) => d,
            Err(FileError::Unsafe) => return Err(Error::EnvFileUnsafe),
            Err(FileError::TooBig) => return Err(Error::EnvFileTooBig),
            Err(FileError::Os(_)) => return Err(Error::EnvFileUnreadable),
            Err(FileError::NotRegular) => return Err(Error::EnvFileNotRegular),
        };
        let mut file_line = 0u32;
        for raw in crate::text::split(data, b'\n') {
            file_line = file_line.saturating_add(1);
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let lead = raw.iter().take_while(|&&b| is_blank(b)).count();
            let line = raw.get(lead..).unwrap_or(&[]);
            if line.is_empty() || line.starts_with(b"#") {
                continue;
            }
            let mut e = located(self.line, self.section, Span::default(), Error::EnvFileLine);
            e.file_line = file_line;
            if !keys::env_entry_ok(line) {
                self.errors.push(e);
                continue;
            }
            let Some(s) = push_str(&mut self.out.arena, &[line]) else {
                if !self.arena_full {
                    self.arena_full = true;
                    e.error = Error::ArenaFull;
                    self.errors.push(e);
                }
                return Ok(());
            };
            if env_set(&self.out.arena, &mut sec.env, s).is_err() {
                e.error = Error::TooManyEnv;
                self.errors.push(e);
                return Ok(());
            }
        }
        Ok(())
    }

    /// PATH when missing and SVC_SERVICE, then the environment to `strs`.
    pub(super) fn environment(&mut self, sec: &mut Section, name: Word) {
        let arena = &self.out.arena;
        let has_path = sec.env.iter().any(|&s| keys::env_key(slice(arena, s)) == b"PATH");
        for parts in [&[DEFAULT_PATH][..], &[b"SVC_SERVICE=", name.bytes]] {
            if has_path && parts.len() == 1 {
                continue;
            }
            let Some(s) = push_str(&mut self.out.arena, parts) else {
                return self.arena_error(sec.line, Span::default());
            };
            if env_set(&self.out.arena, &mut sec.env, s).is_err() {
                return self.error_at(sec.line, Error::TooManyEnv, Span::default());
            }
        }
        let first = self.out.strs.len();
        for &s in sec.env.iter() {
            if self.out.strs.push(s).is_err() {
                return self.arena_error(sec.line, Span::default());
            }
        }
        sec.def.env = Range { first: first as u16, count: sec.env.len() as u16 };
    }
}
