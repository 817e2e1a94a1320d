//! Tests of the config parser (kept beside parse.rs to keep both files
//! short): configs it accepts, and the helpers; errors are in error_tests.rs.

use super::{emit, parse};
use crate::config::Span;
use crate::config::{Config, Def, Error, Errors, FileError, Files, Limit, Located, Log, Ready, Restart};
use crate::duration::Duration;
use crate::limits::{MAX_ARGS, MAX_ENV, MAX_SERVICES, RING_DEFAULT_BYTES};
use crate::text::Buf;
use std::vec::Vec;

const PASSWD_FILE: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n\
www:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\
app:x:1000:1001::/home/app:/bin/sh\n";

const GROUP_FILE: &[u8] = b"root:x:0:\n\
adm:x:4:syslog,app\n\
www:x:33:\n\
video:x:44:app,www\n\
apps:x:1001:\n\
audio:x:29:www\n";

type Entry = (&'static [u8], Result<Vec<u8>, FileError>);

/// Files from a table; a missing path is ENOENT.
struct Fake {
    files: Vec<Entry>,
}

impl Fake {
    fn new() -> Self {
        let mut f = Fake { files: Vec::new() };
        f.add(b"/etc/passwd", PASSWD_FILE);
        f.add(b"/etc/group", GROUP_FILE);
        f.add(b"/etc/app/secrets.env", b"# secrets\nDB_PASSWORD=hunter2\n\nAPI_KEY=abc=def\n");
        f
    }
    fn add(&mut self, path: &'static [u8], data: &[u8]) {
        self.files.retain(|(p, _)| *p != path);
        self.files.push((path, Ok(data.to_vec())));
    }
    fn fail(&mut self, path: &'static [u8], e: FileError) {
        self.files.retain(|(p, _)| *p != path);
        self.files.push((path, Err(e)));
    }
}

impl Files for Fake {
    fn read(&mut self, path: &[u8]) -> Result<&[u8], FileError> {
        match self.files.iter().find(|(p, _)| *p == path) {
            Some((_, Ok(d))) => Ok(d),
            Some((_, Err(e))) => Err(*e),
            None => Err(FileError::Os(2)),
        }
    }
}

fn run_with(text: &str, files: &mut Fake) -> (Box<Config>, Errors) {
    let mut c = Box::new(Config::new());
    let mut e = Errors::new();
    parse(text.as_bytes(), files, &mut c, &mut e);
    (c, e)
}

fn run(text: &str) -> (Box<Config>, Errors) {
    run_with(text, &mut Fake::new())
}

/// A config that must parse: its config, or a panic listing the errors.
fn ok(text: &str) -> Box<Config> {
    let (c, e) = run(text);
    assert!(e.is_empty(), "{text}\n{}", messages(text, &e));
    c
}

fn e(line: u32, error: Error, word: &str) -> (u32, Error, String, Option<&'static str>) {
    (line, error, word.to_string(), None)
}

fn h(line: u32, error: Error, word: &str, hint: &'static str) -> (u32, Error, String, Option<&'static str>) {
    (line, error, word.to_string(), Some(hint))
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn word(text: &str, span: Span) -> String {
    s(text.as_bytes().get(span.start as usize..(span.start + span.len) as usize).unwrap_or(&[]))
}

/// (line, error, word, hint) of each error.
fn errs_with(text: &str, files: &mut Fake) -> Vec<(u32, Error, String, Option<&'static str>)> {
    let (_, e) = run_with(text, files);
    e.list.iter().map(|l| (l.line, l.error, word(text, l.span), l.hint)).collect()
}

fn errs(text: &str) -> Vec<(u32, Error, String, Option<&'static str>)> {
    errs_with(text, &mut Fake::new())
}

fn messages(text: &str, e: &Errors) -> String {
    let mut all = String::new();
    for l in &e.list {
        let mut b = Buf::<256>::new();
        emit(b"/etc/svc.conf", text.as_bytes(), l, &mut b);
        all.push_str(&s(b.as_bytes()));
    }
    all
}

fn args(c: &Config, d: &Def) -> Vec<String> {
    c.list(d.args).iter().map(|&sp| s(c.str(sp))).collect()
}

fn env(c: &Config, d: &Def) -> Vec<String> {
    c.list(d.env).iter().map(|&sp| s(c.str(sp))).collect()
}

const DEFAULT_PATH_ENTRY: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const EXAMPLE: &str = r#"# supervisor settings
[svc]
control = /run/svc.sock
control_group = adm

[db-migrate]
exec = /opt/app/bin/migrate
oneshot = yes

[web]
exec = /opt/app/current/web --port 8080 "--motd=hello world"
after = db-migrate
cwd = /opt/app
env = APP_ENV=prod
env_file = /etc/app/secrets.env
user = www
group = www
restart = always
backoff = 100ms 30s
stable = 10s
ready = fd:9
ready_timeout = 30s
stop_signal = TERM
stop_timeout = 10s
nofile = 4096
log = ring:16k
"#;

#[test]
fn example_parses() {
    let c = ok(EXAMPLE);
    assert_eq!(c.control.map(|sp| s(c.str(sp))), Some("/run/svc.sock".into()));
    assert_eq!(c.strz(c.control.unwrap()), b"/run/svc.sock\0");
    assert_eq!(c.control_gid, Some(4));
    assert_eq!(c.defs.len(), 2);

    let db = &c.defs[0];
    assert_eq!(c.str(db.name), b"db-migrate");
    assert_eq!(db.line, 6);
    assert_eq!(args(&c, db), ["/opt/app/bin/migrate"]);
    assert!(db.oneshot);
    assert_eq!(env(&c, db), [DEFAULT_PATH_ENTRY, "SVC_SERVICE=db-migrate"]);
    assert_eq!(db.after, 0);

    let web = &c.defs[1];
    assert_eq!(c.str(web.name), b"web");
    assert_eq!(web.line, 10);
    assert_eq!(args(&c, web), ["/opt/app/current/web", "--port", "8080", "--motd=hello world"]);
    for &sp in c.list(web.args) {
        assert_eq!(c.strz(sp).last(), Some(&0));
    }
    assert_eq!(web.after, 1);
    assert_eq!(web.cwd.map(|sp| s(c.str(sp))), Some("/opt/app".into()));
    assert_eq!(web.env_file.map(|sp| s(c.str(sp))), Some("/etc/app/secrets.env".into()));
    assert_eq!(env(&c, web), ["APP_ENV=prod", "DB_PASSWORD=hunter2", "API_KEY=abc=def", DEFAULT_PATH_ENTRY, "SVC_SERVICE=web"]);
    assert_eq!((web.uid, web.gid), (Some(33), Some(33)));
    assert_eq!(c.groups(web.groups), [44, 29]);
    assert_eq!(web.restart, Restart::Always);
    assert!(!web.oneshot);
    assert!(web.start);
    assert_eq!((web.backoff_first, web.backoff_max), (Duration::from_millis(100), Duration::from_secs(30)));
    assert_eq!(web.stable, Duration::from_secs(10));
    assert_eq!(web.ready, Ready::Fd(9));
    assert_eq!(web.ready_timeout, Duration::from_secs(30));
    assert_eq!(web.stop_signal, 15);
    assert_eq!(web.stop_timeout, Duration::from_secs(10));
    assert_eq!(web.rlimits, [Some(4096), None, None, None]);
    assert_eq!(web.rlimits[Limit::Nofile as usize], Some(4096));
    assert_eq!(web.log, Log::Ring(16 * 1024));
    assert_eq!(c.find(b"web"), Some(1));
}

#[test]
fn defaults() {
    let c = ok("[a]\nexec=/bin/a\n");
    let d = &c.defs[0];
    assert_eq!(args(&c, d), ["/bin/a"]);
    assert_eq!(env(&c, d), [DEFAULT_PATH_ENTRY, "SVC_SERVICE=a"]);
    assert_eq!((d.cwd, d.env_file, d.uid, d.gid), (None, None, None, None));
    assert_eq!(c.groups(d.groups), [] as [u32; 0]);
    assert_eq!((d.restart, d.oneshot, d.start), (Restart::Always, false, true));
    assert_eq!((d.backoff_first, d.backoff_max), (Duration::from_millis(100), Duration::from_secs(30)));
    assert_eq!((d.stable, d.ready, d.ready_timeout), (Duration::from_secs(10), Ready::None, Duration::from_secs(30)));
    assert_eq!((d.stop_signal, d.stop_timeout), (15, Duration::from_secs(10)));
    assert_eq!((d.after, d.rlimits, d.log), (0, [None; 4], Log::Ring(RING_DEFAULT_BYTES as u32)));
    assert_eq!((c.control, c.control_gid), (None, None));
}

#[test]
fn values_table() {
    // (lines after `exec`, check)
    type Check = fn(&Config, &Def) -> bool;
    let table: &[(&str, Check)] = &[
        ("restart = on-failure", |_, d| d.restart == Restart::OnFailure),
        ("restart = never", |_, d| d.restart == Restart::Never),
        ("oneshot = no\nstart = no", |_, d| !d.oneshot && !d.start),
        ("backoff = 1s 1s", |_, d| d.backoff_first == Duration::from_secs(1) && d.backoff_max == Duration::from_secs(1)),
        ("backoff =  250ms \t 5m ", |_, d| d.backoff_max == Duration::from_secs(300)),
        ("stable = 1h", |_, d| d.stable == Duration::from_secs(3600)),
        ("ready = none", |_, d| d.ready == Ready::None),
        ("ready = delay:500ms", |_, d| d.ready == Ready::Delay(Duration::from_millis(500))),
        ("ready = fd:3", |_, d| d.ready == Ready::Fd(3)),
        ("ready = exec:/bin/wget -qO- \"http://127.0.0.1:8080/a b\"\nprobe_interval = 1s", |c, d| {
            let Ready::Exec(r) = d.ready else { return false };
            let words: Vec<&[u8]> = c.list(r).iter().map(|s| c.str(*s)).collect();
            words == [&b"/bin/wget"[..], b"-qO-", b"http://127.0.0.1:8080/a b"] && d.probe_interval == Duration::from_secs(1)
        }),
        ("ready = exec: /bin/true", |c, d| matches!(d.ready, Ready::Exec(r) if c.list(r).len() == 1)),
        ("ready_timeout = 2m", |_, d| d.ready_timeout == Duration::from_secs(120)),
        ("stop_signal = HUP", |_, d| d.stop_signal == 1),
        ("oom_score_adj = -1000", |_, d| d.oom_score_adj == -1000),
        ("oom_score_adj = 1000", |_, d| d.oom_score_adj == 1000),
        ("oom_score_adj = 0", |_, d| d.oom_score_adj == 0),
        ("stop_signal = SIGINT", |_, d| d.stop_signal == 2),
        ("stop_signal = 34", |_, d| d.stop_signal == 34),
        ("stop_timeout = 0ms", |_, d| d.stop_timeout == Duration::ZERO),
        ("nproc = unlimited\ncore = 1M\nmemlock = 64k", |_, d| d.rlimits == [None, Some(u64::MAX), Some(1 << 20), Some(65536)]),
        ("core = 0", |_, d| d.rlimits[Limit::Core as usize] == Some(0)),
        ("log = null", |_, d| d.log == Log::Null),
        ("log = ring:1", |_, d| d.log == Log::Ring(1024)),
        ("log = ring:5000", |_, d| d.log == Log::Ring(5120)),
        ("cwd = /srv/x y", |c, d| d.cwd.map(|sp| c.str(sp)) == Some(b"/srv/x y")),
        ("user = 0", |_, d| d.uid == Some(0) && d.gid == Some(0)),
        ("user = 1000", |c, d| d.uid == Some(1000) && d.gid == Some(1001) && c.groups(d.groups).is_empty()),
        ("user = 4242", |_, d| d.uid == Some(4242) && d.gid.is_none()),
        ("user = 4242\ngroup = 7", |_, d| d.uid == Some(4242) && d.gid == Some(7)),
        ("user = app", |c, d| d.uid == Some(1000) && d.gid == Some(1001) && c.groups(d.groups) == [4, 44]),
        ("group = adm\nuser = app", |c, d| d.uid == Some(1000) && d.gid == Some(4) && c.groups(d.groups) == [4, 44]),
        ("group = video", |_, d| d.uid.is_none() && d.gid == Some(44)),
        ("group = 12345", |_, d| d.gid == Some(12345)),
        ("env = PATH=/bin", |c, d| env(c, d) == ["PATH=/bin", "SVC_SERVICE=s"]),
        ("env = A=1\nenv = B=\nenv = A=2", |c, d| env(c, d) == ["A=2", "B=", DEFAULT_PATH_ENTRY, "SVC_SERVICE=s"]),
        ("env = SVC_SERVICE=mine\nenv = X=a b # c", |c, d| env(c, d) == ["SVC_SERVICE=s", "X=a b # c", DEFAULT_PATH_ENTRY]),
        ("env = PATHS=x", |c, d| env(c, d) == ["PATHS=x", DEFAULT_PATH_ENTRY, "SVC_SERVICE=s"]),
    ];
    for (lines, check) in table {
        let text = format!("[s]\nexec = /bin/s\n{lines}\n");
        let c = ok(&text);
        assert!(check(&c, &c.defs[0]), "{lines}: {:?}", c.defs[0]);
    }
}

#[test]
fn exec_words() {
    for (line, want) in [
        (r#"/bin/sh -c "echo \"hi\" there""#, &["/bin/sh", "-c", "echo \"hi\" there"][..]),
        (r#"/bin/x "" a\ b c\\d"#, &["/bin/x", "", "a b", "c\\d"]),
        ("/bin/x\t#not-a-comment", &["/bin/x", "#not-a-comment"]),
        (r#""/opt/my app/run""#, &["/opt/my app/run"]),
    ] {
        let c = ok(&format!("[s]\nexec = {line}\n"));
        assert_eq!(args(&c, &c.defs[0]), want, "{line}");
    }
    let many = (0..MAX_ARGS).map(|i| format!("a{i}")).collect::<Vec<_>>().join(" ");
    let c = ok(&format!("[s]\nexec = /bin/x {}\n", &many[3..]));
    assert_eq!(c.list(c.defs[0].args).len(), MAX_ARGS);
}

#[test]
fn comments_and_blanks() {
    let text = "  # comment\n; also\n\n[s]  \r\n\t exec\t=\t/bin/s  \r\n  ;x = y\n#exec = nope\n";
    let c = ok(text);
    assert_eq!(args(&c, &c.defs[0]), ["/bin/s"]);
    let c = ok("[ spaced ]\nexec=/bin/s");
    assert_eq!(c.str(c.defs[0].name), b"spaced");
}

#[test]
fn reparse_clears() {
    let mut c = Box::new(Config::new());
    let mut errors = Errors::new();
    parse(EXAMPLE.as_bytes(), &mut Fake::new(), &mut c, &mut errors);
    assert!(errors.is_empty());
    let mut errors = Errors::new();
    parse(b"[x]\nexec=/bin/x", &mut Fake::new(), &mut c, &mut errors);
    assert!(errors.is_empty());
    assert_eq!(c.defs.len(), 1);
    assert_eq!(c.control, None);
    assert_eq!(args(&c, &c.defs[0]), ["/bin/x"]);
}

#[test]
fn dropped_sections_leave_nothing() {
    let c = ok("[a]\nexec=/bin/a\n");
    let (c2, errors) = run("[a]\nexec=/bin/a\n[a]\nexec=/bin/other with args\nenv=A=1\nuser=app\n");
    assert_eq!(errors.list.len(), 1);
    assert_eq!((c2.arena.len(), c2.strs.len(), c2.gids.len()), (c.arena.len(), c.strs.len(), c.gids.len()));
}

#[test]
fn log_targets() {
    fn file(c: &Config, d: &Def, path: &[u8], size: u32, keep: u8) -> bool {
        match d.log {
            Log::File { path: p, size: s, keep: k } => c.str(p) == path && c.strz(p).last() == Some(&0) && (s, k) == (size, keep),
            _ => false,
        }
    }
    type Check = fn(&Config, &Def) -> bool;
    let table: &[(&str, Check)] = &[
        ("log = console", |_, d| d.log == Log::Console),
        ("log = file:/var/log/s.log", |c, d| file(c, d, b"/var/log/s.log", 1 << 20, 3)),
        ("log = file:/var/log/my app.log  ", |c, d| file(c, d, b"/var/log/my app.log", 1 << 20, 3)),
        ("log = file:/l\nlog_size = 64k\nlog_keep = 9", |c, d| file(c, d, b"/l", 65536, 9)),
        ("log_keep = 1\nlog_size = 4096\nlog = file:/l", |c, d| file(c, d, b"/l", 4096, 1)),
        ("log_size = 1024M\nlog = file:/l", |c, d| file(c, d, b"/l", 1 << 30, 3)),
    ];
    for (lines, check) in table {
        let text = format!("[s]\nexec = /bin/s\n{lines}\n");
        let c = ok(&text);
        assert!(check(&c, &c.defs[0]), "{lines}: {:?}", c.defs[0]);
    }
    let table: Vec<(&str, Vec<_>)> = vec![
        ("log = file:web.log", vec![e(3, Error::RelativePath, "file:web.log")]),
        ("log = file:", vec![e(3, Error::RelativePath, "file:")]),
        ("log = files:/l", vec![e(3, Error::BadLog, "files:/l")]),
        ("log_size = 1M", vec![e(3, Error::LogKeyWithoutFile, "log_size")]),
        ("log = ring:8k\nlog_keep = 2", vec![e(4, Error::LogKeyWithoutFile, "log_keep")]),
        (
            "log_keep = 2\nlog = console\nlog_size = 8k",
            vec![e(5, Error::LogKeyWithoutFile, "log_size"), e(3, Error::LogKeyWithoutFile, "log_keep")],
        ),
        ("log = file:/l\nlog_size = 1k", vec![e(4, Error::BadLogSize, "1k")]),
        ("log = file:/l\nlog_size = 2048M", vec![e(4, Error::BadLogSize, "2048M")]),
        ("log = file:/l\nlog_size = big", vec![e(4, Error::BadLogSize, "big")]),
        ("log = file:/l\nlog_keep = 0", vec![e(4, Error::BadLogKeep, "0")]),
        ("log = file:/l\nlog_keep = 10", vec![e(4, Error::BadLogKeep, "10")]),
        ("log = file:/l\nlog_keep = 2\nlog_keep = 3", vec![e(5, Error::DuplicateKey, "log_keep")]),
        ("log = file:/l\nlog_size =", vec![e(4, Error::EmptyValue, "log_size")]),
        // A bad `log` is reported alone, not again through log_size.
        ("log = bogus\nlog_size = 64k", vec![e(3, Error::BadLog, "bogus")]),
        ("log_size = 64k\nlog = file:x", vec![e(4, Error::RelativePath, "file:x")]),
        ("logsize = 64k", vec![h(3, Error::UnknownKey, "logsize", "log_size")]),
    ];
    for (lines, want) in &table {
        let text = format!("[a]\nexec=/bin/a\n{lines}");
        assert_eq!(&errs(&text), want, "{lines}");
    }
    let text = "[web]\nexec = /bin/x\nlog_size = 64k\nlog = file:/l\nlog_keep = 99\n[db]\nexec = /bin/y\nlog_keep = 2\n";
    let (_, errors) = run(text);
    assert_eq!(
        messages(text, &errors),
        "svc: /etc/svc.conf:5: [web] bad log_keep '99' (use 1 to 9)\n\
         svc: /etc/svc.conf:8: [db] unused key 'log_keep' (log_size and log_keep are for log = file:PATH)\n"
    );
}

#[test]
fn def_stays_small() {
    let n = core::mem::size_of::<Def>();
    // 208 until log = file:PATH (its path, size and keep make Log 16 bytes);
    // 224 with listen (a range of Config::listens) and on_connect; 232 with
    // upgrade_delay and upgrade_signal; 240 with watchdog; 248 with probe_interval.
    assert!(n <= 248, "size_of::<Def>() = {n}");
}

/// Junk from fragments of real lines: errors, never a panic.
#[test]
fn junk_never_panics() {
    let parts: &[&str] = &[
        "[a]",
        "[b]",
        "[svc]",
        "[",
        "]",
        "=",
        "exec = /bin/a",
        "exec = \"",
        "\\",
        "after = a b",
        "after = b",
        "env = A=1",
        "env_file = /etc/app/secrets.env",
        "user = www",
        "user = 9",
        "group = x",
        "log = ring:300k",
        "ready = fd:",
        "\n",
        "\n",
        "backoff = 1s",
        " ",
        "\t",
        "#",
        "\0",
        "\u{e9}",
        "nofile = 18446744073709551616",
        "stop_signal = 0",
        "[svc]\ncontrol=/x",
        "log = file:/l",
        "log = file:",
        "log = console",
        "log_size = 4k",
        "log_keep = 2",
        "log_keep = 99",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..3000 {
        let mut text = String::new();
        for _ in 0..(seed % 40) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text.push_str(parts[(seed % parts.len() as u64) as usize]);
            if seed & 3 == 0 {
                text.push('\n');
            }
        }
        let (_, errors) = run(&text);
        let _ = messages(&text, &errors);
    }
}

#[path = "error_tests.rs"]
mod errors;

#[test]
fn listen_sockets() {
    let c = ok("[web]\nexec = /bin/web\nlisten = tcp:127.0.0.1:8080 name=http backlog=128\nlisten = udp::5353 freebind\n\
                listen = unix:/run/web.sock mode=0660 owner=www:video\nready = fd:6\n\
                [lazy]\nexec = /bin/lazy\nlisten = unix:@lazy\nstart = on-connect\n");
    let (web, lazy) = (&c.defs[0], &c.defs[1]);
    let l = c.listens(web.listen);
    type Row = (String, String, u32, Option<u16>, Option<u32>, Option<u32>, bool);
    let got: Vec<Row> =
        l.iter().map(|l| (s(c.str(l.addr)), s(c.listen_name(web, l)), l.backlog, l.mode, l.uid, l.gid, l.freebind)).collect();
    assert_eq!(
        got,
        [
            ("tcp:127.0.0.1:8080".into(), "http".into(), 128, None, None, None, false),
            ("udp::5353".into(), "web".into(), 1024, None, None, None, true),
            ("unix:/run/web.sock".into(), "web".into(), 1024, Some(0o660), Some(33), Some(44), false),
        ]
    );
    assert!(!web.on_connect && web.start);
    assert_eq!((web.upgrade_delay, web.upgrade_signal), (Duration::from_secs(1), 0));
    let u = ok("[a]\nexec = /bin/a\nupgrade_delay = 250ms\nupgrade_signal = HUP\n");
    assert_eq!((u.defs[0].upgrade_delay, u.defs[0].upgrade_signal), (Duration::from_millis(250), 1));
    assert_eq!(c.listens(lazy.listen).len(), 1);
    assert!(lazy.on_connect);
    // Without a group, a socket's gid is its owner's from /etc/passwd, by
    // name or by number; a number without an entry leaves it unset.
    for (owner, ids) in [("app", (1000, Some(1001))), ("1000", (1000, Some(1001))), ("4242", (4242, None)), ("app:adm", (1000, Some(4)))] {
        let c = ok(&format!("[a]\nexec = /bin/a\nlisten = unix:/run/a.sock owner={owner}\n"));
        let l = c.listens(c.defs[0].listen)[0];
        assert_eq!((l.uid, l.gid), (Some(ids.0), ids.1), "{owner}");
    }
}

#[test]
fn listen_errors() {
    let table: Vec<(&str, Vec<_>)> = vec![
        ("[a]\nexec=/bin/a\nlisten = 8080", vec![e(3, Error::ListenProto, "8080")]),
        ("[a]\nexec=/bin/a\nlisten = tcp:1.2.3.4:99999", vec![e(3, Error::ListenPort, "tcp:1.2.3.4:99999")]),
        ("[a]\nexec=/bin/a\nlisten = tcp:localhost:80", vec![e(3, Error::ListenHost, "tcp:localhost:80")]),
        ("[a]\nexec=/bin/a\nlisten = unix:a.sock", vec![e(3, Error::ListenPath, "unix:a.sock")]),
        ("[a]\nexec=/bin/a\nlisten = tcp::80 backlog=0", vec![e(3, Error::ListenOption, "backlog=0")]),
        ("[a]\nexec=/bin/a\nlisten = tcp::80 name=a:b", vec![e(3, Error::ListenOption, "name=a:b")]),
        ("[a]\nexec=/bin/a\nlisten = tcp::80 fast", vec![e(3, Error::ListenOption, "fast")]),
        ("[a]\nexec=/bin/a\nlisten = tcp::80 mode=0600", vec![e(3, Error::UnixOnly, "mode=0600")]),
        ("[a]\nexec=/bin/a\nlisten = unix:/x mode=0999", vec![e(3, Error::ListenOption, "mode=0999")]),
        ("[a]\nexec=/bin/a\nlisten = unix:/x owner=nobody", vec![e(3, Error::UnknownUser, "nobody")]),
        ("[a]\nexec=/bin/a\nlisten = unix:/x freebind", vec![e(3, Error::InetOnly, "freebind")]),
        ("[a]\nexec=/bin/a\nlisten = tcp::80\n[b]\nexec=/bin/b\nlisten = tcp::80", vec![e(6, Error::ListenTwice, "tcp::80")]),
        ("[a]\nexec=/bin/a\nstart = on-connect", vec![e(1, Error::OnConnectNoListen, "")]),
        ("[a]\nexec=/bin/a\nlisten = tcp::80\nlisten = tcp::81\nready = fd:4", vec![e(1, Error::ReadyFdListen, "")]),
        ("[a]\nexec=/bin/a\nwatchdog = 1s", vec![e(1, Error::WatchdogNotify, "")]),
        ("[a]\nexec=/bin/a\nprobe_interval = 1s", vec![e(1, Error::ProbeIntervalExec, "")]),
        ("[a]\nexec=/bin/a\nready = exec:wget -q x", vec![e(3, Error::RelativeProgram, "wget")]),
        ("[a]\nexec=/bin/a\nready = exec:", vec![e(3, Error::BadReady, "exec:")]),
        ("[a]\nexec=/bin/a\nready = exec:/bin/x \"y", vec![e(3, Error::BadQuote, "\"y")]),
        ("[a]\nexec=/bin/a\nready = exec:/bin/x\nprobe_interval = x", vec![e(4, Error::BadDuration, "x")]),
        ("[a]\nexec=/bin/a\noom_score_adj = 1001", vec![e(3, Error::BadOomScore, "1001")]),
        ("[a]\nexec=/bin/a\noom_score_adj = -2000", vec![e(3, Error::BadOomScore, "-2000")]),
        ("[a]\nexec=/bin/a\noom_score_adj = --1", vec![e(3, Error::BadOomScore, "--1")]),
    ];
    for (text, want) in table {
        assert_eq!(errs(text), want, "{text}");
    }
    let nine: String = (0..9).map(|i| format!("listen = tcp::{}\n", 8000 + i)).collect();
    let got = errs(&format!("[a]\nexec=/bin/a\n{nine}"));
    assert_eq!(got, [e(11, Error::TooManyListens, "tcp::8008")]);
}

/// `Config::swap` trades every table, longer or shorter, as `mem::swap` would.
#[test]
fn swap_trades_both_ways() {
    let a_text = "[svc]\ncontrol = /run/a.sock\nhostname = a\nemergency = /bin/ash\nshutdown_timeout = 3s\n[one]\nexec = /bin/one -x\nlisten = tcp:127.0.0.1:81\n[two]\nexec = /bin/two\n";
    let b_text = "[three]\nexec = /bin/three a b c d\nenv = K=V\n";
    let (mut a, mut b) = (ok(a_text), ok(b_text));
    let (a0, b0) = (ok(a_text), ok(b_text));
    a.swap(&mut b);
    for (x, y) in [(&*a, &*b0), (&*b, &*a0)] {
        assert_eq!(x.arena.as_slice(), y.arena.as_slice());
        assert_eq!(x.strs.as_slice(), y.strs.as_slice());
        assert_eq!(x.gids.as_slice(), y.gids.as_slice());
        assert_eq!(x.defs.len(), y.defs.len());
        assert_eq!(x.listens.len(), y.listens.len());
        assert_eq!(x.control, y.control);
        assert_eq!((x.hostname, x.shutdown_timeout, x.emergency), (y.hostname, y.shutdown_timeout, y.emergency));
        for (d, e) in x.defs.iter().zip(y.defs.iter()) {
            assert_eq!(x.str(d.name), y.str(e.name));
            assert_eq!(d.args, e.args);
        }
    }
    b.swap(&mut a);
    assert_eq!(a.arena.as_slice(), a0.arena.as_slice());
    assert_eq!(b.defs.len(), b0.defs.len());
}

#[test]
fn init_settings() {
    let c = ok("[svc]\nhostname = router-1\nshutdown_timeout = 5s\nemergency = /sbin/sulogin\n[a]\nexec = /bin/a\n");
    assert_eq!(c.hostname.map(|sp| s(c.str(sp))), Some("router-1".into()));
    assert_eq!(c.emergency.map(|sp| s(c.str(sp))), Some("/sbin/sulogin".into()));
    assert_eq!(c.shutdown_timeout, Some(crate::duration::Duration::from_millis(5000)));
    let c = ok("[a]\nexec = /bin/a\n");
    assert_eq!((c.hostname, c.shutdown_timeout, c.emergency), (None, None, None));
    assert!(ok(&format!("[svc]\nhostname = {}\n[a]\nexec = /bin/a\n", "h".repeat(64))).hostname.is_some());
}
