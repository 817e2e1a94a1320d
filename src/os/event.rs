#![allow(unsafe_code)]
//! The epoll set svc sleeps in, and the one timerfd armed at the next deadline.

use crate::duration::Instant;
use crate::os::clock;
use crate::os::fd::borrowed;
use rustix::event::epoll;
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::time::{Itimerspec, TimerfdTimerFlags, Timespec};

pub use rustix::event::epoll::Event;

pub struct Events {
    epoll: OwnedFd,
    timer: OwnedFd,
    armed: Option<Instant>,
}

/// What an fd is watched for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    Read,
    Write,
}

fn flags(i: Interest) -> epoll::EventFlags {
    match i {
        Interest::Read => epoll::EventFlags::IN,
        Interest::Write => epoll::EventFlags::OUT,
    }
}

impl Events {
    /// `epoll_create1` and `timerfd_create(CLOCK_MONOTONIC)`, both close-on-exec.
    pub fn new() -> Result<Events, Errno> {
        use libc::c_long;
        // SAFETY: neither call has memory preconditions. (Raw syscalls:
        // musl's wrappers add fallbacks for kernels older than 2.6.27.)
        let epoll = crate::os::fd::owned(unsafe { libc::syscall(libc::SYS_epoll_create1, libc::EPOLL_CLOEXEC as c_long) } as i32)?;
        let flags = (libc::TFD_CLOEXEC | libc::TFD_NONBLOCK) as c_long;
        // SAFETY: as above.
        let timer =
            crate::os::fd::owned(unsafe { libc::syscall(libc::SYS_timerfd_create, libc::CLOCK_MONOTONIC as c_long, flags) } as i32)?;
        Ok(Events { epoll, timer, armed: None })
    }

    pub fn timer(&self) -> BorrowedFd<'_> {
        borrowed(&self.timer)
    }

    /// `epoll_ctl(ADD)`: watch `fd`, reporting `token`.
    pub fn add(&self, fd: BorrowedFd, token: u64, i: Interest) -> Result<(), Errno> {
        epoll::add(borrowed(&self.epoll), fd, epoll::EventData::new_u64(token), flags(i))
    }

    /// `epoll_ctl(MOD)`.
    pub fn modify(&self, fd: BorrowedFd, token: u64, i: Interest) -> Result<(), Errno> {
        epoll::modify(borrowed(&self.epoll), fd, epoll::EventData::new_u64(token), flags(i))
    }

    /// `epoll_ctl(DEL)`; closing the fd would do too, unless it was duplicated.
    pub fn remove(&self, fd: BorrowedFd) {
        let _ = epoll::delete(borrowed(&self.epoll), fd);
    }

    /// `timerfd_settime(TFD_TIMER_ABSTIME)`: one timer for the earliest
    /// deadline; disarmed when there is none, so that idle svc never wakes.
    pub fn arm(&mut self, deadline: Option<Instant>) {
        if deadline == self.armed {
            return;
        }
        let zero = Timespec { tv_sec: 0, tv_nsec: 0 };
        let value = match deadline {
            // 0 would disarm: a deadline at the clock's origin is 1 ns.
            Some(t) if t.as_millis() == 0 => Timespec { tv_sec: 0, tv_nsec: 1 },
            Some(t) => clock::timespec(t),
            None => zero,
        };
        let spec = Itimerspec { it_interval: zero, it_value: value };
        if rustix::time::timerfd_settime(borrowed(&self.timer), TimerfdTimerFlags::ABSTIME, &spec).is_ok() {
            self.armed = deadline;
        }
    }

    /// Reads the timer's expiry count so that it stops being readable.
    pub fn ack_timer(&mut self) {
        let mut b = [0u8; 8];
        let _ = rustix::io::read(borrowed(&self.timer), &mut b);
        self.armed = None;
    }

    /// `epoll_wait` with no timeout: sleeps until something happens.
    /// EINTR is zero events; any other error is the caller's to report.
    pub fn wait(&self, buf: &mut [Event]) -> Result<usize, Errno> {
        match epoll::wait(borrowed(&self.epoll), &mut *buf, None) {
            Ok(n) => Ok(n),
            Err(Errno::INTR) => Ok(0),
            Err(e) => Err(e),
        }
    }
}
