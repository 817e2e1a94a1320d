//! Upgrades: a new instance beside the serving one, promoted once ready
//! (the old one drains), or stopped when it fails (the old one serves on);
//! without sockets a stop and a start. No syscalls.

use super::{Action, Actions, Exit};
use super::{Begin, Def, InstPhase, Instance, Instant, Note, Rest, Role, Service, Upgrade, Want, Why, emit, stop_instance};
use crate::pin::{self, Resolve};

impl Service {
    /// The slot of the instance with `role`.
    pub fn role(&self, role: Role) -> Option<usize> {
        self.inst.iter().position(|i| i.is_some_and(|i| i.role == role))
    }

    /// `svc upgrade` (and `svc restart`, with `restart`; `svc rollback`):
    /// a new instance on the same sockets beside the serving one, or (no
    /// sockets) a stop and a start; the new instance runs the release `how`
    /// says.
    pub fn begin_upgrade(
        &mut self,
        id: u8,
        restart: bool,
        reload: bool,
        how: Resolve,
        def: &Def,
        now: Instant,
        out: &mut Actions,
    ) -> Begin {
        if matches!(self.upgrade, Upgrade::Running { .. }) {
            return Begin::Busy;
        }
        self.pin.next = how;
        if self.want == Want::Down {
            return Begin::Stopped;
        }
        let Some(serving) = self.serving().filter(|i| matches!(i.phase, InstPhase::Ready { .. } | InstPhase::Starting { .. })) else {
            if self.has_instance() {
                // Stopping or spawning: no instance to overlap with.
                return Begin::Busy;
            }
            self.want_up(def);
            self.rest = Rest::Stopped;
            return Begin::Started;
        };
        let old = serving.pid;
        if def.listen.count == 0 {
            // Nothing to share: stop, then start. A restart is answered at once.
            self.stop(Why::Restart, def, now, out);
            if !restart {
                self.upgrades = self.upgrades.wrapping_add(1);
                self.upgrade = Upgrade::Running { old, restart, reload };
            }
            return Begin::Restart;
        }
        self.upgrades = self.upgrades.wrapping_add(1);
        self.upgrade = Upgrade::Running { old, restart, reload };
        let generation = self.generation.wrapping_add(u32::from(reload));
        if !self.claim(id, Role::New, generation, now, out) {
            self.upgrade = Upgrade::Idle;
            return Begin::Busy;
        }
        Begin::Overlap
    }

    /// A new instance that is ready serves; the old one drains (its stop
    /// signal, SIGKILL at its stop timeout).
    pub(super) fn promote(&mut self, def: &Def, now: Instant, out: &mut Actions) {
        let Some(k) = self.role(Role::New) else { return };
        if !matches!(self.inst.get(k), Some(Some(Instance { phase: InstPhase::Ready { .. }, .. }))) {
            return;
        }
        let mut old = 0;
        for i in self.inst.iter_mut().flatten() {
            if i.role == Role::Serving {
                old = i.pid;
                i.role = Role::Draining;
                stop_instance(i, Why::Stop, def, now, out);
            }
        }
        let mut new = 0;
        if let Some(Some(i)) = self.inst.get_mut(k) {
            i.role = Role::Serving;
            new = i.pid;
        }
        self.note = Note::None;
        self.rest = Rest::Stopped;
        let reload = matches!(self.upgrade, Upgrade::Running { reload: true, .. });
        if reload {
            self.generation = self.generation.wrapping_add(1);
        }
        self.pin.promote(reload);
        self.upgrade = Upgrade::Upgraded { old, new };
    }

    /// An upgrade without sockets (stop, then start) ends when the new
    /// serving instance is ready, or when its run failed.
    pub(super) fn check_upgrade(&mut self) {
        let Upgrade::Running { old, .. } = self.upgrade else { return };
        if self.role(Role::New).is_some() {
            return;
        }
        match self.serving() {
            Some(i) if i.pid != old && matches!(i.phase, InstPhase::Ready { .. }) => self.upgrade = Upgrade::Upgraded { old, new: i.pid },
            None if matches!(self.rest, Rest::Backoff { .. } | Rest::Failed) => self.upgrade = Upgrade::Failed { exit: self.last },
            _ => {}
        }
    }

    /// The new instance is gone before it served: the old one serves on
    /// (an upgrade rolls back); a restart starts afresh instead.
    pub(super) fn new_failed(&mut self, id: u8, exit: Option<Exit>, def: &Def, now: Instant, out: &mut Actions) {
        let restart = matches!(self.upgrade, Upgrade::Running { restart: true, .. });
        if let Upgrade::Running { reload: true, .. } = self.upgrade {
            // The old instance serves on: so does its definition.
            emit(out, Action::Restore { id });
        }
        self.upgrade = Upgrade::Failed { exit };
        self.note = Note::Upgrade { exit };
        self.pin.cand = pin::NONE;
        if restart && self.want == Want::Up {
            self.stop(Why::Restart, def, now, out);
        }
        if self.serving().is_none() && !self.has_instance() {
            // The serving one crashed meanwhile: the usual policy decides.
            self.after_run(false, None, now, now, def);
        }
    }
}
