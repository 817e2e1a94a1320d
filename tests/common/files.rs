//! Files the services write (lines, `date +%s%N` stamps, pids), and
//! `Cleanup` for paths a test made outside its fixture's directory.

use std::fs;
use std::path::{Path, PathBuf};

pub fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path).map(|s| s.lines().map(String::from).collect()).unwrap_or_default()
}

/// Numbers, one a line (`date +%s%N` stamps); a partly written last line is left out.
pub fn read_numbers(path: &Path) -> Vec<u128> {
    let s = fs::read_to_string(path).unwrap_or_default();
    let whole = match s.rfind('\n') {
        Some(i) => &s[..=i],
        None => "",
    };
    whole.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// The one number in a file (a stamp or a pid), once it is whole.
pub fn read_number(path: &Path) -> Option<u128> {
    read_numbers(path).first().copied()
}

/// Paths outside a fixture's directory that a test made: removed when dropped.
pub struct Cleanup(pub Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = fs::remove_file(p);
        }
    }
}

/// A program path as svc runs it (a pinned release): its directory with
/// every symlink resolved, its name as written (`/bin/sleep` is
/// `/usr/bin/sleep` where /bin links to /usr/bin).
pub fn pinned(path: &str) -> String {
    let p = Path::new(path);
    let dir = p.parent().and_then(|d| std::fs::canonicalize(d).ok()).unwrap_or_else(|| panic!("no directory of {path}"));
    dir.join(p.file_name().unwrap_or_else(|| panic!("no name in {path}"))).display().to_string()
}
