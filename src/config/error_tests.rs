//! Tests of the config parser's errors: every kind with its line, word and
//! hint, collection, capacities, env_file and passwd failures, and the
//! printed form. The helpers are the parent's (parse_tests.rs).

use super::*;
use crate::limits::{CONTROL_PATH_BYTES, PATH_BYTES};

#[test]
fn errors_table() {
    let table: Vec<(&str, Vec<_>)> = vec![
        ("[web]\nexce = /bin/x\nexec = /bin/x", vec![h(2, Error::UnknownKey, "exce", "exec")]),
        ("[web]\nexec = /bin/x\nstop_singal = TERM", vec![h(3, Error::UnknownKey, "stop_singal", "stop_signal")]),
        ("[web]\nexec = /bin/x\nfrobnicate = 1", vec![e(3, Error::UnknownKey, "frobnicate")]),
        ("[svc]\ncontol = /x", vec![h(2, Error::UnknownSvcKey, "contol", "control")]),
        ("[svc]\nbogus = /x", vec![e(2, Error::UnknownSvcKey, "bogus")]),
        ("[svc]\nexec = /bin/x", vec![e(2, Error::ReservedName, "")]),
        ("[svc]\ncontrol = run/svc.sock", vec![e(2, Error::RelativePath, "run/svc.sock")]),
        ("[svc]\nemergency = sh", vec![e(2, Error::RelativePath, "sh")]),
        ("[svc]\nemergncy = /bin/sh", vec![h(2, Error::UnknownSvcKey, "emergncy", "emergency")]),
        ("[svc]\ncontrol = /a\ncontrol = /b", vec![e(3, Error::DuplicateKey, "control")]),
        // [svc] may come back; its keys are still seen once.
        ("[svc]\ncontrol = /a\n[a]\nexec=/bin/a\n[svc]\ncontrol = /b", vec![e(6, Error::DuplicateKey, "control")]),
        ("[svc]\nshutdown_timeout = 1s\n[svc]\nhostname = h\nemergency = /bin/sh\npin = no", vec![e(6, Error::ReservedName, "")]),
        // [svc]'s keys are no service's.
        ("[a]\nexec=/bin/a\ncontrol = /x", vec![e(3, Error::UnknownKey, "control")]),
        ("[a]\nexec=/bin/a\nhostnme = x", vec![e(3, Error::UnknownKey, "hostnme")]),
        ("[svc]\ncontrol_group = nogroup", vec![e(2, Error::UnknownGroup, "nogroup")]),
        ("[svc]\ncontrol =", vec![e(2, Error::EmptyValue, "")]),
        ("[svc]\nhostname = a b", vec![e(2, Error::BadHostname, "a b")]),
        (
            "[svc]\nhostname = hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh",
            vec![e(2, Error::BadHostname, "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh")],
        ),
        ("[svc]\nshutdown_timeout = 5", vec![e(2, Error::BadDuration, "5")]),
        ("[svc]\nhostnme = x", vec![h(2, Error::UnknownSvcKey, "hostnme", "hostname")]),
        ("[web]\n\n\n", vec![e(1, Error::MissingExec, "")]),
        ("[a]\nexec=/bin/a\n[b]\nrestart = never\n[c]\nexec=/bin/c", vec![e(3, Error::MissingExec, "")]),
        ("[a]\nexec=/bin/a\n[a]\nexec=/bin/a", vec![e(3, Error::DuplicateService, "a")]),
        ("[a]\nexec=/bin/a\nexec=/bin/b", vec![e(3, Error::DuplicateKey, "exec")]),
        ("[a]\nexec=/bin/a\nuser=www\nuser=www", vec![e(4, Error::DuplicateKey, "user")]),
        ("[a]\nexec=/bin/a\nenv_file=/x\nenv_file=/y", vec![e(3, Error::EnvFileUnreadable, "/x"), e(4, Error::DuplicateKey, "env_file")]),
        ("[a]\nexec=bin/a", vec![e(2, Error::RelativeProgram, "bin/a")]),
        ("[a]\nexec=\"\" x", vec![e(2, Error::RelativeProgram, "\"\"")]),
        ("[a]\nexec=/bin/a \"open", vec![e(2, Error::BadQuote, "\"open")]),
        ("[a]\nexec=/bin/a x\\", vec![e(2, Error::BadQuote, "x\\")]),
        ("[a]\nexec=", vec![e(2, Error::EmptyValue, "exec")]),
        ("[a]\nexec=/bin/a\nstable = 10", vec![e(3, Error::BadDuration, "10")]),
        ("[a]\nexec=/bin/a\nbackoff = 1s", vec![e(3, Error::BadDuration, "1s")]),
        ("[a]\nexec=/bin/a\nbackoff = 1s 2s 3s", vec![e(3, Error::BadDuration, "1s 2s 3s")]),
        ("[a]\nexec=/bin/a\nbackoff = 1m 30s", vec![e(3, Error::BadDuration, "1m 30s")]),
        ("[a]\nexec=/bin/a\nbackoff = 1x 30s", vec![e(3, Error::BadDuration, "1x 30s")]),
        ("[a]\nexec=/bin/a\nready_timeout = soon", vec![e(3, Error::BadDuration, "soon")]),
        ("[a]\nexec=/bin/a\nstop_timeout = -1s", vec![e(3, Error::BadDuration, "-1s")]),
        ("[a]\nexec=/bin/a\nstop_signal = SIGFOO", vec![e(3, Error::BadSignal, "SIGFOO")]),
        ("[a]\nexec=/bin/a\nstop_signal = 65", vec![e(3, Error::BadSignal, "65")]),
        ("[a]\nexec=/bin/a\nrestart = sometimes", vec![e(3, Error::BadRestart, "sometimes")]),
        ("[a]\nexec=/bin/a\noneshot = true", vec![e(3, Error::BadBool, "true")]),
        ("[a]\nexec=/bin/a\nstart = 1", vec![e(3, Error::BadBool, "1")]),
        ("[a]\nexec=/bin/a\nready = fd:2", vec![e(3, Error::ReadyFdLow, "fd:2")]),
        ("[a]\nexec=/bin/a\nready = fd:256", vec![e(3, Error::BadReady, "fd:256")]),
        ("[a]\nexec=/bin/a\nready = notify:x", vec![e(3, Error::BadReady, "notify:x")]),
        ("[a]\nexec=/bin/a\nready = delay:x", vec![e(3, Error::BadDuration, "delay:x")]),
        ("[a]\nexec=/bin/a\nlog = file", vec![e(3, Error::BadLog, "file")]),
        ("[a]\nexec=/bin/a\nlog = ring:4q", vec![e(3, Error::BadSize, "ring:4q")]),
        ("[a]\nexec=/bin/a\nlog = ring:1M", vec![e(3, Error::RingPoolFull, "ring:1M")]),
        ("[a]\nexec=/bin/a\nnofile = 4k", vec![e(3, Error::BadNumber, "4k")]),
        ("[a]\nexec=/bin/a\nnproc = 99999999999999999999", vec![e(3, Error::BadNumber, "99999999999999999999")]),
        ("[a]\nexec=/bin/a\ncore = 1G", vec![e(3, Error::BadSize, "1G")]),
        ("[a]\nexec=/bin/a\nmemlock = 99999999999999M", vec![e(3, Error::BadSize, "99999999999999M")]),
        ("[a]\nexec=/bin/a\ncwd = srv", vec![e(3, Error::RelativePath, "srv")]),
        ("[a]\nexec=/bin/a\nenv_file = app.env", vec![e(3, Error::RelativePath, "app.env")]),
        ("[a]\nexec=/bin/a\nenv = NOEQUALS", vec![e(3, Error::BadEnv, "NOEQUALS")]),
        ("[a]\nexec=/bin/a\nenv = 1X=2", vec![e(3, Error::BadEnv, "1X")]),
        ("[a]\nexec=/bin/a\nenv = A B=2", vec![e(3, Error::BadEnv, "A")]),
        // The value may be a secret: only the key is quoted.
        ("[a]\nexec=/bin/a\nenv = TOKEN-B=n3wv4lueB", vec![e(3, Error::BadEnv, "TOKEN-B")]),
        ("[a]\nexec=/bin/a\nenv = TOKEN=n3w\0v4lue", vec![e(3, Error::NulByte, "TOKEN")]),
        ("[a]\nexec=/bin/a\nenv = ", vec![e(3, Error::EmptyValue, "env")]),
        ("[a]\nexec=/bin/a\nuser = nobody", vec![e(3, Error::UnknownUser, "nobody")]),
        ("[a]\nexec=/bin/a\ngroup = nogroup", vec![e(3, Error::UnknownGroup, "nogroup")]),
        ("[a]\nexec=/bin/a\nafter = zz", vec![e(3, Error::UnknownAfter, "zz")]),
        ("[a]\nexec=/bin/a\nafter = a", vec![e(3, Error::AfterSelf, "a")]),
        ("[a]\nexec=/bin/a\nafter = svc", vec![e(3, Error::UnknownAfter, "svc")]),
        ("[a]\nexec=/bin/a\nafter = b\n[b]\nexec=/bin/b\nafter = a", vec![e(3, Error::Cycle, "b")]),
        ("exec = /bin/x", vec![e(1, Error::KeyOutsideSection, "exec")]),
        ("[a]\nexec /bin/x", vec![e(2, Error::SyntaxLine, "exec /bin/x"), e(1, Error::MissingExec, "")]),
        ("[a]\nexec=/bin/a\n= x", vec![e(3, Error::SyntaxLine, "= x")]),
        ("[a]\nexec=/bin/a\nmy key = x", vec![e(3, Error::SyntaxLine, "my key = x")]),
        ("[a\nexec=/bin/a", vec![e(1, Error::SectionSyntax, "[a")]),
        ("[a]x\nexec=/bin/a", vec![e(1, Error::SectionSyntax, "[a]x")]),
        ("[]\nexec=/bin/a", vec![e(1, Error::BadName, "")]),
        ("[a b]\nexec=/bin/a", vec![e(1, Error::BadName, "a b")]),
        ("[a/b]\nexec=/bin/a", vec![e(1, Error::BadName, "a/b")]),
        ("[abcdefghijabcdefghijabcdefghij12]\nexec=/bin/a", vec![e(1, Error::BadName, "abcdefghijabcdefghijabcdefghij12")]),
        ("[a]\nexec=/bin/a\0x", vec![e(2, Error::NulByte, "/bin/a\0x")]),
    ];
    for (text, want) in &table {
        assert_eq!(&errs(text), want, "{text}");
    }
}

#[test]
fn limits_checked_when_parsing() {
    let path = |n: usize| format!("/{}", "p".repeat(n - 1));
    let (ok_path, long) = (path(PATH_BYTES - 1), path(PATH_BYTES));
    for key in ["cwd", "log", "exec", "env_file"] {
        let value = |p: &str| if key == "log" { format!("file:{p}") } else { p.to_string() };
        let exec = if key == "exec" { String::new() } else { "exec = /bin/a\n".to_string() };
        let text = format!("[a]\n{exec}{key} = {}\n", value(&long));
        let line = if key == "exec" { 2 } else { 3 };
        assert_eq!(errs(&text), [e(line, Error::PathTooLong, &value(&long))], "{key}");
        let text = format!("[a]\n{exec}{key} = {}\n", value(&ok_path));
        let got = errs(&text);
        assert!(got.iter().all(|g| g.1 != Error::PathTooLong), "{key}: {got:?}");
    }
    // A long program is measured after unquoting; its arguments may be longer.
    let text = format!("[a]\nexec = /bin/a {long}\n");
    assert!(errs(&text).is_empty());
    // A unix socket address holds 107 bytes and a NUL.
    let (sock_ok, sock_long) = (path(CONTROL_PATH_BYTES - 1), path(CONTROL_PATH_BYTES));
    assert!(errs(&format!("[svc]\ncontrol = {sock_ok}\n")).is_empty());
    assert_eq!(errs(&format!("[svc]\ncontrol = {sock_long}\n")), [e(2, Error::ControlPathTooLong, &sock_long)]);
    // (uid_t)-1 is no one's id.
    for (text, want) in [
        ("[a]\nexec=/bin/a\nuser = 4294967295", vec![e(3, Error::BadId, "4294967295")]),
        ("[a]\nexec=/bin/a\ngroup = 4294967295", vec![e(3, Error::BadId, "4294967295")]),
        ("[svc]\ncontrol_group = 4294967295", vec![e(2, Error::BadId, "4294967295")]),
        ("[a]\nexec=/bin/a\nuser = 4294967294\ngroup = 4294967294", vec![]),
        ("[a]\nexec=/bin/a\nlog = file:/", vec![e(3, Error::LogPathNotFile, "file:/")]),
        ("[a]\nexec=/bin/a\nlog = file:/var/log/", vec![e(3, Error::LogPathNotFile, "file:/var/log/")]),
    ] {
        assert_eq!(errs(text), want, "{text}");
    }
}

#[test]
fn all_errors_are_collected() {
    let text = "[a]\nexce = /bin/a\nrestart = x\n[a]\nexec = /bin/a\nstable = y\n[b]\nexec = b\n";
    assert_eq!(
        errs(text),
        [
            h(2, Error::UnknownKey, "exce", "exec"),
            e(3, Error::BadRestart, "x"),
            e(1, Error::MissingExec, ""),
            e(4, Error::DuplicateService, "a"),
            e(6, Error::BadDuration, "y"),
            e(8, Error::RelativeProgram, "b"),
        ]
    );
    // The section of each error is its section's name in the text.
    let (_, errors) = run(text);
    let sections: Vec<String> = errors.list.iter().map(|l| word(text, l.section)).collect();
    assert_eq!(sections, ["a", "a", "a", "a", "a", "b"]);
    assert_eq!(errors.list[3].section.start, 31);
}

#[test]
fn after_and_cycles() {
    let c = ok("[a]\nexec=/bin/a\nafter = c, b\n[b]\nexec=/bin/b\n[c]\nexec=/bin/c\nafter=b\n[d]\nexec=/bin/d\nafter = ,a,,b  c,");
    let masks: Vec<u64> = c.defs.iter().map(|d| d.after).collect();
    assert_eq!(masks, [0b110, 0, 0b010, 0b111]);
    // after may name a later service; a duplicate's own after is not used.
    let cyc = "[a]\nexec=/bin/a\nafter=c\n[b]\nexec=/bin/b\nafter=a\n[c]\nexec=/bin/c\nafter=b\n[d]\nexec=/bin/d\nafter=d e\n[x]\nexec=/bin/x\nafter=y\n[y]\nexec=/bin/y\nafter=x";
    assert_eq!(
        errs(cyc),
        [e(12, Error::AfterSelf, "d"), e(12, Error::UnknownAfter, "e"), e(3, Error::Cycle, "c"), e(15, Error::Cycle, "y")]
    );
}

#[test]
fn env_files() {
    let mut f = Fake::new();
    f.add(b"/e", b"A=1\n  # indented comment\n\t\nB = 2\nC=3\r\nbad line\n=x\nA=4\nD=\n");
    let text = "[a]\nexec=/bin/a\nenv = C=0\nenv_file = /e\nenv = Z=9\n";
    let (c, errors) = run_with(text, &mut f);
    let got: Vec<_> = errors.list.iter().map(|l| (l.line, l.error, l.file_line, l.span)).collect();
    assert_eq!(
        got,
        [
            (4, Error::EnvFileLine, 4, Span::default()),
            (4, Error::EnvFileLine, 6, Span::default()),
            (4, Error::EnvFileLine, 7, Span::default())
        ]
    );
    // Messages name the env_file line, never its contents.
    let all = messages(text, &errors);
    assert_eq!(all.lines().next(), Some("svc: /etc/svc.conf:4: [a] env_file line 4: env_file line is not KEY=value or a comment"));
    assert!(!all.contains("bad line") && !all.contains("B = 2"), "{all}");
    // The good lines are still read.
    assert_eq!(env(&c, &c.defs[0]), ["C=3", "A=4", "D=", "Z=9", DEFAULT_PATH_ENTRY, "SVC_SERVICE=a"]);

    for (fail, want) in [
        (FileError::Unsafe, Error::EnvFileUnsafe),
        (FileError::TooBig, Error::EnvFileTooBig),
        (FileError::Os(13), Error::EnvFileUnreadable),
        (FileError::NotRegular, Error::EnvFileNotRegular),
    ] {
        let mut f = Fake::new();
        f.fail(b"/e", fail);
        assert_eq!(errs_with("[a]\nexec=/bin/a\nenv_file=/e", &mut f), [e(3, want, "/e")]);
    }
    assert_eq!(errs("[a]\nexec=/bin/a\nenv_file=/missing"), [e(3, Error::EnvFileUnreadable, "/missing")]);
    // A NUL in an env_file line is a bad line too.
    let mut f = Fake::new();
    f.add(b"/e", b"A=x\0y\n");
    let (_, errors) = run_with("[a]\nexec=/bin/a\nenv_file=/e", &mut f);
    assert_eq!(errors.list.iter().map(|l| (l.error, l.file_line)).collect::<Vec<_>>(), [(Error::EnvFileLine, 1)]);
}

#[test]
fn passwd_errors() {
    let mut f = Fake::new();
    f.fail(b"/etc/passwd", FileError::Os(2));
    assert_eq!(errs_with("[a]\nexec=/bin/a\nuser=www", &mut f), [e(3, Error::PasswdUnreadable, "www")]);
    // A numeric user needs no passwd: its gid stays unset.
    let (c, errors) = run_with("[a]\nexec=/bin/a\nuser=33", &mut f);
    assert!(errors.is_empty());
    assert_eq!((c.defs[0].uid, c.defs[0].gid), (Some(33), None));

    let mut f = Fake::new();
    f.fail(b"/etc/group", FileError::Unsafe);
    assert_eq!(errs_with("[a]\nexec=/bin/a\nuser=www", &mut f), [e(3, Error::PasswdUnreadable, "www")]);
    assert_eq!(errs_with("[a]\nexec=/bin/a\ngroup=www", &mut f), [e(3, Error::PasswdUnreadable, "www")]);
    assert_eq!(errs_with("[svc]\ncontrol_group=adm", &mut f), [e(2, Error::PasswdUnreadable, "adm")]);
    assert!(errs_with("[svc]\ncontrol_group=4", &mut f).is_empty());

    // More groups than MAX_GROUPS.
    let mut f = Fake::new();
    let mut groups = String::new();
    for i in 0..20 {
        groups.push_str(&format!("g{i}:x:{}:www\n", 100 + i));
    }
    groups.push_str("dup:x:100:www\n");
    f.add(b"/etc/group", groups.as_bytes());
    assert_eq!(errs_with("[a]\nexec=/bin/a\nuser=www", &mut f), [e(3, Error::TooManyGroups, "www")]);
    let mut f = Fake::new();
    f.add(b"/etc/group", b"a:x:5:www\nb:x:5:www\nc:x:6:www\n");
    let (c, errors) = run_with("[a]\nexec=/bin/a\nuser=www", &mut f);
    assert!(errors.is_empty());
    assert_eq!(c.groups(c.defs[0].groups), [5, 6]);
}

#[test]
fn capacities() {
    // Services: the 65th is reported at its header, the rest still parse.
    let mut text = String::new();
    for i in 0..=MAX_SERVICES {
        text.push_str(&format!("[s{i}]\nexec = /bin/x\nlog = null\n"));
    }
    let (c, _) = run(&text);
    assert_eq!(c.defs.len(), MAX_SERVICES);
    assert_eq!(errs(&text), [e(3 * MAX_SERVICES as u32 + 1, Error::TooManyServices, "s64")]);

    // Exec words.
    let many = (0..MAX_ARGS).map(|i| format!("a{i}")).collect::<Vec<_>>().join(" ");
    assert_eq!(errs(&format!("[s]\nexec = /bin/x {many}\n")), [e(2, Error::TooManyArgs, "a31")]);

    // Environment: PATH and SVC_SERVICE count too.
    let mut text = String::from("[s]\nexec = /bin/x\n");
    for i in 0..MAX_ENV - 1 {
        text.push_str(&format!("env = K{i}=v\n"));
    }
    assert_eq!(errs(&text), [e(1, Error::TooManyEnv, "")]);
    text.push_str("env = K63=v\nenv = K64=v\n");
    assert_eq!(errs(&text), [e(3 + MAX_ENV as u32, Error::TooManyEnv, "K64"), e(1, Error::TooManyEnv, "")]);
    let mut text = String::from("[s]\nexec = /bin/x\nenv = PATH=/bin\n");
    for i in 0..MAX_ENV - 2 {
        text.push_str(&format!("env = K{i}=v\n"));
    }
    let c = ok(&text);
    assert_eq!(c.list(c.defs[0].env).len(), MAX_ENV);
    let mut f = Fake::new();
    let big: String = (0..MAX_ENV + 5).map(|i| format!("K{i}=v\n")).collect();
    f.add(b"/e", big.as_bytes());
    let (_, errors) = run_with("[s]\nexec=/bin/x\nenv_file=/e", &mut f);
    assert_eq!(
        errors.list.iter().map(|l| (l.line, l.error, l.file_line)).collect::<Vec<_>>(),
        [(3, Error::TooManyEnv, MAX_ENV as u32 + 1), (1, Error::TooManyEnv, 0)]
    );

    // The arena, filled through an env_file that 5 services share: reported
    // once, no panic.
    let mut f = Fake::new();
    let big: String = (0..60).map(|i| format!("K{i}={}\n", "v".repeat(250))).collect();
    f.add(b"/e", big.as_bytes());
    let text: String = (0..6).map(|i| format!("[s{i}]\nexec = /bin/x\nenv_file = /e\n")).collect();
    let got = errs_with(&text, &mut f);
    assert_eq!(got, [e(15, Error::ArenaFull, "")]);
    let long = "x".repeat(4000);
    let text: String = (0..15).map(|i| format!("[s{i}]\nexec = /bin/x {long}\nenv_file = /e\n")).collect();
    let got = errs_with(&text, &mut f);
    assert_eq!(got.iter().map(|g| g.1).collect::<Vec<_>>(), [Error::ArenaFull]);

    // The ring pool: 64 × 4k fits; one more 1k ring does not.
    let mut text = String::new();
    for i in 0..MAX_SERVICES {
        text.push_str(&format!("[s{i}]\nexec = /bin/x\n"));
    }
    ok(&text);
    let text = text.replace("[s9]\nexec = /bin/x\n", "[s9]\nexec = /bin/x\nlog = ring:5k\n");
    // Reported on the service that crosses the line: the last, at its header.
    assert_eq!(errs(&text), [e(128, Error::RingPoolFull, "")]);
    let text = "[a]\nexec=/bin/a\nlog=ring:200k\n[b]\nexec=/bin/b\n[c]\nexec=/bin/c\nlog=ring:60k\n";
    assert_eq!(errs(text), [e(8, Error::RingPoolFull, "")]);

    // Lines and files.
    let text = format!("[a]\nexec=/bin/a\nenv = X={}\n", "y".repeat(5000));
    assert_eq!(errs(&text), [e(3, Error::LineTooLong, "")]);
    let text = format!("# {}\n", "y".repeat(70 * 1024));
    assert_eq!(errs(&text), [e(0, Error::ConfigTooBig, "")]);
}

#[test]
fn too_many_errors_are_counted() {
    let text: String = (0..100).map(|i| format!("k{i} = v\n")).collect();
    let (_, errors) = run(&text);
    assert_eq!(errors.list.len(), crate::limits::MAX_ERRORS);
    assert_eq!(errors.more, 100 - crate::limits::MAX_ERRORS as u32);
}

#[test]
fn emit_golden() {
    let text = "[svc]\ncontrol = x\n\n[web]\nexce = /bin/x\nstable = 5x\nready = fd:1\n";
    let (_, errors) = run(text);
    assert_eq!(
        messages(text, &errors),
        "svc: /etc/svc.conf:2: [svc] the path must be absolute 'x'\n\
         svc: /etc/svc.conf:5: [web] unknown key 'exce' (did you mean 'exec'?)\n\
         svc: /etc/svc.conf:6: [web] bad duration '5x' (use 250ms, 10s, 5m or 1h)\n\
         svc: /etc/svc.conf:7: [web] ready fd must be 3 or more 'fd:1'\n\
         svc: /etc/svc.conf:4: [web] missing 'exec'\n"
    );
    let l = Located { line: 0, section: Span::default(), span: Span::default(), error: Error::ConfigTooBig, file_line: 0, hint: None };
    let mut b = Buf::<128>::new();
    emit(b"/etc/svc.conf", b"", &l, &mut b);
    assert_eq!(b.as_bytes(), b"svc: /etc/svc.conf: config file too big\n");
    // A long word is cut; a span outside the text prints nothing.
    let long = format!("[a]\nexec = {}\n", "r".repeat(200));
    let (_, errors) = run(&long);
    let m = messages(&long, &errors);
    assert!(m.starts_with("svc: /etc/svc.conf:2: [a] the program must be an absolute path 'rrrr"), "{m}");
    assert!(m.ends_with("rrr...'\n") && m.len() < 200, "{m}");
    let l = Located {
        line: 1,
        section: Span { start: 99, len: 5 },
        span: Span { start: u32::MAX, len: u32::MAX },
        error: Error::BadName,
        file_line: 0,
        hint: None,
    };
    let mut b = Buf::<128>::new();
    emit(b"c", b"", &l, &mut b);
    assert_eq!(b.as_bytes(), b"svc: c:1: bad service name (1 to 31 of A-Z a-z 0-9 _ . -)\n");
    // Control bytes from the file are escaped, never sent to the terminal.
    let text = "[we\x1b]b]\nexec=/bin/a\n[a]\nexec = /bin/a\nstable = \x1b[2J\x07\0\n";
    let (_, errors) = run(text);
    assert_eq!(
        messages(text, &errors),
        "svc: /etc/svc.conf:1: [we\\x1b]b] bad service name 'we\\x1b]b' (1 to 31 of A-Z a-z 0-9 _ . -)\n\
         svc: /etc/svc.conf:5: [a] a NUL byte in a value '\\x1b[2J\\x07\\x00'\n"
    );
    // An env entry's value is never shown, nor is a secret in an env line.
    let text = "[a]\nexec = /bin/a\nenv = TOKEN-B=n3wv4lueB\n";
    let (_, errors) = run(text);
    assert_eq!(messages(text, &errors), "svc: /etc/svc.conf:3: [a] bad environment entry 'TOKEN-B' (use KEY=value)\n");
}

#[test]
fn texts_at_the_ends_of_the_table() {
    assert_eq!(Error::SyntaxLine.text(), "expected 'key = value', '[name]' or a comment");
    assert_eq!(Error::LogPathNotFile.text(), "the log path must name a file");
    assert_eq!(Error::ListenProto.text(), "bad listen address (use tcp:HOST:PORT, udp:HOST:PORT or unix:/PATH)");
    assert_eq!(Error::ListenPathTooLong.text(), "unix socket path too long (at most 107 bytes)");
    assert_eq!(Error::ListenOption.text().get(..19), Some("bad listen option ("));
    assert_eq!(Error::InetOnly.text(), "freebind applies to tcp and udp sockets only");
    assert_eq!(Error::from(crate::addr::Error::BadPort).text(), "bad port (1 to 65535)");
}
