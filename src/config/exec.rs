//! Exec lines (`exec`, `ready = exec:`): words split by argv.rs, stored in
//! the arena and, contiguous, in `strs`; the program must be an absolute
//! path. No syscalls.

use super::{Parser, Word};
use crate::argv::Words;
use crate::config::{Error, Range, Span};
use crate::limits::{MAX_ARGS, PATH_BYTES};

impl Parser<'_> {
    /// An exec line (`exec`, `ready = exec:`): the words go to the arena
    /// and, contiguous, to `strs`. Its range, or None when the arena is
    /// full (reported once).
    pub(super) fn words(&mut self, value: Word) -> Result<Option<Range>, (Error, Span)> {
        let first = self.out.strs.len();
        let arena_mark = self.out.arena.len();
        match self.exec_words(value) {
            Ok(0) => Err((Error::EmptyValue, value.span())),
            Ok(count) => Ok(Some(Range { first: first as u16, count })),
            Err((e, span)) => {
                self.out.arena.truncate(arena_mark);
                self.out.strs.truncate(first);
                if e != Error::ArenaFull {
                    return Err((e, span));
                }
                self.arena_error(self.line, span);
                Ok(None)
            }
        }
    }

    fn exec_words(&mut self, value: Word) -> Result<u16, (Error, Span)> {
        let mut words = Words::new(value.bytes);
        let mut count = 0u16;
        loop {
            let arena = &mut self.out.arena;
            let start = arena.len();
            let mut full = false;
            let got = words.next_into(&mut |b| full |= arena.push(b).is_err());
            let raw = match got {
                None => return Ok(count),
                Some(Ok(raw)) => raw,
                Some(Err((e, raw))) => return Err((e.into(), value.sub(raw.start, raw.end).span())),
            };
            let word = value.sub(raw.start, raw.end);
            if full {
                return Err((Error::ArenaFull, word.span()));
            }
            if count == 0 && self.out.arena.get(start) != Some(&b'/') {
                return Err((Error::RelativeProgram, word.span()));
            }
            if count == 0 && self.out.arena.len() - start >= PATH_BYTES {
                return Err((Error::PathTooLong, word.span()));
            }
            if usize::from(count) >= MAX_ARGS {
                return Err((Error::TooManyArgs, word.span()));
            }
            let len = self.out.arena.len() - start;
            let span = Span { start: start as u32, len: len as u32 };
            if self.out.arena.push(0).is_err() || self.out.strs.push(span).is_err() {
                return Err((Error::ArenaFull, word.span()));
            }
            count += 1;
        }
    }
}

impl From<crate::argv::Error> for Error {
    fn from(e: crate::argv::Error) -> Self {
        match e {
            crate::argv::Error::BadQuote => Error::BadQuote,
        }
    }
}
