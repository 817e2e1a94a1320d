//! `svc check`: offline config validation; and the config loading that
//! `svc up` shares with it.

use crate::cli::{Command, EXIT_FAIL, EXIT_OK};
use crate::config::{self, Config, Errors, FileError, Files};
use crate::limits::{CONFIG_BYTES, LINE_BYTES, PASSWD_BYTES, PATH_BYTES};
use crate::os;
use crate::os::fd::ReadError;
use crate::text::{Buf, Bytes, Errno};

/// The buffers a config load needs, in .bss. In this order (`repr(C)`): the
/// small fields share a page with the start of the text, which is all a
/// load of a small config touches; the errors, written only when there are
/// some, after the text.
///
/// Two texts: the last one read (`text_len` bytes of `text`) and the one
/// in force (`kept_len` bytes, which `svc reexec` hands over): `text` too
/// until the next read (`fresh`), which first copies it into `kept`, so that
/// a reload that is refused leaves it as it was. (No copy at start: its
/// pages are written only by a reload.)
#[repr(C)]
pub struct Loader {
    pub text_len: usize,
    kept_len: usize,
    fresh: bool,
    /// Why the file could not be read at all (empty when it was read), for
    /// the client of a reload.
    pub failure: Buf<256>,
    pub text: [u8; CONFIG_BYTES],
    pub errors: Errors,
    files: [u8; PASSWD_BYTES],
    kept: [u8; CONFIG_BYTES],
}

impl Loader {
    pub const fn new() -> Self {
        Loader {
            text_len: 0,
            kept_len: 0,
            fresh: false,
            errors: Errors::new(),
            failure: Buf::new(),
            text: [0; CONFIG_BYTES],
            files: [0; PASSWD_BYTES],
            kept: [0; CONFIG_BYTES],
        }
    }
    /// The text last read.
    #[inline(never)]
    pub fn text(&self) -> &[u8] {
        self.text.get(..self.text_len).unwrap_or(&[])
    }
    /// The text last read is now in force.
    pub fn commit(&mut self) {
        self.kept_len = self.text_len;
        self.fresh = true;
    }
    /// The text in force, its length, and a parser with this loader's
    /// files and errors.
    pub fn kept(&mut self) -> (&mut [u8], &mut usize, Parser<'_>) {
        let Loader { text, kept, kept_len, files, errors, fresh, .. } = self;
        (if *fresh { text } else { kept }, kept_len, Parser { files, errors })
    }
}

/// Parses a config text with a loader's files and errors.
pub struct Parser<'a> {
    files: &'a mut [u8],
    errors: &'a mut Errors,
}

impl Parser<'_> {
    /// Parses `text` into `cfg`; false (and the errors printed) when it has errors.
    pub fn parse(&mut self, text: &[u8], cfg: &mut Config) -> bool {
        self.errors.clear();
        config::parse(text, &mut Disk { buf: self.files }, cfg, self.errors);
        if !self.errors.is_empty() {
            report(b"(config in force)", text, self.errors);
        }
        self.errors.is_empty()
    }
}

/// Files read straight from disk.
struct Disk<'a> {
    buf: &'a mut [u8],
}

impl Files for Disk<'_> {
    fn read(&mut self, path: &[u8]) -> Result<&[u8], FileError> {
        let mut p = [0u8; PATH_BYTES];
        let c = os::fd::cpath(path, &mut p).ok_or(FileError::Os(36))?;
        // Every file but the world-readable account databases is an env_file:
        // secrets, so as root it must be root's and not writable by others.
        let secret = path != b"/etc/passwd" && path != b"/etc/group";
        match os::fd::read_file_checked(c, self.buf, secret) {
            Ok(n) => Ok(self.buf.get(..n).unwrap_or(&[])),
            Err(ReadError::TooBig) => Err(FileError::TooBig),
            Err(ReadError::Unsafe) => Err(FileError::Unsafe),
            Err(ReadError::NotRegular) => Err(FileError::NotRegular),
            Err(ReadError::Os(e)) => Err(FileError::Os(e.raw_os_error())),
        }
    }
}

/// The config path: `-c`, else `$SVC_CONFIG`, else /etc/svc.conf.
pub fn config_path<'a>(cmd: &Command<'a>) -> &'a [u8] {
    cmd.config().or_else(|| os::process::getenv(c"SVC_CONFIG")).unwrap_or(b"/etc/svc.conf")
}

/// `[svc] control` of the config at `path` (when readable) into `b`; false
/// when there is none. The file is streamed through one line's buffer.
pub fn control_of(path: &[u8], b: &mut Buf<PATH_BYTES>) -> bool {
    let mut p = [0u8; PATH_BYTES];
    let Some((fd, _)) = os::fd::cpath(path, &mut p).and_then(|c| os::fd::open_regular(c).ok()) else { return false };
    let mut line = [0u8; LINE_BYTES + 1];
    // At most a config's worth: svc refuses a larger one anyway.
    let mut left = CONFIG_BYTES + 1;
    let found = config::control_path(&mut line, |into| {
        let into = into.get_mut(..left.min(into.len()))?;
        let n = os::fd::read_some(os::fd::borrowed(&fd), into).ok().flatten()?;
        left -= n;
        Some(n)
    });
    found.inspect(|s| b.push(s)).is_some()
}

/// Reads and parses the config at `path` into `cfg`; prints every error.
pub fn load(path: &[u8], ld: &mut Loader, cfg: &mut Config) -> bool {
    if !read(path, ld) {
        return false;
    }
    let Loader { text, text_len, files, errors, .. } = ld;
    let text = text.get(..*text_len).unwrap_or(&[]);
    config::parse(text, &mut Disk { buf: files }, cfg, errors);
    if !errors.is_empty() {
        report(path, text, errors);
    }
    errors.is_empty()
}

/// Reads the config file into `ld.text`; false (said, and kept in
/// `ld.failure`) if it cannot be. Out of line, as `report` is: their
/// buffers are not on the stack under the parser's frame.
#[inline(never)]
fn read(path: &[u8], ld: &mut Loader) -> bool {
    // Every load starts clean: no error of an earlier attempt is reported again.
    // (Written only when not clear already: a write keeps a page resident.)
    ld.errors.clear();
    if core::mem::take(&mut ld.fresh) {
        crate::text::copy(&mut ld.kept, ld.text.get(..ld.kept_len).unwrap_or(&[]));
    }
    if !ld.failure.is_empty() {
        ld.failure.clear();
    }
    let mut p = [0u8; PATH_BYTES];
    let read = match os::fd::cpath(path, &mut p) {
        // The config names programs that root runs: the same rule as env_file.
        Some(c) => os::fd::read_file_checked(c, &mut ld.text, true),
        None => Err(ReadError::Os(rustix::io::Errno::NAMETOOLONG)),
    };
    ld.text_len = match read {
        Ok(n) => n,
        Err(e) => {
            let b = &mut ld.failure;
            b.push(if e == ReadError::Unsafe { b"cannot use config " } else { b"cannot read config " });
            let _ = ufmt::uwrite!(b, "{}: ", Bytes(path));
            match e {
                ReadError::Os(e) => {
                    let _ = ufmt::uwrite!(b, "{}", Errno(e.raw_os_error()));
                }
                ReadError::TooBig => {
                    let _ = ufmt::uwrite!(b, "larger than {} bytes", CONFIG_BYTES);
                }
                ReadError::Unsafe => b.push(b"must be owned by root and not writable by group or others"),
                ReadError::NotRegular => b.push(b"not a regular file"),
            }
            b.push(b"\n");
            let mut m = Buf::<264>::new();
            m.push(b"svc: ");
            m.push(b.as_bytes());
            os::fd::say(&m);
            return false;
        }
    };
    true
}

/// Prints the config's errors.
#[inline(never)]
fn report(path: &[u8], text: &[u8], errors: &config::Errors) {
    for e in errors.list.iter() {
        let mut b = Buf::<512>::new();
        config::emit(path, text, e, &mut b);
        os::fd::say(&b);
    }
    if errors.more > 0 {
        let mut b = Buf::<128>::new();
        let _ = ufmt::uwrite!(b, "svc: {}: {} more errors\n", Bytes(path), errors.more);
        os::fd::say(&b);
    }
}

// Last in .bss with WORLD (see there); still zero-initialised .bss.
#[allow(unsafe_code)]
#[unsafe(link_section = ".bss.~big")]
static CHECK: os::once::Once<(Loader, Config), 1> = os::once::Once::new((Loader::new(), Config::new()));

#[inline(never)]
pub fn check(cmd: &Command) -> i32 {
    let Some((ld, cfg)) = CHECK.take() else { return EXIT_FAIL };
    let path = config_path(cmd);
    if !load(path, ld, cfg) {
        return EXIT_FAIL;
    }
    let mut b = Buf::<512>::new();
    if ld.text().last().is_some_and(|&c| c != b'\n') {
        // A file cut short by a full disk or an interrupted copy usually is.
        let _ = ufmt::uwrite!(b, "svc: {}: warning: the last line does not end in a newline (truncated?)\n", Bytes(path));
        os::fd::say(&b);
        b.clear();
    }
    let _ = ufmt::uwrite!(b, "{}: ok, {} services\n", Bytes(path), cfg.defs.len());
    os::fd::say_out(&b);
    EXIT_OK
}
