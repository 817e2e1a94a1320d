//! A word of the config text (bytes and where they start) and the words
//! of a value: the pieces every key parser works on.

use super::super::Span;
use super::keys::is_blank;

/// A piece of the config text and where it starts.
#[derive(Clone, Copy)]
pub(in crate::config) struct Word<'t> {
    pub(in crate::config) bytes: &'t [u8],
    pub(in crate::config) at: usize,
}

impl<'t> Word<'t> {
    pub(super) const EMPTY: Word<'static> = Word { bytes: &[], at: 0 };
    pub(super) fn span(self) -> Span {
        // The text is at most CONFIG_BYTES, so offsets fit u32.
        Span { start: self.at as u32, len: self.bytes.len() as u32 }
    }
    // Out of line on x86_64 (-56 bytes) and armv7 (-192), smaller there
    // than inlined at its twenty-odd uses; not on i686 (+148) and aarch64 (+80).
    #[cfg_attr(any(target_arch = "x86_64", target_arch = "arm"), inline(never))]
    pub(in crate::config) fn sub(self, from: usize, to: usize) -> Word<'t> {
        Word { bytes: self.bytes.get(from..to).unwrap_or(&[]), at: self.at + from }
    }
    /// The words of `self` between blanks and `sep` (a blank for none).
    pub(super) fn words(self, sep: u8) -> Words<'t> {
        Words { value: self, at: 0, sep }
    }
    pub(in crate::config) fn trim(self) -> Word<'t> {
        let lead = self.bytes.iter().take_while(|&&b| is_blank(b)).count();
        let trail = self.bytes.iter().rev().take_while(|&&b| is_blank(b)).count();
        let end = self.bytes.len().saturating_sub(trail).max(lead);
        self.sub(lead, end)
    }
}

/// The words of a value (a plain iterator: `from_fn`'s closure, or a
/// slice split and a filter, compiled bigger).
pub(super) struct Words<'a> {
    value: Word<'a>,
    at: usize,
    sep: u8,
}

impl<'a> Iterator for Words<'a> {
    type Item = Word<'a>;
    fn next(&mut self) -> Option<Word<'a>> {
        let b = self.value.bytes;
        let gap = |c: u8| is_blank(c) || c == self.sep;
        while b.get(self.at).is_some_and(|&c| gap(c)) {
            self.at += 1;
        }
        let start = self.at;
        while b.get(self.at).is_some_and(|&c| !gap(c)) {
            self.at += 1;
        }
        (self.at > start).then(|| self.value.sub(start, self.at))
    }
}
