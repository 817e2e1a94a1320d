//! Text out without core::fmt: a fixed buffer that ufmt writes into, column
//! padding, and errno names; and decimal numbers in. A message longer than
//! its buffer is cut, never grown. No syscalls.

use ufmt::{uDisplay, uWrite};

/// Copies as much of `src` as fits into `dst`; the count. (copy_from_slice
/// panics on a length mismatch with a message that links core::fmt.)
pub fn copy(dst: &mut [u8], src: &[u8]) -> usize {
    let mut n = 0;
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
        n += 1;
    }
    n
}

/// `bytes` as a C string if its only NUL ends it (as
/// `CStr::from_bytes_with_nul`, by way of `from_bytes_until_nul`, so that
/// one of the two is linked rather than both).
#[inline(never)]
pub fn cstr(bytes: &[u8]) -> Option<&core::ffi::CStr> {
    core::ffi::CStr::from_bytes_until_nul(bytes).ok().filter(|c| c.count_bytes() + 1 == bytes.len())
}

/// `bytes` split at each `sep` (one iterator type for every separator: a
/// closure of its own at each call site would compile `split` again).
pub fn split(bytes: &[u8], sep: u8) -> core::slice::Split<'_, u8, impl FnMut(&u8) -> bool> {
    bytes.split(move |&b| b == sep)
}

/// What follows `prefix` in `bytes` (`strip_prefix`, which is otherwise
/// compiled once for each length of literal prefix).
#[inline(never)]
pub fn after<'a>(bytes: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    bytes.strip_prefix(prefix)
}

/// Appends `b` to `buf[..*len]`, as much as fits; false if it was cut.
#[inline(never)]
pub fn append(buf: &mut [u8], len: &mut usize, b: &[u8]) -> bool {
    let n = copy(buf.get_mut(*len..).unwrap_or(&mut []), b);
    *len += n;
    n == b.len()
}

/// Drops the first `n` bytes of `buf[..*len]`. (By hand: copy_within's
/// range check would link core::fmt.)
#[inline(never)]
pub fn shift(buf: &mut [u8], len: &mut usize, n: usize) {
    let n = n.min(*len);
    for i in n..*len {
        if let Some(b) = buf.get(i).copied()
            && let Some(d) = buf.get_mut(i - n)
        {
            *d = b;
        }
    }
    *len -= n;
}

/// A fixed buffer for one message or one chunk of a streamed reply: a
/// `Buffer` of `N` bytes.
pub type Buf<const N: usize> = Buffer<[u8; N]>;

/// A `Buf` of any size, which every `Buf<N>` derefs to. Its methods and its
/// `uWrite` exist once: ufmt code (every `uwrite!`, every `uDisplay`) is
/// generic over the writer, and would otherwise be copied for each N.
pub type Out = Buffer<[u8]>;

/// The bytes last, so that `Buffer<[u8; N]>` coerces to `Buffer<[u8]>`.
pub struct Buffer<B: ?Sized> {
    len: usize,
    cut: bool,
    bytes: B,
}

impl<const N: usize> Buf<N> {
    pub const fn new() -> Self {
        Buffer { len: 0, cut: false, bytes: [0; N] }
    }
}

impl<const N: usize> Default for Buf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::ops::Deref for Buf<N> {
    type Target = Out;
    fn deref(&self) -> &Out {
        self
    }
}

impl<const N: usize> core::ops::DerefMut for Buf<N> {
    fn deref_mut(&mut self) -> &mut Out {
        self
    }
}

impl Out {
    // Not inlined: its range check, copied into each of the ~100 callers,
    // cost 800 bytes more than the calls.
    #[inline(never)]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Room left, in bytes.
    pub fn room(&self) -> usize {
        self.bytes.len() - self.len
    }
    /// True once something did not fit.
    pub fn was_cut(&self) -> bool {
        self.cut
    }
    pub fn clear(&mut self) {
        self.len = 0;
        self.cut = false;
    }
    /// Keeps the first `n` bytes.
    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n);
    }
    /// Appends what fits; remembers that the rest was cut.
    pub fn push(&mut self, b: &[u8]) {
        if !append(&mut self.bytes, &mut self.len, b) {
            self.cut = true;
        }
    }
    /// Appends each of `parts`: one call where a call per part would cost
    /// more at the call site (four words of arguments each on i686).
    #[inline(never)]
    pub fn push_all(&mut self, parts: &[&[u8]]) {
        for p in parts {
            self.push(p);
        }
    }
    pub fn push_byte(&mut self, b: u8) {
        self.push(&[b]);
    }
    /// Appends `v` displayed, then blanks up to `width` bytes (left-aligned column).
    pub fn pad<T: uDisplay + ?Sized>(&mut self, v: &T, width: usize) {
        let start = self.len;
        let _ = ufmt::uwrite!(self, "{}", v);
        self.blanks_to(start + width);
    }
    /// Appends blanks until `end` bytes are written (the padding of `pad`,
    /// out of line: `pad` is compiled for each type it shows).
    #[inline(never)]
    pub fn blanks_to(&mut self, end: usize) {
        for _ in self.len..end {
            self.push_byte(b' ');
        }
    }
    /// The room left, to read into in place; `grow` then counts what came.
    pub fn spare(&mut self) -> &mut [u8] {
        self.bytes.get_mut(self.len..).unwrap_or(&mut [])
    }
    /// Counts `n` more bytes as written (into `spare`).
    pub fn grow(&mut self, n: usize) {
        self.len = (self.len + n).min(self.bytes.len());
    }
    /// Drops the first `n` bytes (what a partial write sent), keeping the rest.
    pub fn consume(&mut self, n: usize) {
        shift(&mut self.bytes, &mut self.len, n);
    }
}

impl uWrite for Out {
    type Error = core::convert::Infallible;
    fn write_str(&mut self, s: &str) -> Result<(), Self::Error> {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// Bytes shown as text: invalid UTF-8 becomes `?` and an ASCII control
/// byte `\xNN` (so that an ESC from a config file cannot drive the
/// terminal), so that a name or a path from a file can be printed without
/// trusting it.
pub struct Bytes<'a>(pub &'a [u8]);

impl uDisplay for Bytes<'_> {
    fn fmt<W: uWrite + ?Sized>(&self, f: &mut ufmt::Formatter<'_, W>) -> Result<(), W::Error> {
        // Generic over the writer, so kept small: the work is in `piece`.
        let mut rest = self.0;
        let mut esc = [0u8; 4];
        while !rest.is_empty() {
            let (text, used) = piece(rest, &mut esc);
            f.write_str(text)?;
            rest = rest.get(used.max(1)..).unwrap_or(&[]);
        }
        Ok(())
    }
}

/// The text that stands for the start of `rest` (a run of valid UTF-8
/// without control bytes, `?` for an invalid sequence, or a control byte
/// as `\xNN` in `esc`), and how many bytes of `rest` it stands for.
#[inline(never)]
fn piece<'a>(rest: &'a [u8], esc: &'a mut [u8; 4]) -> (&'a str, usize) {
    let run = rest.iter().position(|&b| b < 0x20 || b == 0x7f).unwrap_or(rest.len());
    let Some(text) = rest.get(..run).filter(|t| !t.is_empty()) else {
        let c = rest.first().copied().unwrap_or(0);
        let hex = |n: u8| if n < 10 { b'0' + n } else { b'a' + n - 10 };
        *esc = [b'\\', b'x', hex(c >> 4), hex(c & 15)];
        return (core::str::from_utf8(esc).unwrap_or("?"), 1);
    };
    match core::str::from_utf8(text) {
        Ok(s) => (s, run),
        Err(e) => match text.get(..e.valid_up_to()).and_then(|g| core::str::from_utf8(g).ok()).filter(|g| !g.is_empty()) {
            Some(good) => (good, good.len()),
            None => ("?", e.error_len().unwrap_or(run)),
        },
    }
}

/// Line `i` of `table` (without its newline); empty past the end.
pub fn line(table: &'static str, i: usize) -> &'static str {
    let mut n = 0;
    let mut start = 0;
    for (at, &b) in table.as_bytes().iter().enumerate() {
        if b == b'\n' {
            if n == i {
                // (From bytes: a str range would check both ends for a
                // char boundary, which a newline always is.)
                let bytes = table.as_bytes().get(start..at).unwrap_or(&[]);
                return core::str::from_utf8(bytes).unwrap_or("");
            }
            n += 1;
            start = at + 1;
        }
    }
    ""
}

/// The number of the line of `table` that is `word`. Out of line: a
/// `match` on byte strings compiles to a compare per byte at each use.
#[inline(never)]
pub fn find_line(table: &[u8], word: &[u8]) -> Option<usize> {
    crate::text::split(table, b'\n').position(|l| l == word)
}

/// Bytes of `words` as lines, for `lines`.
pub const fn lines_len(words: &[&str]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < words.len() {
        n += words[i].len() + 1;
        i += 1;
    }
    n
}

/// `words` as the lines of one string, at compile time, for a `static`
/// read with `line`: a table of `&str` costs 16 bytes an entry on 64-bit
/// besides the text.
pub const fn lines<const N: usize>(words: &[&str]) -> [u8; N] {
    let mut out = [0u8; N];
    let (mut at, mut i) = (0, 0);
    while i < words.len() {
        let w = words[i].as_bytes();
        assert!(!has_newline(words[i]));
        let mut j = 0;
        while j < w.len() {
            out[at] = w[j];
            at += 1;
            j += 1;
        }
        out[at] = b'\n';
        at += 1;
        i += 1;
    }
    assert!(at == N);
    out
}

/// Whether `s` has a newline (for `texts!`, at compile time).
pub const fn has_newline(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' {
            return true;
        }
        i += 1;
    }
    false
}

/// A field-less enum whose variants each have a text, and its `text()`.
/// The texts are kept as the lines of one string and found by the
/// variant's number: a `match` that returns 60 strings compiles to 60
/// jumps and a table of 60 addresses, which cost twice the texts' bytes.
macro_rules! texts {
    (
        $(#[$m:meta])*
        $vis:vis enum $ty:ident {
            $($(#[$vm:meta])* $v:ident => $t:literal,)*
        }
    ) => {
        $(#[$m])*
        #[repr(u8)]
        $vis enum $ty {
            $($(#[$vm])* $v,)*
        }
        impl $ty {
            pub fn text(self) -> &'static str {
                // A text with a newline would shift every later one.
                const _: () = assert!(!($($crate::text::has_newline($t))||*));
                $crate::text::line(concat!($($t, "\n",)*), self as usize)
            }
        }
    };
}
pub(crate) use texts;

/// Width of `v` when displayed, for aligning columns.
#[cfg(test)]
pub fn width<T: uDisplay + ?Sized>(v: &T) -> usize {
    let mut b = Buf::<64>::new();
    let _ = ufmt::uwrite!(b, "{}", v);
    b.len()
}

/// Parses a decimal u32, rejecting signs, blanks and overflow.
pub fn parse_u32(word: &[u8]) -> Option<u32> {
    if word.is_empty() || word.len() > 10 {
        return None;
    }
    let mut v: u32 = 0;
    for &b in word {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(v)
}

/// An errno shown as `ENOENT (errno 2)`.
pub struct Errno(pub i32);

impl uDisplay for Errno {
    fn fmt<W: uWrite + ?Sized>(&self, f: &mut ufmt::Formatter<'_, W>) -> Result<(), W::Error> {
        f.write_str(errno_name(self.0))?;
        f.write_str(" (errno ")?;
        ufmt::uwrite!(f, "{}", self.0)?;
        f.write_str(")")
    }
}

/// The errnos svc meets, and their names as lines in the same order (a
/// `match` would cost a jump and an address per name; numbers kept in the
/// text would need parsing).
const ERRNO_NUMBERS: [u8; 35] =
    [1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 20, 21, 22, 23, 24, 26, 27, 28, 30, 31, 32, 36, 38, 40, 88, 98, 99, 104, 110, 111];
const ERRNO_NAMES: &str = "EPERM\nENOENT\nESRCH\nEINTR\nEIO\nE2BIG\nENOEXEC\nEBADF\nECHILD\nEAGAIN\nENOMEM\nEACCES\nEFAULT\nEBUSY\nEEXIST\n\
    ENOTDIR\nEISDIR\nEINVAL\nENFILE\nEMFILE\nETXTBSY\nEFBIG\nENOSPC\nEROFS\nEMLINK\nEPIPE\nENAMETOOLONG\nENOSYS\nELOOP\nENOTSOCK\n\
    EADDRINUSE\nEADDRNOTAVAIL\nECONNRESET\nETIMEDOUT\nECONNREFUSED\n";

/// The symbolic name of the errnos svc meets; `EUNKNOWN` for the rest.
pub fn errno_name(e: i32) -> &'static str {
    match ERRNO_NUMBERS.iter().position(|&n| i32::from(n) == e) {
        Some(i) => line(ERRNO_NAMES, i),
        None => "EUNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buf_cuts_and_remembers() {
        let mut b = Buf::<8>::new();
        let _ = ufmt::uwrite!(b, "abc{}", 12345u32);
        assert_eq!(b.as_bytes(), b"abc12345");
        assert!(!b.was_cut());
        b.push(b"x");
        assert!(b.was_cut());
        assert_eq!(b.len(), 8);
        b.consume(3);
        assert_eq!(b.as_bytes(), b"12345");
    }

    #[test]
    fn find_line_is_whole_lines_only() {
        let t = b"none\nnotify\nfd";
        for (w, v) in [(&b"none"[..], Some(0)), (b"notify", Some(1)), (b"fd", Some(2)), (b"no", None), (b"notify2", None), (b"", None)] {
            assert_eq!(find_line(t, w), v);
        }
    }

    #[test]
    fn pad_and_width() {
        let mut b = Buf::<32>::new();
        b.pad("web", 6);
        b.pad(&42u32, 4);
        b.push(b"|");
        assert_eq!(b.as_bytes(), b"web   42  |");
        assert_eq!(width(&1234u32), 4);
        assert_eq!(width(&Bytes(b"a\xffb")), 3);
    }

    #[test]
    fn c_strings() {
        assert_eq!(cstr(b"/a\0"), Some(c"/a"));
        assert_eq!(cstr(b"\0"), Some(c""));
        for bad in [&b""[..], b"/a", b"/a\0b\0", b"\0\0", b"a\0b"] {
            assert_eq!(cstr(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b"007"), Some(7));
        for bad in [&b""[..], b"-1", b"+1", b" 1", b"1x"] {
            assert_eq!(parse_u32(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn control_bytes_are_escaped() {
        for (raw, shown) in [
            (&b"plain/path"[..], "plain/path"),
            (b"a\x1b[2Jb", "a\\x1b[2Jb"),
            (b"\0\x7f\t\n", "\\x00\\x7f\\x09\\x0a"),
            (b"caf\xc3\xa9\x1b\xff", "caf\u{e9}\\x1b?"),
        ] {
            let mut b = Buf::<64>::new();
            let _ = ufmt::uwrite!(b, "{}", Bytes(raw));
            assert_eq!(b.as_bytes(), shown.as_bytes(), "{raw:?}");
        }
    }

    texts! {
        #[derive(Clone, Copy, Debug)]
        enum Three {
            A => "first",
            /// A variant with a doc comment.
            B => "",
            C => "third (last)",
        }
    }

    #[test]
    fn texts_by_variant() {
        assert_eq!([Three::A.text(), Three::B.text(), Three::C.text()], ["first", "", "third (last)"]);
        assert_eq!(line("a\nb\n", 1), "b");
        assert_eq!(line("a\nb\n", 2), "");
        assert_eq!(line("a\nb", 1), "", "a line without its newline is not in the table");
    }

    #[test]
    fn errno_text() {
        let mut b = Buf::<32>::new();
        let _ = ufmt::uwrite!(b, "{}", Errno(2));
        assert_eq!(b.as_bytes(), b"ENOENT (errno 2)");
        assert_eq!(errno_name(9999), "EUNKNOWN");
        assert_eq!(errno_name(0), "EUNKNOWN");
        assert_eq!(errno_name(-2), "EUNKNOWN");
        for (e, name) in [(1, "EPERM"), (7, "E2BIG"), (36, "ENAMETOOLONG"), (88, "ENOTSOCK"), (111, "ECONNREFUSED")] {
            assert_eq!(errno_name(e), name);
        }
        // As many names as numbers, each a name.
        assert_eq!(ERRNO_NAMES.lines().count(), ERRNO_NUMBERS.len());
        assert!(ERRNO_NAMES.lines().all(|n| n.starts_with('E') && n.len() > 2), "{ERRNO_NAMES}");
    }
}
