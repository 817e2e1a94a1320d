//! `user` and `group` → uid, gid and supplementary groups, from
//! /etc/passwd and /etc/group read through `Files`. No syscalls.

use super::{GROUP, PASSWD, Parser, Section, slice};
use crate::config::{Error, Range, Span};
use crate::limits::MAX_GROUPS;
use crate::passwd;

/// An id that can be set: (uid_t)-1 means "leave unchanged" to setuid and
/// setgid, so 4294967295 is no one's id.
fn valid(id: u32) -> Result<u32, Error> {
    if id == u32::MAX { Err(Error::BadId) } else { Ok(id) }
}

impl Parser<'_> {
    /// A group name or number → gid.
    pub(super) fn group_id(&mut self, word: &[u8]) -> Result<u32, Error> {
        let gid = match passwd::parse_id(word) {
            Some(gid) => gid,
            None => {
                let file = self.files.read(GROUP).map_err(|_| Error::PasswdUnreadable)?;
                passwd::group_by_name(file, word).map(|g| g.gid).ok_or(Error::UnknownGroup)?
            }
        };
        valid(gid)
    }

    /// A user name or number → uid, and the gid of its passwd entry. A
    /// numeric user may have no entry (no gid then, and no error).
    pub(super) fn user_id(&mut self, word: &[u8]) -> Result<(u32, Option<u32>), Error> {
        if let Some(uid) = passwd::parse_id(word) {
            let uid = valid(uid)?;
            let gid = self.files.read(PASSWD).ok().and_then(|file| passwd::user_by_uid(file, uid)).map(|u| u.gid);
            return Ok((uid, gid));
        }
        let file = self.files.read(PASSWD).map_err(|_| Error::PasswdUnreadable)?;
        let u = passwd::user_by_name(file, word).ok_or(Error::UnknownUser)?;
        Ok((valid(u.uid)?, Some(valid(u.gid)?)))
    }

    /// `user` and `group` → uid, gid, supplementary groups.
    // Out of line on x86 (x86_64 -24 bytes, i686 -44): smaller than
    // inlined into finish there; not on aarch64 (+64) and armv7 (+32).
    #[cfg_attr(any(target_arch = "x86_64", target_arch = "x86"), inline(never))]
    pub(super) fn ids(&mut self, sec: &mut Section) {
        let text = self.text;
        let word = |s: Span| slice(text, s);
        if let Some((span, line)) = sec.group {
            match self.group_id(word(span)) {
                Ok(gid) => sec.def.gid = Some(gid),
                Err(e) => self.error_at(line, e, span),
            }
        }
        let Some((span, line)) = sec.user else { return };
        let user = word(span);
        sec.def.groups = Range { first: self.out.gids.len() as u16, count: 0 };
        let (uid, gid) = match self.user_id(user) {
            Ok(ids) => ids,
            Err(e) => return self.error_at(line, e, span),
        };
        // Its gid, unless `group` says, is that of its passwd entry (a
        // numeric user without one keeps the inherited gid).
        sec.def.uid = Some(uid);
        if sec.group.is_none() {
            sec.def.gid = gid;
        }
        // A numeric user has no name to look up in /etc/group, so no
        // supplementary groups.
        if passwd::parse_id(user).is_some() {
            return;
        }
        let file = match self.files.read(GROUP) {
            Ok(file) => file,
            Err(_) => return self.error_at(line, Error::PasswdUnreadable, span),
        };
        let first = self.out.gids.len();
        let mut count = 0usize;
        let mut full = false;
        for g in passwd::groups(file) {
            if !g.has_member(user) {
                continue;
            }
            let mine = self.out.gids.get(first..).unwrap_or(&[]);
            if mine.contains(&g.gid) {
                continue;
            }
            if count >= MAX_GROUPS || self.out.gids.push(g.gid).is_err() {
                full = true;
                break;
            }
            count += 1;
        }
        if full {
            self.error_at(line, Error::TooManyGroups, span);
        }
        sec.def.groups = Range { first: first as u16, count: count as u16 };
    }
}
