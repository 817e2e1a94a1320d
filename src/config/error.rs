//! What can be wrong with a config: each error's text, where it is
//! (`Located`), and one parse's list of them. No syscalls.

use super::{Span, empty};
use crate::limits::MAX_ERRORS;
use heapless::Vec;

/// Why a file could not be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FileError {
    /// The errno of open or read.
    Os(i32),
    /// Larger than the buffer for it.
    TooBig,
    /// Refused for its owner or mode (secrets checks, as root).
    Unsafe,
    /// Not a regular file (a FIFO could block svc forever).
    NotRegular,
}

crate::text::texts! {
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Error {
        SyntaxLine => "expected 'key = value', '[name]' or a comment",
        SectionSyntax => "bad section header (use [name])",
        BadName => "bad service name (1 to 31 of A-Z a-z 0-9 _ . -)",
        ReservedName => "the name 'svc' is reserved for supervisor settings",
        KeyOutsideSection => "key outside a section",
        UnknownKey => "unknown key",
        UnknownSvcKey => "unknown key in [svc]",
        DuplicateService => "duplicate service",
        DuplicateKey => "duplicate key",
        MissingExec => "missing 'exec'",
        EmptyValue => "empty value",
        BadDuration => "bad duration (use 250ms, 10s, 5m or 1h)",
        BadSize => "bad size (use 4096, 16k or 1M)",
        BadSignal => "bad signal (use a name such as TERM, or a number)",
        BadBool => "bad value (use yes or no)",
        BadRestart => "bad restart (use always, on-failure or never)",
        BadReady => "bad ready (use none, notify, delay:DURATION, fd:N or exec:COMMAND)",
        BadLog => "bad log (use ring:SIZE, file:PATH, console or null)",
        BadLogSize => "bad log_size (use 4k to 1024M)",
        BadLogKeep => "bad log_keep (use 1 to 9)",
        LogKeyWithoutFile => "unused key (log_size and log_keep are for log = file:PATH)",
        BadNumber => "bad number",
        BadQuote => "unterminated quote or dangling backslash",
        RelativeProgram => "the program must be an absolute path",
        RelativePath => "the path must be absolute",
        BadEnv => "bad environment entry (use KEY=value)",
        UnknownAfter => "'after' names an unknown service",
        AfterSelf => "a service cannot come after itself",
        Cycle => "'after' makes a cycle",
        UnknownUser => "unknown user",
        UnknownGroup => "unknown group",
        EnvFileUnreadable => "cannot read env_file",
        EnvFileTooBig => "env_file too big",
        EnvFileUnsafe => "env_file must be owned by root and not writable by group or others",
        EnvFileNotRegular => "env_file is not a regular file",
        EnvFileLine => "env_file line is not KEY=value or a comment",
        PasswdUnreadable => "cannot read /etc/passwd or /etc/group",
        TooManyServices => "too many services",
        TooManyArgs => "too many exec words",
        TooManyEnv => "too many environment entries",
        TooManyGroups => "too many groups",
        ArenaFull => "config strings exceed their arena",
        RingPoolFull => "log rings exceed the ring pool",
        ConfigTooBig => "config file too big",
        LineTooLong => "line too long",
        ReadyFdLow => "ready fd must be 3 or more",
        NulByte => "a NUL byte in a value",
        PathTooLong => "path too long (at most 1023 bytes)",
        ControlPathTooLong => "control socket path too long (at most 107 bytes)",
        BadHostname => "bad hostname (1 to 64 bytes, no blanks)",
        BadId => "bad id (uids and gids go up to 4294967294)",
        LogPathNotFile => "the log path must name a file",
        // A `listen` address that addr::parse refuses.
        ListenProto => "bad listen address (use tcp:HOST:PORT, udp:HOST:PORT or unix:/PATH)",
        ListenHost => "bad IP address (use 127.0.0.1, [::1], [::] or 0.0.0.0)",
        ListenPort => "bad port (1 to 65535)",
        ListenPath => "bad unix socket path (use unix:/absolute/path or unix:@name)",
        ListenPathTooLong => "unix socket path too long (at most 107 bytes)",
        ListenOption => "bad listen option (use name=NAME, backlog=N, mode=0660, owner=USER[:GROUP] or freebind)",
        TooManyListens => "too many listen sockets (8 per service, 64 in all)",
        ListenTwice => "address already listened on",
        ReadyFdListen => "ready fd collides with a listen socket (they take fds 3, 4, ...)",
        OnConnectNoListen => "start = on-connect needs a listen socket",
        UnixOnly => "mode and owner apply to unix sockets only",
        InetOnly => "freebind applies to tcp and udp sockets only",
        BadKillMode => "bad kill_mode (use group or mixed)",
        WatchdogNotify => "watchdog needs ready = notify",
        ProbeIntervalExec => "probe_interval needs ready = exec:COMMAND",
        BadOomScore => "oom_score_adj must be a number from -1000 to 1000",
    }
}

impl From<crate::addr::Error> for Error {
    fn from(e: crate::addr::Error) -> Self {
        use crate::addr::Error as A;
        match e {
            A::BadProto => Error::ListenProto,
            A::BadHost => Error::ListenHost,
            A::BadPort => Error::ListenPort,
            A::BadPath => Error::ListenPath,
            A::PathTooLong => Error::ListenPathTooLong,
        }
    }
}

/// A config error and where it is: a line of the config text and a span of
/// that text (the word it is about; empty for none).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Located {
    pub line: u32,
    /// The section's name in the config text (empty outside a section).
    pub section: Span,
    /// The offending word in the config text (never a secret: env_file
    /// values are not in the config text).
    pub span: Span,
    pub error: Error,
    /// For env_file errors: the line in the env_file (0 otherwise).
    pub file_line: u32,
    /// A known key close to an unknown one.
    pub hint: Option<&'static str>,
}

/// Every error of one parse; past MAX_ERRORS they are only counted.
#[derive(Debug, Default)]
pub struct Errors {
    pub list: Vec<Located, MAX_ERRORS>,
    pub more: u32,
}

impl Errors {
    pub const fn new() -> Self {
        Errors { list: Vec::new(), more: 0 }
    }
    /// Empties the list, writing only what is not empty already.
    pub fn clear(&mut self) {
        empty(&mut self.list);
        if self.more != 0 {
            self.more = 0;
        }
    }
    pub fn push(&mut self, e: Located) {
        if self.list.push(e).is_err() {
            self.more = self.more.saturating_add(1);
        }
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_empty() && self.more == 0
    }
}
