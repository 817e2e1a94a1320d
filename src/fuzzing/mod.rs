//! The fuzz targets' entry points: each takes any bytes, runs one parser of
//! untrusted or hand-written input and asserts what must hold beyond "no
//! panic": a round trip where an encoder exists, agreement with a plain
//! reading of the grammar, and (config) that every error names a line of
//! the input. Shared by the cargo-fuzz targets in fuzz/ and the corpus
//! replay in tests/fuzz_corpus.rs; the binary never calls them (LTO drops
//! them). Fixed buffers only, as everywhere in the library. No syscalls.

mod config;
pub use config::{config, duration, env_file, passwd, size};

use crate::addr::{self, Addr};
use crate::argv::Words;
use crate::clients::Clients;
use crate::limits::{LINE_BYTES, MAX_INSTANCES, PROBE_OUTPUT_BYTES, REQUEST_BYTES};
use crate::notify::{self, DATAGRAM_BYTES, Item, STATUS_BYTES};
use crate::proto;
use crate::service::Notice;
use crate::supervisor::Supervisor;
use crate::text::Buf;
use crate::{ring, state};
use heapless::Vec;
use ufmt::uwrite;

/// A target's entry point.
pub type Target = fn(&[u8]);

/// Every target, by the name of its fuzz target and corpus directory.
pub const TARGETS: [(&str, Target); 11] = [
    ("config", config),
    ("env_file", env_file),
    ("exec", exec),
    ("duration", duration),
    ("size", size),
    ("addr", addr),
    ("passwd", passwd),
    ("request", request),
    ("reply_head", reply_head),
    ("notify", notify),
    ("state", state),
];

/// Unescaped words of one exec line, one after the other, and their ends.
struct WordList {
    bytes: Vec<u8, LINE_BYTES>,
    ends: Vec<usize, LINE_BYTES>,
}

impl WordList {
    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// The words of `line` (at most LINE_BYTES), checking where each is said to
/// stand; None when the line does not split.
fn split(line: &[u8]) -> Option<WordList> {
    let mut out = WordList { bytes: Vec::new(), ends: Vec::new() };
    let mut words = Words::new(line);
    let mut last_end = 0;
    loop {
        let before = out.bytes.len();
        let mut push = |b| out.bytes.push(b).expect("a word is never longer than its line");
        match words.next_into(&mut push) {
            None => return Some(out),
            Some(Err((_, raw))) => {
                assert_eq!(raw.end, line.len(), "a bad word runs to the end of the line");
                assert!(words.next_into(&mut |_| {}).is_none(), "nothing after a bad word");
                return None;
            }
            Some(Ok(raw)) => {
                assert!(last_end <= raw.start && raw.start < raw.end && raw.end <= line.len(), "word places in order");
                assert!(out.bytes.len() - before <= raw.end - raw.start, "unescaping never grows a word");
                assert!(!matches!(line[raw.start], b' ' | b'\t'), "a word starts after the blanks");
                last_end = raw.end;
                out.ends.push(out.bytes.len()).expect("fewer words than bytes");
            }
        }
    }
}

/// `exec` word splitting (argv.rs): word places are in order and inside the
/// line, and the words, escaped again, split back into the same words.
pub fn exec(data: &[u8]) {
    if data.len() > LINE_BYTES {
        return;
    }
    let Some(words) = split(data) else { return };
    let mut line: Vec<u8, { 3 * LINE_BYTES }> = Vec::new();
    for i in 0..words.ends.len() {
        if i > 0 {
            line.push(b' ').unwrap();
        }
        let w = words.get(i);
        if w.is_empty() {
            line.extend_from_slice(b"\"\"").unwrap();
        }
        for &b in w {
            if matches!(b, b'"' | b'\\' | b' ' | b'\t') {
                line.push(b'\\').unwrap();
            }
            line.push(b).unwrap();
        }
    }
    let again = split(&line).expect("escaped words split");
    assert_eq!(again.ends.len(), words.ends.len(), "as many words after escaping");
    for i in 0..words.ends.len() {
        assert_eq!(again.get(i), words.get(i), "word {} after escaping", i);
    }
}

/// Listen addresses (addr.rs): what parses is emitted as canonical text,
/// which parses back to the same address and is emitted the same again.
pub fn addr(data: &[u8]) {
    let Ok(a) = addr::parse(data) else { return };
    if let Addr::Unix { path, .. } = a {
        // Text shows a control byte or bad UTF-8 escaped, as another path.
        let printable = core::str::from_utf8(path).is_ok_and(|s| !s.bytes().any(|b| b < 0x20 || b == 0x7f));
        assert!(!path.is_empty());
        if !printable {
            return;
        }
    }
    let mut text = Buf::<256>::new();
    let _ = uwrite!(text, "{}", a);
    assert!(!text.was_cut());
    assert_eq!(addr::parse(text.as_bytes()), Ok(a), "the canonical text reads back");
    let mut again = Buf::<256>::new();
    let _ = uwrite!(again, "{}", addr::parse(text.as_bytes()).unwrap());
    assert_eq!(again.as_bytes(), text.as_bytes(), "canonical text is stable");
}

/// Control requests (proto.rs): a request is whole once a newline came (or
/// refused as too long without one); a parsed request is emitted and
/// parses back to the same.
pub fn request(data: &[u8]) {
    let newline = data.iter().position(|&b| b == b'\n');
    let (req, end) = match (proto::parse(data), newline) {
        (Ok(Some(req)), Some(end)) => (req, end),
        (Ok(None), None) if data.len() < REQUEST_BYTES => return,
        (Err(proto::Error::TooLong), None) if data.len() >= REQUEST_BYTES => return,
        (Err(e), Some(_)) if e != proto::Error::TooLong => return,
        (got, _) => panic!("{:?} for a request of {} bytes, newline at {:?}", got, data.len(), newline),
    };
    assert_eq!(req.flags & !req.kind.flags(), 0, "only the flags of its verb");
    for w in req.words.iter() {
        assert!(!w.is_empty() && !w.contains(&b' ') && !w.contains(&b'\n') && w[0] != b'-');
    }
    let _ = (req.names(), req.arg(), req.lines());
    let mut out = Buf::<REQUEST_BYTES>::new();
    if !proto::emit(&req, &mut out) {
        // The emitted line is never longer than what was sent.
        assert!(end >= REQUEST_BYTES, "a request that fit emits");
        return;
    }
    assert_eq!(proto::parse(out.as_bytes()), Ok(Some(req)), "the request reads back");
}

/// Reply heads (proto.rs): a parsed head is emitted and parses back to the
/// same code and message; an emitted head with a quoted word starts with
/// its message.
pub fn reply_head(data: &[u8]) {
    if data.len() > 4 * REQUEST_BYTES {
        return;
    }
    let mut out = Buf::<{ 5 * REQUEST_BYTES }>::new();
    if let Some((code, msg)) = proto::parse_head(data) {
        assert!((0..=255).contains(&code));
        proto::emit_head(code, msg, b"", &mut out);
        let line = out.as_bytes().strip_suffix(b"\n").expect("a head ends its line");
        assert_eq!(proto::parse_head(line), Some((code, msg)), "the head reads back");
    }
    // Any message and word: the code and the message come back first.
    let (msg, word) = data.split_at(data.iter().position(|&b| b == 0).unwrap_or(data.len()));
    let msg = msg.strip_prefix(b" ").unwrap_or(msg);
    out.clear();
    let code = data.len() as i32 % 256;
    proto::emit_head(code, msg, word.get(1..).unwrap_or(&[]), &mut out);
    let line = out.as_bytes().strip_suffix(b"\n").expect("a head ends its line");
    let (c, m) = proto::parse_head(line).expect("an emitted head parses");
    assert_eq!(c, code);
    assert!(m.starts_with(msg), "the message comes back");
}

/// sd_notify datagrams (notify.rs): `check` as documented, and each item
/// emitted as its own line reads back as the same item.
pub fn notify(data: &[u8]) {
    let want = if data.is_empty() {
        Err(notify::Error::Empty)
    } else if data.len() > DATAGRAM_BYTES {
        Err(notify::Error::TooLong)
    } else if data.contains(&0) {
        Err(notify::Error::Nul)
    } else {
        Ok(())
    };
    assert_eq!(notify::check(data), want);
    if want.is_err() {
        return;
    }
    let lines = data.split(|&b| b == b'\n').count();
    assert!(notify::items(data).count() <= lines, "at most one item a line");
    for item in notify::items(data) {
        let mut line = Buf::<128>::new();
        match item {
            Item::Say(Notice::Ready) => line.push(b"READY=1"),
            Item::Say(Notice::Stopping) => line.push(b"STOPPING=1"),
            Item::Say(Notice::Watchdog) => line.push(b"WATCHDOG=1"),
            Item::Say(Notice::Trigger) => line.push(b"WATCHDOG=trigger"),
            // MAINPID= comes as Item::MainPid; svc makes this notice itself.
            Item::Say(Notice::MainPid(_)) => continue,
            Item::Say(Notice::Extend(d)) => {
                let _ = uwrite!(line, "EXTEND_TIMEOUT_USEC={}000", d.as_millis());
            }
            Item::Status(s) => {
                assert!(s.len() <= STATUS_BYTES && !s.contains(&b'\n'));
                line.push(b"STATUS=");
                line.push(s);
            }
            Item::MainPid(p) => {
                assert!(p > 0);
                let _ = uwrite!(line, "MAINPID={}", p);
            }
            Item::Errno(e) => {
                assert!(e >= 0);
                let _ = uwrite!(line, "ERRNO={}", e);
            }
        }
        let mut again = notify::items(line.as_bytes());
        assert_eq!(again.next(), Some(item), "the item reads back");
        assert_eq!(again.next(), None);
    }
}

/// What a decoded state is read into: svc's tables, but for 8 slots of log
/// storage and a 64 KiB ring pool (rings beyond it are refused), so that
/// two fit on a test thread's stack.
struct StateWorld {
    meta: state::Meta,
    sup: Supervisor,
    text: [u8; 4096],
    text_len: usize,
    pool: [u8; 64 * 1024],
    blocks: ring::Pool,
    rings: [Option<ring::Ring>; 8],
    asm: [[ring::Assembler; MAX_INSTANCES]; 8],
    drops: [u32; 8],
    probes: [Buf<PROBE_OUTPUT_BYTES>; 8],
    probe_fresh: u64,
    clients: Clients,
    fds: state::Fds,
    starts: [state::Starts; 8],
}

impl StateWorld {
    fn new() -> Self {
        StateWorld {
            meta: state::Meta::new(),
            sup: Supervisor::new(),
            text: [0; 4096],
            text_len: 0,
            pool: [0; 64 * 1024],
            blocks: ring::Pool::new(),
            rings: [None; 8],
            asm: [const { [const { ring::Assembler::new() }; MAX_INSTANCES] }; 8],
            drops: [0; 8],
            probes: [const { Buf::new() }; 8],
            probe_fresh: 0,
            clients: Clients::new(),
            fds: Vec::new(),
            starts: [[0; MAX_INSTANCES]; 8],
        }
    }
    fn parts(&mut self) -> state::Parts<'_> {
        state::Parts {
            meta: &mut self.meta,
            sup: &mut self.sup,
            text: &mut self.text,
            text_len: &mut self.text_len,
            pool: &mut self.pool,
            blocks: &mut self.blocks,
            rings: &mut self.rings,
            asm: &mut self.asm,
            drops: &mut self.drops,
            probes: &mut self.probes,
            probe_fresh: &mut self.probe_fresh,
            clients: &mut self.clients,
            fds: &mut self.fds,
            starts: &mut self.starts,
        }
    }
}

/// A state's config text, parsed without files.
fn parse_state_config(text: &[u8], cfg: &mut crate::config::Config) -> bool {
    struct NoFiles;
    impl crate::config::Files for NoFiles {
        fn read(&mut self, _: &[u8]) -> Result<&[u8], crate::config::FileError> {
            Err(crate::config::FileError::Os(2))
        }
    }
    let mut e = crate::config::Errors::new();
    crate::config::parse(text, &mut NoFiles, cfg, &mut e);
    e.is_empty()
}

/// The reexec state decoder: any bytes decode to an error or to a state
/// that passes `state::check`; such a state encodes to a blob that decodes
/// and encodes to the same bytes again. Each input is tried as it is and
/// sealed (its header's length and checksum made right): a fuzzer seldom
/// guesses a checksum, and the items behind it are what is fuzzed.
pub fn state(data: &[u8]) {
    state_as_is(data);
    let mut sealed = [0u8; 64 * 1024];
    if let Some(b) = sealed.get_mut(..data.len())
        && data.len() >= state::HEADER_BYTES
    {
        b.copy_from_slice(data);
        state::seal(b);
        state_as_is(b);
    }
}

fn state_as_is(data: &[u8]) {
    let mut first = [0u8; 64 * 1024];
    let n = {
        let mut w = StateWorld::new();
        if state::decode(data, &mut w.parts(), &mut parse_state_config).is_err() {
            return;
        }
        assert_eq!(state::check(&w.parts()), Ok(()));
        // Fields the input left out come back written in full: larger.
        match state::encode(&mut w.parts(), &mut first) {
            Ok(n) => n,
            Err(e) => return assert_eq!(e, state::Error::Full),
        }
    };
    let mut w = StateWorld::new();
    let blob = first.get(..n).unwrap_or(&[]);
    assert_eq!(state::decode(blob, &mut w.parts(), &mut parse_state_config), Ok(()), "a re-encoded state decodes");
    let mut again = [0u8; 64 * 1024];
    let m = state::encode(&mut w.parts(), &mut again).expect("it encodes again");
    assert!(again.get(..m) == Some(blob), "and to the same bytes");
}
