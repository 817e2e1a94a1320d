//! `listen = ADDRESS [name=NAME] [backlog=N] [mode=0660] [owner=USER[:GROUP]]
//! [freebind]` and `start = on-connect`: a service's listening sockets, in
//! `listen` order, checked here so that `svc check` names a bad address at
//! its line. No syscalls: owners are resolved through `Files`.

use super::keys;
use super::{Parser, Section, Word};
use crate::addr::{self, Addr};
use crate::config::{Error, Listen, Ready, Span};
use crate::limits::{LISTEN_BACKLOG_DEFAULT, MAX_SERVICE_LISTENS};

impl Parser<'_> {
    /// One `listen =` line: its socket joins the section's, after the others.
    pub(super) fn listen(&mut self, sec: &mut Section, value: Word) -> Result<(), (Error, Span)> {
        let mut words = value.words(b' ');
        let Some(first) = words.next() else { return Err((Error::EmptyValue, value.span())) };
        let a = addr::parse(first.bytes).map_err(|e| (Error::from(e), first.span()))?;
        let unix = matches!(a, Addr::Unix { .. });
        let mut l = Listen {
            addr: Span::default(),
            name: Span::default(),
            backlog: LISTEN_BACKLOG_DEFAULT,
            mode: None,
            uid: None,
            gid: None,
            freebind: false,
        };
        for w in words {
            let bad = (Error::ListenOption, w.span());
            let (key, val) = match w.bytes.iter().position(|&b| b == b'=') {
                Some(i) => (w.bytes.get(..i).unwrap_or(&[]), w.sub(i + 1, w.bytes.len())),
                None => (w.bytes, Word::EMPTY),
            };
            // name, backlog, mode, owner, freebind (by number: a match on
            // the words compares them byte by byte).
            match crate::text::find_line(b"name\nbacklog\nmode\nowner\nfreebind", key) {
                Some(0) if keys::name_ok(val.bytes) => l.name = self.store(val).ok_or(bad)?,
                Some(1) => l.backlog = crate::text::parse_u32(val.bytes).filter(|&n| (1..=65535).contains(&n)).ok_or(bad)?,
                Some(2 | 3) if !unix => return Err((Error::UnixOnly, w.span())),
                Some(2) => l.mode = Some(octal(val.bytes).ok_or(bad)?),
                Some(3) => self.owner(&mut l, val)?,
                Some(4) if unix => return Err((Error::InetOnly, w.span())),
                Some(4) if val.bytes.is_empty() && w.bytes.len() == key.len() => l.freebind = true,
                _ => return Err(bad),
            }
        }
        // The same address twice in a config: the second bind would fail.
        let text = first.bytes;
        if self.out.listens.iter().any(|o| self.out.str(o.addr) == text) {
            return Err((Error::ListenTwice, first.span()));
        }
        let d = &mut sec.def;
        if usize::from(d.listen.count) >= MAX_SERVICE_LISTENS {
            return Err((Error::TooManyListens, first.span()));
        }
        l.addr = self.store(first).ok_or((Error::ArenaFull, first.span()))?;
        if d.listen.count == 0 {
            d.listen.first = self.out.listens.len() as u16;
        }
        self.out.listens.push(l).map_err(|_| (Error::TooManyListens, first.span()))?;
        sec.def.listen.count += 1;
        Ok(())
    }

    /// `owner=USER[:GROUP]`, names or numbers.
    fn owner(&mut self, l: &mut Listen, val: Word) -> Result<(), (Error, Span)> {
        let (user, group) = match val.bytes.iter().position(|&b| b == b':') {
            Some(i) => (val.sub(0, i), Some(val.sub(i + 1, val.bytes.len()))),
            None => (val, None),
        };
        let at = |e: Error| (e, val.span());
        let (uid, gid) = self.user_id(user.bytes).map_err(at)?;
        l.uid = Some(uid);
        l.gid = match group {
            Some(g) => Some(self.group_id(g.bytes).map_err(at)?),
            None => gid,
        };
        Ok(())
    }

    /// The checks that need the whole section: `start = on-connect` needs a
    /// socket, `ready = fd:N` must not land on one, and `watchdog` and
    /// `probe_interval` need their kind of `ready`.
    pub(super) fn listen_end(&mut self, sec: &Section) {
        let d = &sec.def;
        let n = u32::from(d.listen.count);
        if d.on_connect && n == 0 {
            self.error_at(sec.line, Error::OnConnectNoListen, Span::default());
        }
        if let Ready::Fd(fd) = d.ready
            && u32::from(fd) < 3 + n
        {
            self.error_at(sec.line, Error::ReadyFdListen, Span::default());
        }
        if d.watchdog.as_millis() > 0 && !matches!(d.ready, Ready::Notify) {
            self.error_at(sec.line, Error::WatchdogNotify, Span::default());
        }
        if sec.seen & (1 << keys::Key::ProbeInterval as u32) != 0 && !matches!(d.ready, Ready::Exec(_)) {
            self.error_at(sec.line, Error::ProbeIntervalExec, Span::default());
        }
    }
}

fn octal(w: &[u8]) -> Option<u16> {
    if w.is_empty() || w.len() > 4 {
        return None;
    }
    w.iter().try_fold(0u16, |v, &b| if (b'0'..=b'7').contains(&b) { Some(v * 8 + u16::from(b - b'0')) } else { None })
}
