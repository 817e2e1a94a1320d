//! /etc/passwd and /etc/group lines → uid, gid, groups. Files only (no NSS):
//! the caller reads the file and hands its bytes in. Lines that do not parse
//! (comments, NIS `+` entries, junk) are skipped. No syscalls.

/// One /etc/passwd entry: `name:x:uid:gid:gecos:home:shell`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct User<'a> {
    pub name: &'a [u8],
    pub uid: u32,
    pub gid: u32,
}

/// One /etc/group entry: `name:x:gid:member,member`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Group<'a> {
    pub name: &'a [u8],
    pub gid: u32,
    /// The comma-separated member list, as written.
    pub members: &'a [u8],
}

impl Group<'_> {
    /// Whether `user` is listed as a member.
    pub fn has_member(&self, user: &[u8]) -> bool {
        !user.is_empty() && crate::text::split(self.members, b',').any(|m| m == user)
    }
}

/// A decimal id: 1 to 10 digits that fit u32 (text::parse_u32's rule,
/// whose code it shares).
pub fn parse_id(word: &[u8]) -> Option<u32> {
    crate::text::parse_u32(word)
}

fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    crate::text::split(line, b':')
}

/// Parses one /etc/passwd line.
pub fn parse_user(line: &[u8]) -> Option<User<'_>> {
    let mut f = fields(line);
    let name = f.next().filter(|n| !n.is_empty() && !n.starts_with(b"#"))?;
    let _password = f.next()?;
    let uid = parse_id(f.next()?)?;
    let gid = parse_id(f.next()?)?;
    Some(User { name, uid, gid })
}

/// Parses one /etc/group line.
pub fn parse_group(line: &[u8]) -> Option<Group<'_>> {
    let mut f = fields(line);
    let name = f.next().filter(|n| !n.is_empty() && !n.starts_with(b"#"))?;
    let _password = f.next()?;
    let gid = parse_id(f.next()?)?;
    let members = f.next().unwrap_or(&[]);
    Some(Group { name, gid, members })
}

/// Every entry of an /etc/passwd file.
pub fn users(file: &[u8]) -> impl Iterator<Item = User<'_>> {
    crate::text::split(file, b'\n').filter_map(parse_user)
}

/// Every entry of an /etc/group file.
pub fn groups(file: &[u8]) -> impl Iterator<Item = Group<'_>> {
    crate::text::split(file, b'\n').filter_map(parse_group)
}

/// The first user called `name`.
pub fn user_by_name<'a>(file: &'a [u8], name: &[u8]) -> Option<User<'a>> {
    users(file).find(|u| u.name == name)
}

/// The first user with this uid.
pub fn user_by_uid(file: &[u8], uid: u32) -> Option<User<'_>> {
    users(file).find(|u| u.uid == uid)
}

/// The first group called `name`.
pub fn group_by_name<'a>(file: &'a [u8], name: &[u8]) -> Option<Group<'a>> {
    groups(file).find(|g| g.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n\
# a comment\n\
+nis::::::\n\
\n\
www:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\
bad:x:notanumber:1::/:\n\
short:x:5\n\
big:x:4294967295:4294967296::/:\n\
app:x:1000:1000::/home/app:/bin/sh\r\n\
dup:x:7:7::/:\ndup:x:8:8::/:";

    const GROUP: &[u8] = b"root:x:0:\n\
adm:x:4:syslog,app\n\
www:x:33:\n\
video:x:44:app,www\n\
audio:x:29:www\r\n\
apps:x:1000:\n\
nomembers:x:50";

    #[test]
    fn users_table() {
        for (name, want) in [
            ("root", Some((0, 0))),
            ("www", Some((33, 33))),
            ("app", Some((1000, 1000))),
            ("dup", Some((7, 7))),
            ("bad", None),
            ("short", None),
            ("big", None),
            ("+nis", None),
            ("nobody", None),
            ("", None),
        ] {
            let got = user_by_name(PASSWD, name.as_bytes()).map(|u| (u.uid, u.gid));
            assert_eq!(got, want, "{name}");
        }
        assert_eq!(user_by_uid(PASSWD, 33).map(|u| u.name), Some(&b"www"[..]));
        assert_eq!(user_by_uid(PASSWD, 4242), None);
        assert_eq!(users(PASSWD).count(), 5);
    }

    #[test]
    fn groups_table() {
        for (name, gid) in [("root", Some(0)), ("adm", Some(4)), ("audio", Some(29)), ("nomembers", Some(50)), ("nope", None)] {
            assert_eq!(group_by_name(GROUP, name.as_bytes()).map(|g| g.gid), gid, "{name}");
        }
        let of = |user: &str| groups(GROUP).filter(|g| g.has_member(user.as_bytes())).map(|g| g.gid).collect::<Vec<_>>();
        assert_eq!(of("www"), [44, 29]);
        assert_eq!(of("app"), [4, 44]);
        assert_eq!(of("syslog"), [4]);
        assert_eq!(of("ap"), Vec::<u32>::new());
        assert_eq!(of(""), Vec::<u32>::new());
    }

    #[test]
    fn ids() {
        for (w, v) in [
            ("0", Some(0)),
            ("65534", Some(65534)),
            ("4294967295", Some(u32::MAX)),
            ("4294967296", None),
            ("", None),
            ("-1", None),
            ("1 ", None),
            ("00000000001", None),
        ] {
            assert_eq!(parse_id(w.as_bytes()), v, "{w}");
        }
    }
}
