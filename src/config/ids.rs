//! `user` and `group` → uid, gid and supplementary groups, from
//! /etc/passwd and /etc/group read through `Files`. No syscalls.

use super::{GROUP, PASSWD, Parser, Section, located, slice};
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

    /// `user` and `group` → uid, gid, supplementary groups.
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
        if let Some(uid) = passwd::parse_id(user) {
            let Ok(uid) = valid(uid) else { return self.error_at(line, Error::BadId, span) };
            // A numeric user has no name to look up in /etc/group, so no
            // supplementary groups; its gid (unless `group` says) is that of
            // its passwd entry when there is one, else left as inherited.
            sec.def.uid = Some(uid);
            if sec.group.is_none()
                && let Ok(file) = self.files.read(PASSWD)
            {
                sec.def.gid = passwd::user_by_uid(file, uid).map(|u| u.gid);
            }
            return;
        }
        let found = match self.files.read(PASSWD) {
            Ok(file) => passwd::user_by_name(file, user).map(|u| (u.uid, u.gid)),
            Err(_) => return self.error_at(line, Error::PasswdUnreadable, span),
        };
        let Some((uid, gid)) = found else {
            return self.error_at(line, Error::UnknownUser, span);
        };
        if valid(uid).and(valid(gid)).is_err() {
            return self.error_at(line, Error::BadId, span);
        }
        sec.def.uid = Some(uid);
        if sec.group.is_none() {
            sec.def.gid = Some(gid);
        }
        let file = match self.files.read(GROUP) {
            Ok(file) => file,
            Err(_) => return self.error_at(line, Error::PasswdUnreadable, span),
        };
        let first = self.out.gids.len();
        let mut count = 0usize;
        for g in passwd::groups(file).filter(|g| g.has_member(user)) {
            let mine = self.out.gids.get(first..).unwrap_or(&[]);
            if mine.contains(&g.gid) {
                continue;
            }
            if count >= MAX_GROUPS || self.out.gids.push(g.gid).is_err() {
                self.errors.push(located(line, self.section, span, Error::TooManyGroups));
                break;
            }
            count += 1;
        }
        sec.def.groups = Range { first: first as u16, count: count as u16 };
    }
}
