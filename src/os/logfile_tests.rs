//! Tests of log files: records, rotation, refused paths, tails.
use crate::limits::{LOG_LINE_BYTES, LOG_TAIL_CHUNK_BYTES};
use crate::ring::Stamp;

/// `write_line` of `ring::record(stamp, line)`.
fn wl(f: &mut File, path: &CStr, max: u64, keep: u8, stamp: Stamp, line: &[u8]) -> Result<(), Errno> {
    let mut rec = crate::ring::Record::new();
    crate::ring::record(stamp, line, &mut rec);
    write_line(f, path, max, keep, rec.as_bytes())
}
use super::*;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::string::String;
use std::vec::Vec;

/// A fresh directory for one test.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("svc-logfile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn c(p: &Path) -> CString {
    CString::new(p.to_str().unwrap()).unwrap()
}

fn with_suffix(p: &Path, k: u8) -> PathBuf {
    PathBuf::from(format!("{}.{k}", p.display()))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

const STAMP: &str = "1970-01-01T00:00:00.000Z ";

#[test]
fn records_are_stamped() {
    let d = dir("stamp");
    let path = d.join("log");
    let mut f = File::EMPTY;
    wl(&mut f, &c(&path), 1 << 20, 3, Stamp(0), b"hello").unwrap();
    wl(&mut f, &c(&path), 1 << 20, 3, Stamp(1_700_000_000_123), b"").unwrap();
    wl(&mut f, &c(&path), 1 << 20, 3, Stamp(0), &[b'x'; LOG_LINE_BYTES + 10]).unwrap();
    let text = read(&path);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "1970-01-01T00:00:00.000Z hello");
    assert_eq!(lines[1], "2023-11-14T22:13:20.123Z ");
    assert_eq!(lines[2].len(), 25 + LOG_LINE_BYTES);
    assert_eq!(f.size, text.len() as u64);
    // Mode 0640 (less svc's umask).
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o137, 0);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn appends_to_an_existing_file() {
    let d = dir("append");
    let path = d.join("log");
    std::fs::write(&path, "old\n").unwrap();
    let mut f = File::EMPTY;
    wl(&mut f, &c(&path), 1 << 20, 3, Stamp(0), b"new").unwrap();
    assert_eq!(read(&path), format!("old\n{STAMP}new\n"));
    assert_eq!(f.size, 4 + 29);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn rotation_keeps_keep_files_under_max() {
    for keep in [1u8, 2, 3, MAX_LOG_KEEP] {
        let d = dir(&format!("rotate{keep}"));
        let path = d.join("log");
        let cp = c(&path);
        // Records are 25 + 8 + 1 = 34 bytes: five fit in 200.
        let max = 200;
        let mut f = File::EMPTY;
        for i in 0..100 {
            wl(&mut f, &cp, max, keep, Stamp(0), format!("line {i:03}").as_bytes()).unwrap();
            let text = read(&path);
            assert!(text.len() as u64 <= max, "{keep} {i}: {}", text.len());
            assert_eq!(f.size, text.len() as u64);
            assert!(text.ends_with(&format!("line {i:03}\n")), "{keep} {i}");
        }
        // Each full file holds 5 records; PATH holds the last 100 % 5 = 5.
        let mut all = String::new();
        for k in (1..=keep).rev() {
            let old = read(&with_suffix(&path, k));
            assert_eq!(old.len(), 5 * 34, "{keep} {k}");
            all.push_str(&old);
        }
        all.push_str(&read(&path));
        assert!(!with_suffix(&path, keep + 1).exists(), "{keep}");
        let want: String = (100 - 5 * (usize::from(keep) + 1)..100).map(|i| format!("{STAMP}line {i:03}\n")).collect();
        assert_eq!(all, want, "{keep}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}

#[test]
fn a_record_longer_than_max_is_alone() {
    let d = dir("long");
    let path = d.join("log");
    let mut f = File::EMPTY;
    for i in 0..3 {
        wl(&mut f, &c(&path), 50, 2, Stamp(0), format!("{i}{}", "y".repeat(99)).as_bytes()).unwrap();
        assert_eq!(read(&path).len(), 126);
    }
    assert!(read(&path).contains("\n") && read(&path).starts_with(&format!("{STAMP}2")));
    assert!(read(&with_suffix(&path, 1)).starts_with(&format!("{STAMP}1")));
    assert!(read(&with_suffix(&path, 2)).starts_with(&format!("{STAMP}0")));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn reopen_recreates_a_removed_file() {
    let d = dir("reopen");
    let path = d.join("log");
    let mut f = File::EMPTY;
    wl(&mut f, &c(&path), 1 << 20, 3, Stamp(0), b"one").unwrap();
    std::fs::remove_file(&path).unwrap();
    // Still open: the line goes to the removed file.
    wl(&mut f, &c(&path), 1 << 20, 3, Stamp(0), b"two").unwrap();
    assert!(!path.exists());
    reopen(&mut f);
    wl(&mut f, &c(&path), 1 << 20, 3, Stamp(0), b"three").unwrap();
    assert_eq!(read(&path), format!("{STAMP}three\n"));
    assert_eq!(f.size, 31);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn rotation_reopens_a_moved_file() {
    let d = dir("moved");
    let path = d.join("log");
    let mut f = File::EMPTY;
    wl(&mut f, &c(&path), 100, 1, Stamp(0), b"aaaaaaaaaaaaaaaaaaaa").unwrap();
    std::fs::rename(&path, d.join("elsewhere")).unwrap();
    wl(&mut f, &c(&path), 100, 1, Stamp(0), b"bbbbbbbbbbbbbbbbbbbb").unwrap();
    // Past 100 with the moved file's size: rotates (nothing at PATH) and reopens.
    wl(&mut f, &c(&path), 100, 1, Stamp(0), b"cccccccccccccccccccc").unwrap();
    assert_eq!(read(&path), format!("{STAMP}cccccccccccccccccccc\n"));
    assert!(!with_suffix(&path, 1).exists());
    assert_eq!(read(&d.join("elsewhere")).lines().count(), 2);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn refuses_links_fifos_and_directories() {
    let d = dir("refuse");
    let target = d.join("target");
    std::fs::write(&target, "secret\n").unwrap();
    let link = d.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let fifo = d.join("fifo");
    let cf = c(&fifo);
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(cf.as_ptr(), 0o600) }, 0);
    let mut f = File::EMPTY;
    assert_eq!(wl(&mut f, &c(&link), 1 << 20, 3, Stamp(0), b"x"), Err(Errno::LOOP));
    assert_eq!(wl(&mut f, &cf, 1 << 20, 3, Stamp(0), b"x"), Err(Errno::NXIO)); // no reader
    assert_eq!(wl(&mut f, &c(&d), 1 << 20, 3, Stamp(0), b"x"), Err(Errno::ISDIR));
    assert!(f.fd.is_empty());
    assert_eq!(read(&target), "secret\n");
    assert_eq!(tail_offset(&c(&link), 1, &mut [0; LOG_TAIL_CHUNK_BYTES]).err(), Some(Errno::LOOP));
    assert_eq!(tail_offset(&cf, 1, &mut [0; LOG_TAIL_CHUNK_BYTES]).err(), Some(Errno::INVAL));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn refuses_hard_links_and_rotates_through_a_trusted_link() {
    let d = dir("links");
    let other = d.join("other");
    std::fs::write(&other, "secret\n").unwrap();
    let path = d.join("log");
    std::fs::hard_link(&other, &path).unwrap();
    let mut f = File::EMPTY;
    assert_eq!(wl(&mut f, &c(&path), 1 << 20, 3, Stamp(0), b"x"), Err(Errno::MLINK));
    assert_eq!(tail_offset(&c(&path), 1, &mut [0; LOG_TAIL_CHUNK_BYTES]).err(), Some(Errno::MLINK));
    assert_eq!(read(&other), "secret\n");
    assert!(f.told);
    // Once the link is gone, PATH is created afresh and the message may come again.
    std::fs::remove_file(&path).unwrap();
    wl(&mut f, &c(&path), 1 << 20, 3, Stamp(0), b"x").unwrap();
    assert!(!f.told);
    // Through a directory symlink of our own (the test's user), rotation
    // renames in the real directory.
    std::fs::create_dir_all(d.join("real")).unwrap();
    std::os::unix::fs::symlink(d.join("real"), d.join("via")).unwrap();
    let via = d.join("via/log");
    let mut f = File::EMPTY;
    for i in 0..12 {
        wl(&mut f, &c(&via), 100, 2, Stamp(0), format!("line {i:02}").as_bytes()).unwrap();
    }
    assert!(read(&d.join("real/log")).ends_with("line 11\n"));
    assert!(d.join("real/log.1").exists() && d.join("real/log.2").exists() && !d.join("real/log.3").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn write_errors_are_returned() {
    // /dev/full is a character device: refused before any write.
    let mut f = File::EMPTY;
    let full = CString::new("/dev/full").unwrap();
    assert_eq!(wl(&mut f, &full, 1 << 20, 3, Stamp(0), b"x"), Err(Errno::INVAL));
    let missing = CString::new("/nonexistent-svc-dir/log").unwrap();
    assert_eq!(wl(&mut f, &missing, 1 << 20, 3, Stamp(0), b"x"), Err(Errno::NOENT));
    assert!(console(b"web: a console line from the logfile tests\n").is_ok());
}

#[test]
fn numbered_names() {
    let mut b = [0u8; 16];
    assert_eq!(numbered(b"/a/log", 3, &mut b).unwrap().to_bytes(), b"/a/log.3");
    assert_eq!(numbered(b"/a/log/long/name", 1, &mut b), Err(Errno::NAMETOOLONG));
}

/// The offset of the last `n` lines, the slow way.
fn reference(data: &[u8], n: usize) -> u64 {
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    let tail: usize = lines.iter().rev().take(n).map(|l| l.len()).sum();
    (data.len() - tail) as u64
}

#[test]
fn find_tail_matches_the_slow_way() {
    let many: Vec<u8> = (0..50).flat_map(|i| format!("line {i}\n").into_bytes()).collect();
    let cases: [&[u8]; 10] = [b"", b"\n", b"\n\n\n", b"a", b"a\n", b"a\nb", b"a\nb\n", b"\n\na\n\nb", b"long line without end", &many];
    for data in cases {
        for chunk in [1, 2, 3, 7, 4096] {
            for short in [false, true] {
                for n in [0u32, 1, 2, 3, 10, 49, 50, 51, 1000] {
                    let mut buf = vec![0u8; chunk];
                    let got = find_tail(data.len() as u64, n, u64::MAX, &mut buf, |at, into| {
                        let from = &data[at as usize..];
                        let k = into.len().min(from.len()).min(if short { 1 } else { usize::MAX });
                        into[..k].copy_from_slice(&from[..k]);
                        Ok(k)
                    });
                    let want = if n == 0 { data.len() as u64 } else { reference(data, n as usize) };
                    assert_eq!(got, Ok((want, false)), "{:?} chunk {chunk} short {short} n {n}", String::from_utf8_lossy(data));
                }
            }
        }
    }
}

#[test]
fn find_tail_passes_errors_and_survives_a_shrunk_file() {
    let mut buf = [0u8; 4];
    assert_eq!(find_tail(10, 1, 99, &mut buf, |_, _| Err(Errno::IO)), Err(Errno::IO));
    // The file says 10 bytes but reads as empty: no newline found.
    assert_eq!(find_tail(10, 1, 99, &mut buf, |_, _| Ok(0)), Ok((0, false)));
}

#[test]
fn find_tail_stops_at_the_window() {
    let data = b"aaaa\nbbbb\ncccc\ndddd\n";
    let tail = |n: u32, window: u64| {
        let mut buf = [0u8; 3];
        find_tail(data.len() as u64, n, window, &mut buf, |at, into| {
            let from = &data[at as usize..];
            let k = into.len().min(from.len());
            into[..k].copy_from_slice(&from[..k]);
            Ok(k)
        })
    };
    // (lines, window) → (offset, cut)
    for (n, window, want) in [
        (2, 99, (10, false)),
        (2, 10, (10, false)),
        (3, 10, (10, true)), // the first whole line in the window
        (3, 12, (10, true)),
        (3, 7, (15, true)),  // only the last line is whole in the window
        (9, 4, (16, true)),  // no newline but the final one: the window's start
        (9, 20, (0, false)), // the window reaches the start
        (9, 21, (0, false)),
    ] {
        assert_eq!(tail(n, window), Ok(want), "{n} {window}");
    }
    // A file with no newline at all: the last `window` bytes.
    let mut buf = [0u8; 4096];
    assert_eq!(find_tail(1 << 30, 1, 1 << 20, &mut buf, |_, into| Ok(into.len())), Ok(((1 << 30) - (1 << 20), true)));
}

#[test]
fn tail_offset_on_files() {
    let d = dir("tail");
    let path = d.join("log");
    let long: String = (0..3000).map(|i| format!("line number {i}\n")).collect();
    assert!(long.len() > 8 * LOG_TAIL_CHUNK_BYTES);
    for (text, n) in [
        ("", 5),
        ("one", 1),
        ("one\n", 1),
        ("one\n", 5),
        ("a\nb\nc", 2),
        ("a\nb\nc\n", 2),
        ("a\nb\nc\n", 0),
        (long.as_str(), 1000),
        (long.as_str(), 2999),
        (long.as_str(), 3000),
        (long.as_str(), 5000),
        (long.as_str(), 1),
    ] {
        std::fs::write(&path, text).unwrap();
        let (fd, at, cut) = tail_offset(&c(&path), n, &mut [0; LOG_TAIL_CHUNK_BYTES]).unwrap();
        assert!(!cut);
        let want = if n == 0 { text.len() as u64 } else { reference(text.as_bytes(), n as usize) };
        assert_eq!(at, want, "{n}");
        // The fd is positioned at the offset: reading on gives the lines.
        let mut rest = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let k = rustix::io::read(&fd, &mut buf).unwrap();
            if k == 0 {
                break;
            }
            rest.extend_from_slice(&buf[..k]);
        }
        assert_eq!(rest, &text.as_bytes()[at as usize..]);
        let got = String::from_utf8(rest).unwrap();
        assert_eq!(got.lines().count(), (n as usize).min(text.lines().count()), "{n}");
    }
    assert_eq!(tail_offset(&c(&d.join("missing")), 1, &mut [0; LOG_TAIL_CHUNK_BYTES]).err(), Some(Errno::NOENT));
    std::fs::remove_dir_all(&d).unwrap();
}
