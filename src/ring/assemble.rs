//! Pipe bytes → log lines: one `Assembler` per instance's output pipe holds
//! the partial line between reads and cuts long output into LOG_LINE_BYTES
//! pieces. No syscalls.

use crate::limits::LOG_LINE_BYTES;

// The partial line's length is u16.
const _: () = assert!(LOG_LINE_BYTES <= u16::MAX as usize);

/// Turns one instance's pipe bytes into lines: each `\n` ends a line (the
/// `\n` dropped, every other byte kept, `\r` included); longer output is cut
/// into LOG_LINE_BYTES pieces. Holds the partial line between reads.
pub struct Assembler {
    pub(crate) buf: [u8; LOG_LINE_BYTES],
    pub(crate) len: u16,
}

impl Assembler {
    pub const fn new() -> Self {
        Assembler { buf: [0; LOG_LINE_BYTES], len: 0 }
    }

    #[cfg(test)]
    /// True while a partial line waits for its `\n` (or a `flush`).
    pub const fn has_partial(&self) -> bool {
        self.len != 0
    }

    /// Emits every line that `bytes` completes.
    pub fn feed(&mut self, bytes: &[u8], emit: &mut impl FnMut(&[u8])) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let nl = rest.iter().position(|&b| b == b'\n');
            let (mut seg, after) = match nl {
                Some(i) => (rest.get(..i).unwrap_or(&[]), rest.get(i + 1..).unwrap_or(&[])),
                None => (rest, &[][..]),
            };
            rest = after;
            let ended = nl.is_some();
            // The line went out straight from `bytes`, without a copy.
            let mut sent = false;
            while !seg.is_empty() {
                let len = self.len as usize;
                if len == LOG_LINE_BYTES {
                    // Full, and more bytes follow: a whole piece. (Full with
                    // the `\n` next is a whole line, emitted below.)
                    emit(&self.buf);
                    self.len = 0;
                } else if len == 0 && seg.len() > LOG_LINE_BYTES {
                    let (piece, more) = seg.split_at_checked(LOG_LINE_BYTES).unwrap_or((seg, &[]));
                    emit(piece);
                    seg = more;
                } else if len == 0 && ended {
                    emit(seg);
                    sent = true;
                    break;
                } else {
                    let k = seg.len().min(LOG_LINE_BYTES - len);
                    let (take, more) = seg.split_at_checked(k).unwrap_or((seg, &[]));
                    if let Some(dst) = self.buf.get_mut(len..len + take.len()) {
                        crate::text::copy(dst, take);
                    }
                    self.len += take.len() as u16;
                    seg = more;
                }
            }
            if ended && !sent {
                emit(self.buf.get(..self.len as usize).unwrap_or(&[]));
                self.len = 0;
            }
        }
    }

    /// Emits a pending partial line (the pipe is idle or closed).
    pub fn flush(&mut self, emit: &mut impl FnMut(&[u8])) {
        if self.len != 0 {
            emit(self.buf.get(..self.len as usize).unwrap_or(&[]));
            self.len = 0;
        }
    }
}

impl Default for Assembler {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines the assembler should emit for `input`, then for a flush.
    fn expected(input: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        let last = parts.pop().unwrap();
        for p in parts {
            if p.is_empty() {
                out.push(vec![]);
            }
            out.extend(p.chunks(LOG_LINE_BYTES).map(|c| c.to_vec()));
        }
        out.extend(last.chunks(LOG_LINE_BYTES).map(|c| c.to_vec()));
        out
    }

    fn assemble(input: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut a = Assembler::new();
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain([input.len()].iter()) {
            let c = c.min(input.len()).max(at);
            a.feed(&input[at..c], &mut |l: &[u8]| out.push(l.to_vec()));
            at = c;
        }
        a.flush(&mut |l: &[u8]| out.push(l.to_vec()));
        assert!(!a.has_partial());
        out
    }

    #[test]
    fn assembler_script() {
        let mut a = Assembler::new();
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut emit = |l: &[u8]| out.push(l.to_vec());
        a.feed(b"ab", &mut emit);
        a.feed(b"c\nde\n\nf", &mut emit);
        assert!(a.has_partial());
        a.feed(b"g\r\n", &mut emit);
        a.feed(b"", &mut emit);
        a.feed(b"h", &mut emit);
        a.flush(&mut emit);
        a.flush(&mut emit);
        a.feed(b"i\n", &mut emit);
        let want: [&[u8]; 6] = [b"abc", b"de", b"", b"fg\r", b"h", b"i"];
        assert_eq!(out, want.map(|w| w.to_vec()));
    }

    #[test]
    fn assembler_long_lines_and_splits() {
        let l = LOG_LINE_BYTES;
        let run = |n: usize| -> Vec<u8> { (0..n).map(|i| b'a' + (i % 26) as u8).collect() };
        let cat = |parts: &[&[u8]]| parts.concat();
        let inputs: Vec<Vec<u8>> = vec![
            cat(&[&run(l), b"\n"]),
            cat(&[&run(l + 1), b"\n"]),
            cat(&[&run(2 * l), b"\n"]),
            cat(&[&run(2 * l + 5), b"\nx\n", &run(l)]),
            cat(&[&run(l - 1), b"\n\n", &run(l), b"\n", &run(3 * l + 1)]),
            b"\n\n\n".to_vec(),
            run(l),
            cat(&[b"ab\ncd", &run(l), b"\n"]),
        ];
        for (k, input) in inputs.iter().enumerate() {
            let want = expected(input);
            assert_eq!(assemble(input, &[]), want, "input {k} whole");
            for step in [1, 2, 7, l - 1, l, l + 1] {
                let cuts: Vec<usize> = (step..input.len()).step_by(step).collect();
                assert_eq!(assemble(input, &cuts), want, "input {k} step {step}");
            }
            for cut in 0..=input.len().min(3 * l + 8) {
                assert_eq!(assemble(input, &[cut]), want, "input {k} cut {cut}");
            }
        }
        // Exactly one piece for a line of LOG_LINE_BYTES, no empty line after it.
        assert_eq!(assemble(&inputs[0], &[]).len(), 1);
        assert_eq!(assemble(&inputs[2], &[]).len(), 2);
    }
}
