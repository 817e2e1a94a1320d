//! Old config vs new config: which services are added, removed, restarted
//! (what the process sees changed), updated in place (only supervision
//! settings changed) or kept. The supervisor applies the plan. No syscalls.

use crate::config::{Config, Def, Log, Ready};
use crate::limits::{MAX_SERVICES, NAME_BYTES};
use crate::order::bit;
use heapless::Vec;

/// `Step::slot` before the supervisor has given one.
pub const NO_SLOT: u8 = u8::MAX;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Change {
    Added,
    Removed,
    Restarted,
    Updated,
    Kept,
}

impl Change {
    pub const fn word(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Restarted => "restarted",
            Change::Updated => "updated",
            Change::Kept => "kept",
        }
    }
}

fn same_strs(a: &Config, ar: crate::config::Range, b: &Config, br: crate::config::Range) -> bool {
    let (x, y) = (a.list(ar), b.list(br));
    x.len() == y.len() && x.iter().zip(y).all(|(s, t)| a.str(*s) == b.str(*t))
}

fn same_opt(a: &Config, x: Option<crate::config::Span>, b: &Config, y: Option<crate::config::Span>) -> bool {
    match (x, y) {
        (None, None) => true,
        (Some(s), Some(t)) => a.str(s) == b.str(t),
        _ => false,
    }
}

fn same_log(a: &Config, x: Log, b: &Config, y: Log) -> bool {
    match (x, y) {
        (Log::File { path: p, size: s, keep: k }, Log::File { path: q, size: t, keep: l }) => a.str(p) == b.str(q) && s == t && k == l,
        (Log::File { .. }, _) | (_, Log::File { .. }) => false,
        (x, y) => x == y,
    }
}

/// A probe's words are compared as text (their ranges differ between configs).
fn same_ready(a: &Config, x: Ready, b: &Config, y: Ready) -> bool {
    match (x, y) {
        (Ready::Exec(p), Ready::Exec(q)) => same_strs(a, p, b, q),
        (x, y) => x == y,
    }
}

/// The bits set in `mask`. Out of line on x86_64 and i686, where without a
/// popcnt instruction (before SSE4.2) each count is some 80 bytes of
/// arithmetic (elsewhere the call costs more than it saves).
#[cfg_attr(any(target_arch = "x86_64", target_arch = "x86"), inline(never))]
pub fn ones(mask: u64) -> usize {
    mask.count_ones() as usize
}

/// The names a def is `after`, as a set compared by name: as many, and
/// each of `x`'s among `y`'s (names are unique in a config).
fn same_after(a: &Config, x: &Def, b: &Config, y: &Def) -> bool {
    let is_y = |name: &[u8]| b.find(name).is_some_and(|j| y.after & bit(j) != 0);
    ones(x.after) == ones(y.after) && a.defs.iter().enumerate().all(|(i, d)| x.after & bit(i) == 0 || is_y(a.str(d.name)))
}

/// Whether two services get the same sockets (addresses and names, in order:
/// what the process sees) and, with `options`, the same socket options too.
pub fn same_listens(a: &Config, x: &Def, b: &Config, y: &Def, options: bool) -> bool {
    let (p, q) = (a.listens(x.listen), b.listens(y.listen));
    p.len() == q.len()
        && p.iter()
            .zip(q)
            .all(|(l, m)| a.str(l.addr) == b.str(m.addr) && a.str(l.name) == b.str(m.name) && (!options || opts(l) == opts(m)))
}

/// A socket's options alone: its texts' spans (which differ between
/// configs) blanked, for one derived compare.
fn opts(l: &crate::config::Listen) -> crate::config::Listen {
    let none = crate::config::Span { start: 0, len: 0 };
    crate::config::Listen { addr: none, name: none, ..*l }
}

/// How `old` (in config `a`) became `new` (in config `b`).
pub fn compare(a: &Config, old: &Def, b: &Config, new: &Def) -> Change {
    let process = same_strs(a, old.args, b, new.args)
        && same_strs(a, old.env, b, new.env)
        && same_opt(a, old.cwd, b, new.cwd)
        && old.uid == new.uid
        && old.gid == new.gid
        && a.groups(old.groups) == b.groups(new.groups)
        && old.rlimits == new.rlimits
        && same_log(a, old.log, b, new.log)
        && same_ready(a, old.ready, b, new.ready)
        && old.watchdog == new.watchdog
        && old.oom_score_adj == new.oom_score_adj
        && same_listens(a, old, b, new, false);
    if !process {
        return Change::Restarted;
    }
    let supervision = same_after(a, old, b, new) && knobs(old) == knobs(new) && same_listens(a, old, b, new, true);
    if supervision { Change::Kept } else { Change::Updated }
}

/// The supervision settings of `d` (what an update changes in place), to
/// compare at once: one array compare instead of fifteen field compares.
#[inline(never)]
fn knobs(d: &Def) -> [u64; 8] {
    let flags = [d.start, d.oneshot, d.kill_mixed, d.on_connect, d.pin].iter().fold(0u64, |m, &f| m << 1 | u64::from(f));
    [
        d.backoff_first.as_millis(),
        d.backoff_max.as_millis(),
        d.stable.as_millis(),
        d.stop_timeout.as_millis(),
        d.ready_timeout.as_millis(),
        d.probe_interval.as_millis(),
        d.upgrade_delay.as_millis(),
        flags | u64::from(d.restart as u8) << 8 | u64::from(d.stop_signal) << 16 | u64::from(d.upgrade_signal) << 24,
    ]
}

/// One line of a reload: a service, what happens to it, and (to tell when
/// a restart has an outcome) its spawn count before.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub change: Change,
    /// Its slot, once the supervisor has matched or given one (else NO_SLOT).
    pub slot: u8,
    /// Its index in the new config.
    pub def: u8,
    pub spawns: u32,
    /// A restart of a service with sockets, done as an upgrade.
    pub upgrade: bool,
    name: [u8; NAME_BYTES],
    len: u8,
}

impl Step {
    pub fn new(change: Change, slot: u8, def: u8, name: &[u8]) -> Step {
        let mut s = Step { change, slot, def, spawns: 0, upgrade: false, name: [0; NAME_BYTES], len: 0 };
        s.len = crate::text::copy(&mut s.name, name) as u8;
        s
    }
    /// The service's name (kept here: a removed service's is gone from the config).
    #[inline(never)]
    pub fn name(&self) -> &[u8] {
        self.name.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// A reload's steps: every service of the old and the new config.
#[repr(C)]
pub struct Plan {
    /// Sockets the reload bound (bits of the new config's `listens`) and
    /// closed (bits of the old config's), for its reply.
    pub bound: u64,
    pub closed: u64,
    pub steps: Vec<Step, { 2 * MAX_SERVICES }>,
}

impl Default for Plan {
    fn default() -> Self {
        Self::new()
    }
}

impl Plan {
    pub const fn new() -> Self {
        Plan { bound: 0, closed: 0, steps: Vec::new() }
    }
    pub fn clear(&mut self) {
        crate::config::empty(&mut self.steps);
        if self.bound | self.closed != 0 {
            self.bound = 0;
            self.closed = 0;
        }
    }
    /// A step for the service `name`, index `def` in the new config.
    #[inline(never)]
    fn push(&mut self, change: Change, def: u8, name: &[u8]) {
        // Room for every service of two configs: never full.
        let _ = self.steps.push(Step::new(change, NO_SLOT, def, name));
    }
}

/// Plans a reload from `old` (in force) to `new`: one step per service of
/// either, matched by name. Nothing changes yet; the supervisor applies it.
pub fn plan(old: &Config, new: &Config, plan: &mut Plan) {
    plan.clear();
    for (i, nd) in new.defs.iter().enumerate() {
        let name = new.str(nd.name);
        let change = match old.find(name).and_then(|j| old.defs.get(j)) {
            Some(od) => compare(old, od, new, nd),
            None => Change::Added,
        };
        plan.push(change, i as u8, name);
    }
    for d in old.defs.iter() {
        let name = old.str(d.name);
        if new.find(name).is_none() {
            plan.push(Change::Removed, 0, name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Errors, FileError, Files};
    use std::boxed::Box;

    struct NoFiles;
    impl Files for NoFiles {
        fn read(&mut self, _: &[u8]) -> Result<&[u8], FileError> {
            Err(FileError::Os(2))
        }
    }

    fn cfg(text: &str) -> Box<Config> {
        let mut c = Box::new(Config::new());
        let mut e = Errors::new();
        crate::config::parse(text.as_bytes(), &mut NoFiles, &mut c, &mut e);
        assert!(e.is_empty(), "{text}: {:?}", e.list);
        c
    }

    #[test]
    fn changes() {
        let base = "[a]\nexec = /bin/a x\n[b]\nexec = /bin/b\n";
        let cases = [
            ("[a]\nexec = /bin/a x\n[b]\nexec = /bin/b\n", Change::Kept),
            ("[b]\nexec = /bin/b\n[a]\nexec = /bin/a x\n", Change::Kept),
            ("[a]\nexec = /bin/a y\n[b]\nexec = /bin/b\n", Change::Restarted),
            ("[a]\nexec = /bin/a x\nenv = K=v\n[b]\nexec = /bin/b\n", Change::Restarted),
            ("[a]\nexec = /bin/a x\ncwd = /tmp\n[b]\nexec = /bin/b\n", Change::Restarted),
            ("[a]\nexec = /bin/a x\nlog = null\n[b]\nexec = /bin/b\n", Change::Restarted),
            ("[a]\nexec = /bin/a x\nready = fd:3\n[b]\nexec = /bin/b\n", Change::Restarted),
            ("[a]\nexec = /bin/a x\nnofile = 100\n[b]\nexec = /bin/b\n", Change::Restarted),
            ("[a]\nexec = /bin/a x\nbackoff = 1s 2s\n[b]\nexec = /bin/b\n", Change::Updated),
            ("[a]\nexec = /bin/a x\nafter = b\n[b]\nexec = /bin/b\n", Change::Updated),
            ("[a]\nexec = /bin/a x\nstop_signal = INT\n[b]\nexec = /bin/b\n", Change::Updated),
            ("[a]\nexec = /bin/a x\nrestart = never\n[b]\nexec = /bin/b\n", Change::Updated),
            ("[a]\nexec = /bin/a x\nstart = no\n[b]\nexec = /bin/b\n", Change::Updated),
        ];
        // Each supervision setting alone is an update.
        let more = [
            "oneshot = yes",
            "kill_mode = mixed",
            "upgrade_signal = HUP",
            "pin = no",
            "stable = 1s",
            "stop_timeout = 1s",
            "ready_timeout = 1s",
            "upgrade_delay = 2s",
            "backoff = 100ms 31s",
            "restart = on-failure",
        ];
        let more: std::vec::Vec<(std::string::String, Change)> =
            more.iter().map(|k| (format!("[a]\nexec = /bin/a x\n{k}\n[b]\nexec = /bin/b\n"), Change::Updated)).collect();
        let cases: std::vec::Vec<(&str, Change)> = cases.iter().copied().chain(more.iter().map(|(t, c)| (t.as_str(), *c))).collect();
        let old = cfg(base);
        for (text, want) in cases {
            let new = cfg(text);
            let i = new.find(b"a").unwrap();
            assert_eq!(compare(&old, &old.defs[0], &new, &new.defs[i]), want, "{text}");
        }
        // `after` compares names, not indexes.
        let x = cfg("[b]\nexec = /bin/b\n[a]\nexec = /bin/a\nafter = b\n");
        let y = cfg("[c]\nexec = /bin/c\n[b]\nexec = /bin/b\n[a]\nexec = /bin/a\nafter = b\n");
        assert_eq!(compare(&x, &x.defs[1], &y, &y.defs[2]), Change::Kept);
        // As many names, not the same ones.
        let after = |n: &str| cfg(&format!("[b]\nexec = /bin/b\n[c]\nexec = /bin/c\n[a]\nexec = /bin/a\nafter = {n}\n"));
        assert_eq!(compare(&after("b"), &after("b").defs[2], &after("c"), &after("c").defs[2]), Change::Updated);
        assert_eq!(compare(&after("b c"), &after("b c").defs[2], &after("c, b"), &after("c, b").defs[2]), Change::Kept);
        // A probe compares its words, not their place in the config's strings.
        let probe = |before: &str, p: &str| cfg(&format!("{before}[a]\nexec = /bin/a\nready = exec:{p}\nprobe_interval = 1s\n"));
        let x = probe("", "/bin/p 1");
        for (y, want) in [
            (probe("[b]\nexec = /bin/b x y\n", "/bin/p 1"), Change::Kept),
            (probe("", "/bin/p 2"), Change::Restarted),
            (cfg("[a]\nexec = /bin/a\nready = exec:/bin/p 1\n"), Change::Updated),
        ] {
            let i = y.find(b"a").unwrap();
            assert_eq!(compare(&x, &x.defs[0], &y, &y.defs[i]), want);
        }
        // A failed upgrade's definition moved back keeps its probe's words.
        let mut z = cfg("[b]\nexec = /bin/b x y\n[a]\nexec = /bin/q\n");
        let name = z.defs[1].name;
        let keep = crate::config::Keep::of(&z.defs[1]);
        assert!(crate::config::transplant(&mut z, 1, &x, &x.defs[0], keep));
        assert_eq!(compare(&x, &x.defs[0], &z, &z.defs[1]), Change::Kept);
        assert_eq!(z.defs[1].name, name);
    }
}
