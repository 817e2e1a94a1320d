//! How the supervisor applies a reload's plan: removed services stop,
//! changed ones restart, slots follow their new definitions, and added ones
//! get a slot: a free or vacated one, or, while every slot still holds a
//! stopping service, as soon as one is vacated. No syscalls.

use super::Supervisor;
use crate::config::Config;
use crate::duration::Instant;
use crate::order::bit;
use crate::pin::{Pin, Resolve};
use crate::reload::{Change, Plan, Step};
use crate::service::{Action, Actions, Service, State, Upgrade, Want, Why};

/// Definitions (bit i: `cfg.defs[i]`) a reload added that wait for a slot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Pending(pub u64);

impl Pending {
    pub const NONE: Pending = Pending(0);
    pub fn has(self, def: u8) -> bool {
        def < 64 && self.0 & bit(usize::from(def)) != 0
    }
}

impl Supervisor {
    /// Applies a reload: stops removed services, restarts changed ones that
    /// run, makes `new` the config in force, and moves every slot to its new
    /// definition. Fills in each step's slot. False when `new` could not be
    /// copied (the capacities are the same, so never).
    pub fn reload(&mut self, new: &mut Config, plan: &mut Plan, now: Instant, out: &mut Actions) -> bool {
        // Definitions still waiting for a slot belong to the old config.
        self.pending = Pending::NONE;
        for step in plan.steps.iter_mut() {
            step.slot = match step.change {
                Change::Added => crate::reload::NO_SLOT,
                _ => self.find(step.name()).unwrap_or(crate::reload::NO_SLOT),
            };
            let Supervisor { cfg, svcs, .. } = self;
            let Some(s) = svcs.get_mut(usize::from(step.slot)) else { continue };
            step.spawns = s.spawns;
            let Some(def) = Self::def_in(cfg, s) else { continue };
            match step.change {
                Change::Removed => {
                    s.want_down(def, now, out);
                    s.removed = true;
                }
                Change::Restarted if s.want == Want::Up && s.has_instance() => {
                    // A running service that keeps its sockets is upgraded
                    // (below): nothing is refused, and a new definition that
                    // fails leaves the old one serving.
                    let nd = new.defs.get(usize::from(step.def));
                    step.upgrade = def.listen.count > 0
                        && s.state() == State::Running
                        && nd.is_some_and(|nd| crate::reload::same_listens(cfg, def, new, nd, false));
                    if !step.upgrade {
                        s.stop(Why::Restart, def, now, out);
                    }
                }
                _ => {}
            }
        }
        // The old config goes to `new`'s place: a failed upgrade takes its
        // definition back from there (`restore`).
        self.cfg.swap(new);
        for step in plan.steps.iter() {
            match step.change {
                Change::Removed => {}
                Change::Added => self.pending.0 |= bit(usize::from(step.def)),
                change => {
                    let Supervisor { cfg, svcs, .. } = self;
                    let Some(s) = svcs.get_mut(usize::from(step.slot)) else { continue };
                    s.def = step.def;
                    if step.upgrade
                        && let Some(def) = cfg.defs.get(usize::from(step.def))
                    {
                        // Its generation rises when the new instance serves.
                        s.begin_upgrade(step.slot, false, true, Resolve::Fresh, def, now, out);
                        continue;
                    }
                    if change != Change::Kept {
                        s.generation = s.generation.wrapping_add(1);
                    }
                    if change == Change::Restarted {
                        // A new definition: its next start resolves afresh,
                        // and the releases of the old one are no way back.
                        s.pin = Pin::NONE;
                        // Its log target may have changed.
                        crate::service::emit(out, Action::Assigned { id: step.slot });
                    }
                }
            }
        }
        self.give_slots(out);
        true
    }

    /// Whether an upgrade begun by a reload is still under way (the config
    /// before that reload must then stay at hand).
    pub fn reload_upgrading(&self) -> bool {
        self.svcs.iter().any(|s| matches!(s.upgrade, Upgrade::Running { reload: true, .. }))
    }

    /// Gives each pending definition a slot: a vacated one first, else a new
    /// one. What finds none waits for the next stop to finish.
    pub(super) fn give_slots(&mut self, out: &mut Actions) {
        for def in 0..64u8 {
            if !self.pending.has(def) {
                continue;
            }
            let Some(d) = self.cfg.defs.get(usize::from(def)) else {
                self.pending.0 &= !bit(usize::from(def));
                continue;
            };
            let fresh = Service::fresh(def, d);
            let id = match self.svcs.iter().position(|s| s.is_vacant()) {
                Some(i) => {
                    if let Some(s) = self.svcs.get_mut(i) {
                        *s = fresh;
                    }
                    i
                }
                None if self.svcs.push(fresh).is_ok() => self.svcs.len() - 1,
                None => return,
            };
            self.pending.0 &= !bit(usize::from(def));
            crate::service::emit(out, Action::Assigned { id: id as u8 });
        }
    }

    /// Whether a step of a reload has an outcome to report yet: restarted
    /// and added services once their new instance is ready or has failed.
    pub fn settled(&self, step: &Step) -> bool {
        if step.change == Change::Added && self.pending.has(step.def) {
            return false;
        }
        let slot = match step.change {
            Change::Removed => return true,
            _ => self.find(step.name()),
        };
        let Some(s) = slot.and_then(|i| self.svcs.get(usize::from(i))) else { return true };
        if step.upgrade {
            return !matches!(s.upgrade, Upgrade::Running { .. });
        }
        match step.change {
            Change::Added | Change::Restarted => match s.state() {
                State::Starting | State::Stopping => false,
                State::Running => s.spawns > step.spawns || step.change == Change::Added,
                _ => true,
            },
            _ => true,
        }
    }
}
